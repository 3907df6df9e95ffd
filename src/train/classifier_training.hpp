// Training the whole classifier: pretraining on A, and the "scratch" baseline on B.
#pragma once

#include <torch/torch.h>

#include <optional>

#include "config/config.hpp"
#include "data/tensors.hpp"
#include "model/encoder.hpp"
#include "sweep/trial_result.hpp"

namespace anchorsweep {

struct ClassifierRun {
  int64_t best_epoch = 0;                 // by dev micro-F1, 1-based
  Scores dev, test, dev_last, test_last;  // test only when a test split was given
  std::vector<int64_t> test_pred;         // at the best epoch
  std::vector<EpochPoint> curve;
  double examples_per_s = 0;              // training steps only, evaluation excluded
};

// Trains `encoder` (already on its device) on `train`, scores `dev` (and `test`) after every
// epoch, and leaves the encoder holding the weights of the best dev epoch. Minibatch order
// comes from `seed`, so the run depends only on (config, seed).
ClassifierRun train_classifier(Encoder& encoder, const TrainConfig& cfg, const EncodedSplit& train,
                               const EncodedSplit& dev, const EncodedSplit* test,
                               int64_t negative, uint64_t seed);

}  // namespace anchorsweep
