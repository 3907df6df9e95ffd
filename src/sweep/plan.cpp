#include "sweep/plan.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace anchorsweep {

int64_t TrialPlan::trial_count() const {
  int64_t n = 0;
  for (const auto& t : tasks) n += static_cast<int64_t>(t.trials.size());
  return n;
}

static bool has_baseline(const SweepConfig& cfg, TrialKind kind) {
  return std::find(cfg.sweep.baselines.begin(), cfg.sweep.baselines.end(), kind) != cfg.sweep.baselines.end();
}

int64_t fuse_width(const SweepConfig& cfg, int64_t ranks) {
  const bool cached = cfg.finetune.mode == FinetuneMode::cached && !cfg.finetune.frozen_dropout;
  if (!cached) return 1;
  if (cfg.finetune.fuse > 0) return cfg.finetune.fuse;
  const int64_t per_seed = static_cast<int64_t>(cfg.sweep.lambdas.size() * cfg.adapter.inits.size()) + 1;
  const int64_t seeds = static_cast<int64_t>(cfg.run.seeds.size());
  // Enough finetune tasks that every rank can get one, never more than 32 trials per pass.
  const int64_t tasks_per_seed = std::max<int64_t>(1, (ranks + seeds - 1) / seeds);
  return std::clamp<int64_t>((per_seed + tasks_per_seed - 1) / tasks_per_seed, 1, 32);
}

int64_t trial_shard(int64_t seed_pos, int64_t trial_pos, int64_t seeds, int64_t shards) {
  if (seeds >= shards) return seed_pos % shards;
  const int64_t serving = (shards - seed_pos + seeds - 1) / seeds;  // shards j < n with j mod seeds == seed_pos
  return seed_pos + seeds * (trial_pos % serving);
}

TrialPlan make_plan(const SweepConfig& cfg, int64_t ranks, const std::set<std::string>& done,
                    const std::set<int64_t>& pretrained_seeds) {
  TrialPlan plan;
  plan.fuse_width = fuse_width(cfg, ranks);
  std::vector<Task> pretrain, finetune, scratch;
  const int64_t seeds = static_cast<int64_t>(cfg.run.seeds.size());
  for (int64_t seed_pos = 0; seed_pos < seeds; ++seed_pos) {
    const int64_t seed = cfg.run.seeds[seed_pos];
    std::vector<TrialKey> trials;
    if (has_baseline(cfg, TrialKind::pretrained)) trials.push_back({seed, TrialKind::pretrained, 0, std::nullopt});
    const bool tag = cfg.adapter.inits.size() > 1;  // ids name the init only when there are several
    for (AdapterInit init : cfg.adapter.inits)
      for (double lam : cfg.sweep.lambdas)
        trials.push_back({seed, TrialKind::anchored, lam, tag ? std::optional<AdapterInit>(init) : std::nullopt});
    // A shard keeps its part of the seed's trials (scratch counts as the seed's last trial).
    auto mine = [&](size_t pos) {
      return !cfg.run.sharded() ||
             trial_shard(seed_pos, static_cast<int64_t>(pos), seeds, cfg.run.shard_count) == cfg.run.shard_index - 1;
    };
    std::vector<TrialKey> todo;
    for (size_t i = 0; i < trials.size(); ++i)
      if (!done.count(trials[i].id()) && mine(i)) todo.push_back(trials[i]);
    // Given features (data.format = "features") need no pretraining: the frozen model is the user's.
    if (!todo.empty() && !pretrained_seeds.count(seed) && cfg.data.format != DataFormat::features)
      pretrain.push_back({"pretrain-s" + std::to_string(seed), TaskType::pretrain, seed, {}});
    for (size_t i = 0, g = 0; i < todo.size(); i += plan.fuse_width, ++g) {
      Task t{"finetune-s" + std::to_string(seed) + "-g" + std::to_string(g), TaskType::finetune, seed, {}};
      for (size_t j = i; j < std::min(todo.size(), i + plan.fuse_width); ++j) t.trials.push_back(todo[j]);
      finetune.push_back(t);
    }
    TrialKey sk{seed, TrialKind::scratch, 0, std::nullopt};
    if (has_baseline(cfg, TrialKind::scratch) && !done.count(sk.id()) && mine(trials.size()))
      scratch.push_back({"scratch-s" + std::to_string(seed), TaskType::scratch, seed, {sk}});
  }
  for (auto* part : {&pretrain, &finetune, &scratch})
    plan.tasks.insert(plan.tasks.end(), part->begin(), part->end());
  return plan;
}

int64_t planned_trial_count(const std::string& run_dir) {
  return make_plan(load_run_config(run_dir), 1).trial_count();
}

}  // namespace anchorsweep
