// Worker: what every rank does with a task it is handed. No MPI here: the coordinator (or the
// MPI worker loop in sweep/sweep.cpp) passes tasks in and takes TaskOutputs back.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <functional>
#include <optional>

#include "config/config.hpp"
#include "data/example.hpp"
#include "data/tensors.hpp"
#include "sweep/placement.hpp"
#include "sweep/plan.hpp"
#include "sweep/task_output.hpp"
#include "common/trial_result.hpp"
#include "train/classifier_training.hpp"
#include "train/features.hpp"
#include "train/shard_group.hpp"

namespace anchorsweep {


// How a long task reports to rank 0 after each epoch: it ships the epoch's state (the
// checkpoint) and learns whether to go on. False = stop now; the task returns `stopped`.
using EpochReport = std::function<bool(const std::string& task_id, int64_t epoch, std::vector<char> state)>;

// Test and benchmark hooks; all off by default.
struct WorkerHooks {
  int64_t simulate_ms = -1;     // >= 0: sleep instead of training
  int64_t delay_ms = 0;         // extra sleep per task on this rank (load-balancing test)
  std::string fail_trial;       // a trial id whose task throws (failure-isolation test)
  // Tests that interrupt a sweep need it to be in a known state, not at a moment: while the file
  // `hold_while` exists, a pretrain or scratch task (only `hold_task`, when set) waits at each
  // epoch boundary after its checkpoint reached rank 0, until the file goes or a stop is asked;
  // then it trains the next epoch, and a stop ends it at that epoch's end.
  std::string hold_while;
  std::string hold_task;
  std::function<bool()> stop_requested;  // this process was asked to stop (a signal)
};

class Worker {
 public:
  Worker(const SweepConfig& cfg, const Corpus& corpus, Placement placement, WorkerHooks hooks = {});

  // Runs one task. Never throws for a failing task: the failure is reported in the output.
  // `resume` holds the task's last epoch checkpoint when an earlier sweep left one.
  // With `group`, a pretrain or scratch task is trained data-parallel with the group; only the
  // leader's output carries records (a member's says group_member). In a group every exception
  // but divergence (which every member sees alike) propagates: the peers would wait forever.
  TaskOutput run(const Task& task, const std::vector<char>* encoder_bytes, const std::vector<char>* resume = nullptr,
                 ShardGroup* group = nullptr);

  // A task that cannot start (its encoder could not be read): every trial it carried, failed
  // with `why`, as run() reports a failing task.
  TaskOutput failed(const Task& task, const std::string& why);

  void set_epoch_report(EpochReport report) { report_ = std::move(report); }

  std::vector<int64_t> cached_seeds() const;
  const torch::Device& device() const { return device_; }

 private:
  TaskOutput pretrain(const Task& task, const std::vector<char>* resume, ShardGroup* group);
  TaskOutput finetune(const Task& task);
  TaskOutput scratch(const Task& task, const std::vector<char>* resume, ShardGroup* group);
  EpochControl control_for(const Task& task, const std::vector<char>* resume, ShardGroup* group);
  TaskOutput simulate(const Task& task);
  TaskOutput failed_output(const Task& task, Status status, const std::string& why, double wall) const;
  void hold_at_gate(const std::string& task_id) const;
  FeatureSource& features_for(int64_t seed);
  void fill_identity(TrialResult& r, const Task& task, int64_t width) const;

  const SweepConfig& cfg_;
  const Corpus& corpus_;
  Placement placement_;
  WorkerHooks hooks_;
  EpochReport report_;
  torch::Device device_;
  Vocabulary vocab_;
  EncodedSplit a_train_, a_dev_, b_train_, b_dev_, b_test_;
  torch::Tensor anchor_;
  std::map<int64_t, std::vector<char>> encoders_;   // received or trained, per seed
  // The frozen encoder and feature source of the most recent seed: reused by every task of it.
  int64_t feature_seed_ = -1;
  std::optional<Encoder> feature_encoder_;
  std::unique_ptr<FeatureSource> features_;
  // data.format = "features": the given features, for every seed.
  std::unique_ptr<GivenFeatures> given_;
};

// Seeds of the random streams a trial uses, derived from the run seed and a stream name, so
// pretraining, scratch and adapters never share a stream and never depend on the rank.
uint64_t stream_seed(int64_t seed, const std::string& stream);

}  // namespace anchorsweep
