// A split as padded tensors, and batches cut from it. The only LibTorch types data/ hands out.
#pragma once

#include <torch/torch.h>

#include "data/example.hpp"
#include "data/vocab.hpp"

namespace anchorsweep {

// Relative positions are clamped to [-kMaxDistance, kMaxDistance] and shifted to be >= 0.
constexpr int64_t kMaxDistance = 100;
constexpr int64_t kNumPositions = 2 * kMaxDistance + 1;

struct Batch {
  torch::Tensor tokens;     // [B, L] int64, padded with Vocabulary::kPad
  torch::Tensor lengths;    // [B] int64
  torch::Tensor mask;       // [B, L] bool, true on real tokens
  torch::Tensor subj_pos;   // [B, L] int64 in [0, kNumPositions)
  torch::Tensor obj_pos;    // [B, L] int64
  torch::Tensor labels;     // [B] int64
  // The lengths again, always on the host: pack_padded_sequence takes CPU lengths, and reading
  // them back from a GPU every step would stall it. Undefined means "use lengths".
  torch::Tensor host_lengths;
  int64_t size() const { return tokens.size(0); }
  // Moves the tensors; host_lengths stay on the host.
  Batch to(const torch::Device& device) const;
};

// The rows of one batch, twice: on the data's device for index_select, and on the host, where
// the batch's lengths (and so its padded width) are looked up without a device round trip.
struct RowIndex {
  torch::Tensor host;    // int64 [B] on the CPU
  torch::Tensor device;  // the same values on the data's device (may be the CPU)
  RowIndex(torch::Tensor host_index, torch::Tensor device_index)
      : host(std::move(host_index)), device(std::move(device_index)) {}
  // Convenience for tests and one-off lookups: one index serves as both (copied as needed).
  RowIndex(const torch::Tensor& index) : host(index.cpu()), device(index) {}  // NOLINT: implicit on purpose
};

// Rows [begin, begin + n): an arange on the host and one made on `device` (no copy).
RowIndex row_range(int64_t begin, int64_t n, const torch::Device& device);

// A whole split, padded to its longest sentence (data.max_tokens bounds that), kept on the
// rank's device for the whole run: batches are cut from it there, never built on the host.
struct EncodedSplit {
  std::string name;
  Batch all;                  // all.host_lengths: every row's length, on the host
  std::vector<int64_t> gold;  // labels as a plain vector, for metrics
  // From the labels, which every split has (a split of given features has no tokens).
  int64_t size() const { return all.labels.size(0); }
  torch::Device device() const { return all.labels.device(); }
  // The same split on `device` (once per run; a no-op on the CPU).
  EncodedSplit to(const torch::Device& device) const;
  // Rows `index` trimmed to the longest sentence among them, on the split's device. The width
  // is read from the host lengths, so no value comes back from the device.
  Batch rows(const RowIndex& index) const { return rows(index, 0); }
  // The same, padded to `width` columns when width > 0 (a data-parallel shard is padded to its
  // global batch's width, so its dropout masks are that batch's rows).
  Batch rows(const RowIndex& index, int64_t width) const;
  // The padded width of rows `host_index`: their longest sentence (at least 1).
  int64_t width_of(const torch::Tensor& host_index) const;
};

EncodedSplit encode(const Split& split, const Vocabulary& vocab, const Corpus& corpus,
                    bool entity_masking);

// Position of token i relative to the inclusive span [start, end]: negative before it, 0 inside,
// positive after. No span (start < 0) gives 0 everywhere.
int64_t relative_position(int64_t i, int64_t start, int64_t end);

// A deterministic permutation of 0..n-1 from (seed, epoch): same on every machine and rank.
std::vector<int64_t> shuffled_order(int64_t n, uint64_t seed, int64_t epoch);

// One epoch's shuffled order, built on the host and copied to the device once per epoch; each
// step's batch index is a slice of it (a view, no copy, no host-built tensor).
struct EpochOrder {
  torch::Tensor host, device;
  EpochOrder(int64_t n, uint64_t seed, int64_t epoch, const torch::Device& device);
  RowIndex slice(int64_t begin, int64_t n) const {
    return RowIndex(host.narrow(0, begin, n), device.narrow(0, begin, n));
  }
};

}  // namespace anchorsweep
