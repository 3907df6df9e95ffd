#include "model/adapter.hpp"

#include "data/feature_files.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <fstream>
#include <iterator>

#include "config/config.hpp"

namespace anchorsweep {

torch::Tensor make_anchor(const AnchorSpec& anchor, int64_t K, int64_t D) {
  if (anchor.kind == AnchorKind::identity) {
    auto a = torch::zeros({K, D});
    a.narrow(1, 0, K).copy_(torch::eye(K));
    return a;
  }
  if (anchor.kind == AnchorKind::zeros) return torch::zeros({K, D});
  const std::string& spec = anchor.path;
  std::ifstream in(spec, std::ios::binary);
  if (!in) throw InputError(spec + ": adapter.anchor: cannot read the anchor tensor file");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // K x D float64 at most, and the archive's own bytes.
  check_pickle_file(spec, std::string(bytes.begin(), bytes.end()), "adapter.anchor",
                    static_cast<uint64_t>(K * D) * 8 + (uint64_t{1} << 20));
  torch::Tensor a;
  try {
    a = torch::pickle_load(bytes).toTensor();
  } catch (const std::exception& e) {
    throw InputError(spec + ": adapter.anchor: not a pickled tensor: " + std::string(e.what()).substr(0, 200));
  }
  if (a.dim() != 2 || a.size(0) != K || a.size(1) != D)
    throw InputError(spec + ": adapter.anchor: expected a " + std::to_string(K) + " x " +
                     std::to_string(D) + " tensor (K x (K + H)), got shape " + c10::str(a.sizes()));
  return a.to(torch::kFloat).contiguous();
}

torch::Tensor adapter_forward(const torch::Tensor& X, const torch::Tensor& W, const torch::Tensor& b) {
  const int64_t G = W.size(0);
  return torch::baddbmm(b.unsqueeze(1), X.unsqueeze(0).expand({G, X.size(0), X.size(1)}),
                        W.transpose(1, 2));
}

void init_adapters(AdapterInit init, const torch::Tensor& anchor, int64_t G, uint64_t seed,
                   torch::Tensor& W, torch::Tensor& b) {
  const int64_t K = anchor.size(0), D = anchor.size(1);
  if (init == AdapterInit::anchor) {
    W = anchor.unsqueeze(0).repeat({G, 1, 1});
    b = torch::zeros({G, K}, anchor.options());
  } else {
    // A generator of its own (public API; the same stream as the global CPU generator seeded
    // with `seed`), so the adapter's init never depends on what else drew random numbers.
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    const double bound = 1.0 / std::sqrt(static_cast<double>(D));
    auto w1 = torch::empty({K, D}).uniform_(-bound, bound, gen);
    auto b1 = torch::empty({K}).uniform_(-bound, bound, gen);
    W = w1.unsqueeze(0).repeat({G, 1, 1}).to(anchor.device());
    b = b1.unsqueeze(0).repeat({G, 1}).to(anchor.device());
  }
}

}  // namespace anchorsweep
