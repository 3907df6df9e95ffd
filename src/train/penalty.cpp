#include "train/penalty.hpp"

namespace anchorsweep {

torch::Tensor penalty(const torch::Tensor& W, const torch::Tensor& b, const torch::Tensor& anchor,
                      const torch::Tensor& lambdas, bool penalize_bias) {
  auto sq = (W - anchor.unsqueeze(0)).pow(2).sum({1, 2});  // ‖W_g − A‖²_F
  if (penalize_bias) sq = sq + b.pow(2).sum(1);
  return lambdas * sq;
}

torch::Tensor distance_to_anchor(const torch::Tensor& W, const torch::Tensor& anchor) {
  return (W - anchor.unsqueeze(0)).pow(2).sum({1, 2}).sqrt();
}

void decoupled_pull(torch::Tensor& W, torch::Tensor& b, const torch::Tensor& anchor,
                    const torch::Tensor& lambdas, const torch::Tensor& lrs, bool penalize_bias) {
  torch::NoGradGuard no_grad;
  auto step = (lrs * lambdas).view({-1, 1, 1});
  W.sub_(step * (W - anchor.unsqueeze(0)));
  if (penalize_bias) b.sub_(step.view({-1, 1}) * b);
}

}  // namespace anchorsweep
