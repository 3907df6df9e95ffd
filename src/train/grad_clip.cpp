#include "train/grad_clip.hpp"

namespace anchorsweep {

torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& parameters, double max_norm) {
  std::vector<torch::Tensor> grads;  // dense gradients, or a sparse gradient's values
  for (const auto& p : parameters) {
    if (!p.grad().defined()) continue;
    if (p.grad().is_sparse()) {
      // Summed per row first (coalesce): the norm is that of the dense gradient it stands for.
      if (!p.grad().is_coalesced()) p.mutable_grad() = p.grad().coalesce();
      grads.push_back(p.grad()._values());
    } else {
      grads.push_back(p.grad());
    }
  }
  if (grads.empty()) return torch::zeros({});
  std::vector<torch::Tensor> norms;
  norms.reserve(grads.size());
  for (const auto& g : grads) norms.push_back(g.norm(2));
  // ‖g‖₂ = ‖(‖g₁‖₂, …, ‖gₙ‖₂)‖₂: the norm of the per-tensor norms.
  auto total = norms.size() == 1 ? norms[0] : torch::stack(norms).norm(2);
  auto coef = torch::clamp_max(max_norm / (total + 1e-6), 1.0);
  torch::NoGradGuard no_grad;
  for (auto& g : grads) g.mul_(coef);
  return total;
}

}  // namespace anchorsweep
