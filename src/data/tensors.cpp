#include "data/tensors.hpp"

#include <algorithm>

namespace anchorsweep {

Batch Batch::to(const torch::Device& device) const {
  return Batch{tokens.to(device),   lengths.to(device), mask.to(device), subj_pos.to(device),
               obj_pos.to(device), labels.to(device),  host_lengths.defined() ? host_lengths : lengths.cpu()};
}

RowIndex row_range(int64_t begin, int64_t n, const torch::Device& device) {
  return RowIndex(torch::arange(begin, begin + n, torch::kLong),
                  torch::arange(begin, begin + n, torch::TensorOptions(torch::kLong).device(device)));
}

EncodedSplit EncodedSplit::to(const torch::Device& device) const {
  EncodedSplit out = *this;
  out.all = all.to(device);
  return out;
}

int64_t relative_position(int64_t i, int64_t start, int64_t end) {
  if (start < 0) return 0;
  if (i < start) return i - start;
  if (i > end) return i - end;
  return 0;
}

EncodedSplit encode(const Split& split, const Vocabulary& vocab, const Corpus& corpus,
                    bool entity_masking) {
  const int64_t n = static_cast<int64_t>(split.examples.size());
  int64_t max_len = 1;
  for (const auto& ex : split.examples)
    max_len = std::max<int64_t>(max_len, static_cast<int64_t>(ex.tokens.size()));
  auto tokens = torch::zeros({n, max_len}, torch::kLong);
  auto subj = torch::full({n, max_len}, kMaxDistance, torch::kLong);
  auto obj = torch::full({n, max_len}, kMaxDistance, torch::kLong);
  auto lengths = torch::zeros({n}, torch::kLong);
  auto labels = torch::zeros({n}, torch::kLong);
  auto t = tokens.accessor<int64_t, 2>();
  auto sp = subj.accessor<int64_t, 2>();
  auto op = obj.accessor<int64_t, 2>();
  auto lens = lengths.accessor<int64_t, 1>();
  auto ys = labels.accessor<int64_t, 1>();
  EncodedSplit out;
  out.name = split.name;
  for (int64_t r = 0; r < n; ++r) {
    const Example& ex = split.examples[r];
    auto words = model_tokens(ex, entity_masking);
    const int64_t len = static_cast<int64_t>(words.size());
    lens[r] = len;
    auto clamp = [](int64_t d) { return std::clamp(d, -kMaxDistance, kMaxDistance) + kMaxDistance; };
    for (int64_t i = 0; i < len; ++i) {
      t[r][i] = vocab.id(words[i]);
      sp[r][i] = clamp(relative_position(i, ex.subj_start, ex.subj_end));
      op[r][i] = clamp(relative_position(i, ex.obj_start, ex.obj_end));
    }
    int64_t y = corpus.label_index(ex.label);
    ys[r] = y;
    out.gold.push_back(y);
  }
  auto mask = torch::arange(max_len).unsqueeze(0) < lengths.unsqueeze(1);
  out.all = Batch{tokens, lengths, mask, subj, obj, labels, lengths};
  return out;
}

namespace {
// The longest of some host lengths, at least 1: a batch's padded width.
int64_t longest(const torch::Tensor& host_lengths) {
  const auto l = host_lengths.contiguous();
  const int64_t* p = l.data_ptr<int64_t>();
  return std::max<int64_t>(1, l.numel() ? *std::max_element(p, p + l.numel()) : 1);
}
}  // namespace

int64_t EncodedSplit::width_of(const torch::Tensor& host_index) const {
  return longest(all.host_lengths.index_select(0, host_index));
}

Batch EncodedSplit::rows(const RowIndex& index, int64_t width) const {
  auto host_lengths = all.host_lengths.index_select(0, index.host);
  const int64_t len = width > 0 ? width : longest(host_lengths);
  const auto idx = index.device.to(device());  // already there in the training loops
  auto cut = [&](const torch::Tensor& x) { return x.index_select(0, idx).narrow(1, 0, len); };
  return Batch{cut(all.tokens),   all.lengths.index_select(0, idx), cut(all.mask), cut(all.subj_pos),
               cut(all.obj_pos), all.labels.index_select(0, idx),  host_lengths};
}

std::vector<int64_t> shuffled_order(int64_t n, uint64_t seed, int64_t epoch) {
  // splitmix64 driving a Fisher-Yates shuffle: std::shuffle's algorithm is library-defined.
  uint64_t state = seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch) * 0xBF58476D1CE4E5B9ULL;
  auto next = [&state]() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[next() % static_cast<uint64_t>(i + 1)]);
  return order;
}

EpochOrder::EpochOrder(int64_t n, uint64_t seed, int64_t epoch, const torch::Device& device) {
  auto order = shuffled_order(n, seed, epoch);
  host = torch::from_blob(order.data(), {n}, torch::kLong).clone();
  this->device = host.to(device);
}

}  // namespace anchorsweep
