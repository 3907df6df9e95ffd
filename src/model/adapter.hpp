// The anchored adapter: logits' = W [old logits ; summary] + b, W of shape K x (K + Hs).
//
// G adapters of one seed are stacked, W: [G, K, D], b: [G, K], and applied to the same
// features X: [N, D] with one batched matrix product. G = 1 runs through the same kernel,
// so a fused trial computes exactly what it computes alone.
#pragma once

#include <torch/torch.h>

#include <string>

#include "config/config.hpp"

namespace anchorsweep {

// The anchor A, [K, D]: identity = [I_K | 0] (the adapter passes the old logits through
// unchanged), zeros, or a [K, D] tensor from a file written by torch::pickle_save / torch.save
// of a single tensor. Throws InputError naming the file when its shape is wrong.
torch::Tensor make_anchor(const AnchorSpec& anchor, int64_t num_classes, int64_t feature_dim);

// logits [G, N, K] = b + X Wᵀ, batched over G.
torch::Tensor adapter_forward(const torch::Tensor& X, const torch::Tensor& W, const torch::Tensor& b);

// Initial weights of G adapters: at the anchor, or random like a fresh torch Linear layer,
// U(-1/sqrt(D), 1/sqrt(D)), drawn from `seed` so every λ of a seed starts from the same W.
void init_adapters(AdapterInit init, const torch::Tensor& anchor, int64_t G, uint64_t seed,
                   torch::Tensor& W, torch::Tensor& b);

}  // namespace anchorsweep
