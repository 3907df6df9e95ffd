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
  int64_t size() const { return tokens.size(0); }
  Batch to(const torch::Device& device) const;
};

// A whole split, padded to its longest sentence.
struct EncodedSplit {
  std::string name;
  Batch all;
  std::vector<int64_t> gold;  // labels as a plain vector, for metrics
  int64_t size() const { return all.size(); }
  // Rows `index` (int64 [B]) trimmed to the longest sentence among them.
  Batch rows(const torch::Tensor& index) const;
};

EncodedSplit encode(const Split& split, const Vocabulary& vocab, const Corpus& corpus,
                    bool entity_masking);

// Position of token i relative to the inclusive span [start, end]: negative before it, 0 inside,
// positive after. No span (start < 0) gives 0 everywhere.
int64_t relative_position(int64_t i, int64_t start, int64_t end);

// A deterministic permutation of 0..n-1 from (seed, epoch): same on every machine and rank.
std::vector<int64_t> shuffled_order(int64_t n, uint64_t seed, int64_t epoch);

}  // namespace anchorsweep
