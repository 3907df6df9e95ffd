// What one rank will hold in memory, estimated before any training (`run --dry-run`).
#pragma once

#include <string>

#include "config/config.hpp"
#include "data/example.hpp"

namespace anchorsweep {

struct MemoryEstimate {
  double data_mb = 0;         // the five splits as padded tensors
  double model_mb = 0;        // weights, gradients, Adam moments, best-epoch copy, a checkpoint
  double activations_mb = 0;  // one training batch, forward and backward
  double features_mb = 0;     // cached [logits ; summary] of B for the adapters
  double total_mb() const { return data_mb + model_mb + activations_mb + features_mb; }
  std::string text() const;
};

MemoryEstimate estimate_memory(const SweepConfig& cfg, const Corpus& corpus);

}  // namespace anchorsweep
