// FeatureSource: where the adapter's input [old logits ; summary] comes from.
//
// Frozen layers in eval mode are a fixed function, so their outputs on B can be computed once
// (CachedFeatures) and reused by every λ of a seed: 68k sentences × 242 floats ≈ 66 MB.
// LiveFeatures recomputes them through the LSTM at every step, as the original did: the
// reference for the equivalence test, the baseline of the benchmark, and the only valid path
// when dropout is (wrongly) left on in the frozen layers.
#pragma once

#include <torch/torch.h>

#include "data/tensors.hpp"
#include "model/encoder.hpp"

namespace anchorsweep {

enum class Part { train = 0, dev = 1, test = 2 };

class FeatureSource {
 public:
  virtual ~FeatureSource() = default;
  // Features of rows `index` of `part`: [B, K + Hs]. `training` marks a training step.
  virtual torch::Tensor rows(Part part, const RowIndex& index, bool training) = 0;
  // Features of a whole split, for evaluation.
  virtual torch::Tensor all(Part part) = 0;
  const EncodedSplit& split(Part part) const { return *splits_[static_cast<int>(part)]; }

 protected:
  const EncodedSplit* splits_[3] = {nullptr, nullptr, nullptr};
};

class CachedFeatures : public FeatureSource {
 public:
  CachedFeatures(Encoder& encoder, const EncodedSplit& train, const EncodedSplit& dev,
                 const EncodedSplit& test);
  torch::Tensor rows(Part part, const RowIndex& index, bool training) override;
  torch::Tensor all(Part part) override { return cache_[static_cast<int>(part)]; }

 private:
  torch::Tensor cache_[3];
};

// data.format = "features": the user's frozen model ran elsewhere and its features are given
// (data/feature_files.hpp). The splits carry the labels only.
class GivenFeatures : public FeatureSource {
 public:
  // x[i]: [N_i, K + H] on the splits' device, for train, dev and test.
  GivenFeatures(const torch::Tensor x[3], const EncodedSplit& train, const EncodedSplit& dev,
                const EncodedSplit& test);
  torch::Tensor rows(Part part, const RowIndex& index, bool training) override;
  torch::Tensor all(Part part) override { return x_[static_cast<int>(part)]; }

 private:
  torch::Tensor x_[3];
};

class LiveFeatures : public FeatureSource {
 public:
  // frozen_dropout: training steps run the frozen encoder in train mode (the classic mistake).
  LiveFeatures(Encoder& encoder, const EncodedSplit& train, const EncodedSplit& dev,
               const EncodedSplit& test, bool frozen_dropout);
  torch::Tensor rows(Part part, const RowIndex& index, bool training) override;
  torch::Tensor all(Part part) override;

 private:
  Encoder encoder_;
  bool frozen_dropout_;
};

}  // namespace anchorsweep
