// Gradient clipping by global 2-norm without reading the norm back to the host.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace anchorsweep {

// Scales every gradient by min(1, max_norm / (‖g‖₂ + 1e-6)), where ‖g‖₂ is the 2-norm of all
// gradients together: torch::nn::utils::clip_grad_norm_ step for step (same tensors, same
// order, so bit-identical results), minus its closing .item(), which would make the host wait
// for the device once per step. Returns the norm as a device scalar. A sparse gradient is
// coalesced in place and counts (and is scaled) through its values.
torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& parameters, double max_norm);

}  // namespace anchorsweep
