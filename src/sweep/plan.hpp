// TrialPlan: the sweep as tasks, and the order they may run in.
//
//   pretrain(seed)  ──>  finetune(seed, [λ1..λG] (+ the pretrained baseline))   (needs the encoder)
//   scratch(seed)                                                              (needs nothing)
//
// With data.format = "features" there is no pretrain task: the finetune tasks read the given
// features, and the config refuses the scratch baseline.
//
// A finetune task carries G trials of one seed, trained together (fused). The plan depends on
// the config and the number of ranks only through the automatic fuse width; a trial's result
// never depends on which task carries it.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "common/trial_result.hpp"

namespace anchorsweep {

struct Task {
  std::string id;                 // "pretrain-s1", "finetune-s1-g0", "scratch-s1"
  TaskType type = TaskType::pretrain;
  int64_t seed = 0;
  std::vector<TrialKey> trials;   // finetune: anchored and/or pretrained; scratch: one
};

struct TrialPlan {
  std::vector<Task> tasks;        // pretrain tasks first, then finetune, then scratch
  int64_t fuse_width = 1;
  int64_t trial_count() const;
};

// Fuse width actually used: the config's, or automatically enough tasks for every rank to
// have one (at most 32 per task), and 1 for finetune.mode = naive.
int64_t fuse_width(const SweepConfig& cfg, int64_t ranks);

// Which shard (0-based) of `shards` runs trial `trial_pos` of seed `seed_pos` (positions in the
// config's seed list and in the seed's trial list: pretrained, the λ grid per init, scratch).
// With at least as many seeds as shards a seed's trials stay together (seed_pos mod shards), so
// every seed is pretrained once in all; with fewer, each shard serves one seed (shard j serves
// seed j mod seeds) and that seed's trials are dealt round-robin over its shards, so every shard
// pretrains exactly one seed. Pure: every shard of an array computes the same split.
int64_t trial_shard(int64_t seed_pos, int64_t trial_pos, int64_t seeds, int64_t shards);

// All tasks of the config. Trials in `done` (by TrialKey::id) are left out, and so are
// pretrain tasks of `pretrained_seeds`; a finetune task whose trials are all done disappears.
// With run.shard = "i/n" only the trials of shard i are planned, and the pretraining they need.
TrialPlan make_plan(const SweepConfig& cfg, int64_t ranks, const std::set<std::string>& done = {},
                    const std::set<int64_t>& pretrained_seeds = {});

// The number of trials RUN_DIR/config.toml plans (the total `anchorsweep status` reports).
// Throws when the config or its data files cannot be read here.
int64_t planned_trial_count(const std::string& run_dir);

}  // namespace anchorsweep
