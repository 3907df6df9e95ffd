// Finetuning G anchored adapters of one seed together on fixed features.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "config/config.hpp"
#include "common/trial_result.hpp"
#include "train/features.hpp"

namespace anchorsweep {

struct AdapterSetup {
  const FinetuneConfig* train = nullptr;
  const PenaltyConfig* penalty = nullptr;
  AdapterInit init = AdapterInit::random;
  torch::Tensor anchor;         // [K, D]
  int64_t negative = 0;
  uint64_t seed = 0;            // fixes the random init and the minibatch order
};

struct AdapterOutcome {
  TrialResult result;           // metrics, curve, diagnostics; key/host/etc. left to the caller
  torch::Tensor weight, bias;             // at the best dev epoch
  torch::Tensor weight_last, bias_last;   // after the last epoch
};

// Trains one adapter per λ, stacked: W [G, K, D]. Each keeps its own λ, lr (with decay),
// Adam moments, clipping and best-epoch bookkeeping, so the outcome for a λ does not depend on
// which other λ share the pass.
// `inits`, when given, holds each trial's init instead of setup.init.
std::vector<AdapterOutcome> train_adapters(const AdapterSetup& setup, const std::vector<double>& lambdas,
                                           FeatureSource& features, const std::vector<AdapterInit>& inits = {});

// The "pretrained" baseline: the adapter frozen at the anchor (λ → ∞), scored on dev and test.
AdapterOutcome evaluate_anchor(const AdapterSetup& setup, FeatureSource& features);

}  // namespace anchorsweep
