// Length buckets and padded batches: static shapes for a training step (pretrain.length_buckets).
//
// A CUDA graph replays one fixed sequence of kernels on fixed shapes. So the step pads every
// batch to one of a few widths, chosen once from the training split's sentence lengths, and the
// last partial batch to the full batch size with copies of a real row that weigh nothing:
//   loss = Σ_i w_i · CE(logits_i, y_i) / n,   w_i = 1 for the n real rows, 0 for padding.
// A padded row's loss has weight 0, so nothing flows back from it: the gradient equals that of
// the n real rows' mean loss. Padded positions (columns past a sentence's end) give none either:
// the LSTM stops at each sentence's length, attention masks them, and the embedding's padding row
// takes no gradient.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "data/tensors.hpp"

namespace anchorsweep {

// `count` widths at the quantiles 1/count, 2/count, ..., 1 of `host_lengths` (int64, CPU), sorted
// and distinct; the last is the longest sentence, so every batch fits one.
std::vector<int64_t> bucket_widths(const torch::Tensor& host_lengths, int64_t count);

// The smallest width in `widths` that holds `width` (the last one when none does).
int64_t bucket_width(const std::vector<int64_t>& widths, int64_t width);

// `idx` grown to `size` rows by repeating its first row, with each row's loss weight.
struct PaddedRows {
  RowIndex index;
  torch::Tensor weights;  // float [size] on the index's device: 1 real, 0 padding
  int64_t real = 0;
};
PaddedRows pad_rows(const RowIndex& idx, int64_t size);

// Σ w_i CE(logits_i, y_i) / n_real.
torch::Tensor weighted_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& weights,
                                     int64_t n_real);
// Σ w_i [argmax logits_i = y_i] on the device: the correctly classified real rows (weights
// undefined: every row counts).
torch::Tensor weighted_correct(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& weights);

// Σ w_i CE(logits_i, y_i) / Σ w_i, all on the device (n_real = Σ w_i, read nowhere): what a CUDA
// graph captures, where a host n would be frozen at the captured step's.
torch::Tensor weighted_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& weights);

}  // namespace anchorsweep
