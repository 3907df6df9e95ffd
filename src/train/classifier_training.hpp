// Training the whole classifier: pretraining on A, and the "scratch" baseline on B.
//
// The loop runs epoch by epoch. After each epoch it hands the complete training state (weights,
// optimizer moments, lr, best-dev snapshot, curve) to EpochControl::after_epoch, which ships it
// to rank 0 as a checkpoint and says whether to go on. A run resumed from such a state ends
// bit-identical to one never interrupted (same thread count): minibatch order and dropout
// masks are drawn per epoch from (seed, epoch), so nothing depends on how far a stream ran.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <optional>

#include "common/trial_result.hpp"
#include "config/config.hpp"
#include "data/tensors.hpp"
#include "model/encoder.hpp"

namespace anchorsweep {

struct ClassifierRun {
  int64_t best_epoch = 0;                 // by dev micro-F1, 1-based
  Scores dev, test, dev_last, test_last;  // test only when a test split was given
  std::vector<int64_t> test_pred;         // at the best epoch
  std::vector<EpochPoint> curve;
  double examples_per_s = 0;              // training steps only, evaluation excluded
  int64_t resumed_from_epoch = 0;         // > 0: the run continued from that epoch's state
  bool stopped = false;                   // after_epoch asked to stop before the last epoch
  // How the steps ran: "cuda graphs (…)" or "eager: <why no graph>" (train/step_graph.hpp).
  std::string step;
};

class ShardGroup;

struct EpochControl {
  std::vector<char> resume_from;          // a state from after_epoch, or empty: start afresh
  // Data-parallel: this rank trains its shard of every batch with the group (nullptr: alone).
  // Only the group's leader calls after_epoch; its answer reaches every member.
  ShardGroup* group = nullptr;
  // Called after every epoch but the last with that epoch's state; false = stop now.
  std::function<bool(int64_t epoch, std::vector<char> state)> after_epoch;
};

// Trains `encoder` (already on its device) on `train`, scores `dev` (and `test`) after every
// epoch, and leaves the encoder holding the weights of the best dev epoch. Minibatch order
// and dropout come from `seed`, so the run depends only on (config, seed).
// Throws DivergedError on a non-finite loss or weight (epoch, step and quantity named).
ClassifierRun train_classifier(Encoder& encoder, const TrainConfig& cfg, const EncodedSplit& train,
                               const EncodedSplit& dev, const EncodedSplit* test,
                               int64_t negative, uint64_t seed, EpochControl* control = nullptr);

}  // namespace anchorsweep
