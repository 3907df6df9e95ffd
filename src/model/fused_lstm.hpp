// FusedLstm: a one-layer, one-direction LSTM over a padded batch of variable-length sentences,
// on the CPU, with its backward written out by hand. It computes the function of
// nn::LSTM on pack_padded_sequence (same weights, same gate order i, f, g, o, zero initial
// state, outputs zero past each sentence's end), but where ATen's packed LSTM records about
// twenty autograd nodes and two small matrix products per time step, and accumulates the
// weights' gradients step by step, this does per step one matrix product forward and one
// backward, and everything that does not depend on the previous step as one large product over
// all steps (cuDNN's plan), on the real tokens only (a packed sequence's layout, N = Σ lengths
// rows; padding computes nothing):
//
//   forward   G = X W_ihᵀ + b_ih + b_hh                        one [N, E] x [E, 4H] product
//             for t: G_t += h_{t−1} W_hhᵀ  (the b_t sentences still running)
//                    i, f, g, o = σ(G_i), σ(G_f), tanh(G_g), σ(G_o)
//                    c_t = f c_{t−1} + i g,  h_t = o tanh(c_t)
//   backward  for t = L−1 … 0:  dh = ∂h_t + dh_{t+1→t},  dc = dh o (1 − tanh² c_t) + dc_{t+1} f_{t+1}
//                    dG = [dc g i(1−i), dc c_{t−1} f(1−f), dc i (1−g²), dh tanh c_t o(1−o)]
//                    dh_{t→t−1} = dG W_hh
//             dW_hh = Σ_t dG_tᵀ h_{t−1},  dW_ih = Σ_t dG_tᵀ x_t,  db = Σ_t dG_t,  dX = dG W_ih
//             (the sums over t as single products over all steps)
//
// Results equal ATen's within float rounding (the sums run in another order); tests/model_test
// compares outputs and every gradient.
#pragma once

#include <torch/torch.h>

namespace anchorsweep {

struct FusedLstmOutput {
  torch::Tensor h;     // [B, L, H]: h_t of each sentence, zero past its end
  torch::Tensor last;  // [B, H]: h at each sentence's last token
};

// x [B, L, E] float on the CPU; lengths [B] int64 on the CPU, each in 1..L.
FusedLstmOutput fused_lstm(const torch::Tensor& x, const torch::Tensor& lengths, const torch::Tensor& w_ih,
                           const torch::Tensor& w_hh, const torch::Tensor& b_ih, const torch::Tensor& b_hh);

}  // namespace anchorsweep
