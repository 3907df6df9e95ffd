// StackedOptimizer: Adam or SGD over G stacked adapters, each with its own learning rate and
// its own gradient clipping, so G trials trained together behave exactly as G trained apart.
//
// Adam, per element:  m ← β1 m + (1−β1) g;   v ← β2 v + (1−β2) g²
//                     θ ← θ − lr_g · m̂ / (√v̂ + ε),   m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ)
// Clipping, per adapter g: if ‖(∇W_g, ∇b_g)‖ > c, scale both by c / ‖·‖.
#pragma once

#include <torch/torch.h>

#include <string>

#include "config/config.hpp"

namespace anchorsweep {

class StackedOptimizer {
 public:
  StackedOptimizer(Optimizer kind, torch::Tensor lrs, double grad_clip);

  // One update of W [G, K, D] and b [G, K] from their .grad(); then zeroes the grads.
  void step(torch::Tensor& W, torch::Tensor& b);

  torch::Tensor& lrs() { return lrs_; }  // [G]; lr decay edits it per trial

 private:
  Optimizer kind_;
  torch::Tensor lrs_;
  double clip_;
  int64_t t_ = 0;
  torch::Tensor mW_, vW_, mb_, vb_;
};

}  // namespace anchorsweep
