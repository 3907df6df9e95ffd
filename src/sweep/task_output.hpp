// TaskOutput and Assignment: what travels between rank 0 and a worker about one task, without
// MPI or training. The coordinator, the worker and the wire format (sweep/messages) share them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/trial_result.hpp"
#include "sweep/plan.hpp"

namespace anchorsweep {

// What a finished task sends back to rank 0.
struct TaskOutput {
  std::string task_id;
  TaskType type = TaskType::pretrain;
  int64_t seed = 0;
  std::optional<PretrainRecord> pretrain;       // pretrain tasks
  std::vector<char> encoder;                    // pretrain tasks: the encoder's state dict
  std::vector<TrialResult> trials;              // finetune and scratch tasks
  std::vector<std::vector<char>> checkpoints;   // one per trial (adapter, or scratch encoder)
  bool stopped = false;                         // stopped at an epoch boundary; not finished
  bool group_member = false;                    // a data-parallel member's share: nothing to record
};

// What rank 0 hands a rank that asks for work.
struct Assignment {
  enum Kind { task, wait, done } kind = done;
  Task work;
  std::vector<char> encoder;   // filled when the rank lacks the task's encoder
  std::vector<char> resume;    // the task's last epoch checkpoint, when an earlier sweep left one
  std::vector<int64_t> group;  // a data-parallel task's ranks, leader first; empty: this rank alone
  // Instead of `encoder`, for a rank that sees the run directory: the file to read, and what rank 0
  // wrote there (size and FNV-1a), checked before use.
  std::string encoder_file{}, encoder_hash{};
  int64_t encoder_size = 0;
};

}  // namespace anchorsweep
