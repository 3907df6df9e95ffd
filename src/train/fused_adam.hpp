// FusedAdam: torch::optim::Adam's update in one pass over each parameter, for float parameters
// on the CPU, that also takes sparse (row) gradients, such as a sparse embedding's.
//
// Per element, as torch's Adam (no weight decay, no AMSGrad) computes it:
//   m ← β1 m + (1−β1) g;   v ← β2 v + (1−β2) g²
//   θ ← θ − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
// torch runs that as seven tensor operations (seven passes over the parameter and its state);
// this reads θ, g, m, v once and writes θ, m, v once. The results equal Adam's within float
// rounding (the compiler may fuse a multiply and an add into one rounding).
//
// A sparse gradient names the rows it touches; every other row updates as with g = 0 (its m and
// v decay and θ still moves), exactly what Adam does on the dense gradient, which is zero there.
// So a sparse embedding gradient changes nothing in the arithmetic, only skips building and
// zeroing a dense [vocabulary, word_dim] gradient every step.
//
// The moments live here, not in Adam's state, and save()/load() write and read them (a
// checkpoint of this optimizer resumes into this optimizer).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace anchorsweep {

class FusedAdam : public torch::optim::Adam {
 public:
  FusedAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options);

  // Whether these parameters can use it: float, on the CPU, dense storage.
  static bool supports(const std::vector<torch::Tensor>& params);

  torch::Tensor step(LossClosure closure = nullptr) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 private:
  struct Moments {
    int64_t step = 0;
    torch::Tensor m, v;
  };
  std::vector<Moments> moments_;  // one per parameter, in param_groups order
  std::vector<int64_t> row_of_;   // scratch: row -> its row in a sparse gradient, or -1
};

}  // namespace anchorsweep
