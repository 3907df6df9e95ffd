#include "train/buckets.hpp"

#include <algorithm>
#include <utility>

namespace anchorsweep {

std::vector<int64_t> bucket_widths(const torch::Tensor& host_lengths, int64_t count) {
  std::vector<int64_t> lengths(host_lengths.data_ptr<int64_t>(), host_lengths.data_ptr<int64_t>() + host_lengths.numel());
  std::sort(lengths.begin(), lengths.end());
  std::vector<int64_t> widths;
  if (lengths.empty() || count <= 0) return widths;
  const int64_t n = static_cast<int64_t>(lengths.size());
  for (int64_t i = 1; i <= count; ++i) {
    const int64_t at = std::min(n - 1, (i * n + count - 1) / count - 1);  // the i/count quantile
    widths.push_back(std::max<int64_t>(1, lengths[at]));
  }
  widths.back() = std::max<int64_t>(1, lengths.back());
  std::sort(widths.begin(), widths.end());
  widths.erase(std::unique(widths.begin(), widths.end()), widths.end());
  return widths;
}

int64_t bucket_width(const std::vector<int64_t>& widths, int64_t width) {
  for (int64_t w : widths)
    if (w >= width) return w;
  return widths.empty() ? width : std::max(width, widths.back());
}

PaddedRows pad_rows(const RowIndex& idx, int64_t size) {
  const int64_t n = idx.host.numel();
  PaddedRows p{idx, torch::ones({std::max(n, size)}, torch::TensorOptions().device(idx.device.device())), n};
  if (n >= size || n == 0) return p;
  auto pad_host = idx.host.narrow(0, 0, 1).expand({size - n});
  auto pad_device = idx.device.narrow(0, 0, 1).expand({size - n});
  p.index = RowIndex(torch::cat({idx.host, pad_host}), torch::cat({idx.device, pad_device}));
  p.weights.narrow(0, n, size - n).zero_();
  return p;
}

namespace {
// Σ w_i CE(logits_i, y_i), and the weights in the loss's dtype.
std::pair<torch::Tensor, torch::Tensor> weighted_ce_sum(const torch::Tensor& logits, const torch::Tensor& labels,
                                                        const torch::Tensor& weights) {
  namespace F = torch::nn::functional;
  const auto each = F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().reduction(torch::kNone));
  const auto w = weights.to(each.dtype());
  return {(each * w).sum(), w};
}
}  // namespace

torch::Tensor weighted_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& weights,
                                     int64_t n_real) {
  return weighted_ce_sum(logits, labels, weights).first / static_cast<double>(n_real);
}

torch::Tensor weighted_correct(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& weights) {
  auto right = logits.detach().argmax(1).eq(labels).to(torch::kFloat);
  return (weights.defined() ? right * weights.to(torch::kFloat) : right).sum();
}

torch::Tensor weighted_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& weights) {
  const auto [sum, w] = weighted_ce_sum(logits, labels, weights);
  return sum / w.sum();
}

}  // namespace anchorsweep
