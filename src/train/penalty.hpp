// Penalty: the anchor's pull on the adapter.
//
//   loss mode:       L_g = CE_g + λ_g ‖W_g − A‖²_F  (+ λ_g ‖b_g‖² when the bias is penalised)
//                    ∂/∂W_g of the penalty = 2 λ_g (W_g − A)
//   decoupled mode:  after each optimizer step, W_g ← W_g − lr_g λ_g (W_g − A)   (AdamW-style:
//                    the pull does not pass through Adam's per-coordinate scaling)
#pragma once

#include <torch/torch.h>

namespace anchorsweep {

// λ_g ‖W_g − A‖²_F (+ λ_g ‖b_g‖²), one value per adapter: [G]. W: [G, K, D], A: [K, D],
// lambdas: [G]. Differentiable in W and b.
torch::Tensor penalty(const torch::Tensor& W, const torch::Tensor& b, const torch::Tensor& anchor,
                      const torch::Tensor& lambdas, bool penalize_bias);

// ‖W_g − A‖_F per adapter: [G].
torch::Tensor distance_to_anchor(const torch::Tensor& W, const torch::Tensor& anchor);

// The decoupled update, in place and outside autograd. lrs: [G].
void decoupled_pull(torch::Tensor& W, torch::Tensor& b, const torch::Tensor& anchor,
                    const torch::Tensor& lambdas, const torch::Tensor& lrs, bool penalize_bias);

}  // namespace anchorsweep
