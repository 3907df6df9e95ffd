// DeviceAdam: torch::optim::Adam's update for all parameters at once, with every number it
// needs from one step to the next kept on the parameters' device.
//
// LibTorch's Adam walks the parameters one by one (about seven kernels each) and computes its
// bias corrections 1 − β1ᵗ and 1 − β2ᵗ on the host from a host step count. On a GPU that is
// ~7·P kernel launches a step, and a CUDA graph that captured it would replay the step count and
// corrections of the step it captured, forever. Here the moments are two flat buffers over all
// parameters, the step count t and the learning rate are 0-dim tensors on the device, and a step is
// a fixed handful of kernels whatever the number of parameters:
//   g = [g_1; …; g_P]                        (one concatenation)
//   t ← t + 1;  c1 = 1 − β1ᵗ;  c2 = 1 − β2ᵗ   (on the device)
//   m ← β1 m + (1−β1) g;   v ← β2 v + (1−β2) g²
//   θ ← θ − (lr / c1) · m / (√v / √c2 + ε)   (one multi-tensor add into the parameters)
// Nothing reads the device and no host value changes between steps, so a captured step replays
// correctly. The learning rate is the one exception, as it changes between epochs (lr_decay):
// step() copies it to the device when the options changed, and a graph's owner calls sync_lr()
// before each replay.
//
// Semantics: as torch's Adam without weight decay or AMSGrad, except that a parameter without a
// gradient takes the step with a zero gradient (torch's Adam skips it): in a classifier's
// training every parameter has one. All parameters share one float dtype and one device.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace anchorsweep {

class DeviceAdam : public torch::optim::Adam {
 public:
  DeviceAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options);

  torch::Tensor step(LossClosure closure = nullptr) override;
  // Copies the options' learning rate to the device if it changed (a kernel, no wait).
  void sync_lr();

  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

 private:
  std::vector<torch::Tensor> params_;
  std::vector<int64_t> sizes_;  // numel of each parameter, in order
  torch::Tensor m_, v_;         // flat moments [Σ numel]
  torch::Tensor t_, lr_;        // 0-dim double on the device: steps taken, learning rate
  double lr_host_ = -1;
  double beta1_, beta2_, eps_;
};

}  // namespace anchorsweep
