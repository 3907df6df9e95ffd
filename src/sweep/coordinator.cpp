#include "sweep/coordinator.hpp"

#include <algorithm>

#include "common/files.hpp"

namespace anchorsweep {

Coordinator::Coordinator(const SweepConfig& cfg, TrialPlan plan, RunDirectory& dir, RunWriter& writer,
                         Progress& progress)
    : cfg_(cfg), dir_(dir), writer_(writer), progress_(progress), pending_(std::move(plan.tasks)),
      checkpointed_(dir.prior().checkpoints) {
  // Encoders finished by an earlier sweep of this directory are ready at once.
  for (int64_t seed : dir.prior().pretrained_seeds) {
    encoders_[seed] = dir.read_encoder(seed);
    pretrained_.insert(seed);
  }
  // Given features: every seed's finetune tasks are ready at once, with no encoder to ship.
  if (cfg.data.format == DataFormat::features)
    for (int64_t seed : cfg.run.seeds) {
      encoders_[seed] = {};
      pretrained_.insert(seed);
    }
}

void Coordinator::set_run_dir_readers(std::vector<bool> reads) {
  std::lock_guard<std::mutex> lock(mu_);
  reads_run_dir_ = std::move(reads);
}

bool Coordinator::reads_run_dir(int64_t rank) const {
  return rank > 0 && rank < static_cast<int64_t>(reads_run_dir_.size()) && reads_run_dir_[static_cast<size_t>(rank)];
}

const std::vector<char>* Coordinator::encoder_for(int64_t seed) {
  auto it = encoders_.find(seed);
  return it == encoders_.end() ? nullptr : &it->second;
}

bool Coordinator::needs_group(const Task& t) const {
  return cfg_.pretrain.ranks > 1 && (t.type == TaskType::pretrain || t.type == TaskType::scratch);
}

// Hands `t` to `rank` (and, for a group, records it as started); reads its checkpoint if any.
Assignment Coordinator::assignment_for(int64_t rank, const Task& t, const std::vector<int64_t>& cached_seeds) {
  Assignment a{Assignment::task, t, {}, {}, {}};
  const bool cached = std::find(cached_seeds.begin(), cached_seeds.end(), t.seed) != cached_seeds.end();
  if (t.type == TaskType::finetune && !cached) {
    const std::vector<char>& bytes = *encoder_for(t.seed);
    if (reads_run_dir(rank) && !bytes.empty()) {
      // The rank reads encoders/seed-<s>.pt itself: rank 0 sends a path, not megabytes, to each
      // rank that finetunes the seed (docs/scaling.md#encoder-fan-out).
      auto& hash = encoder_hashes_[t.seed];
      if (hash.empty()) {  // the seed's first such task: its file may still be in the writer's queue
        writer_.flush();
        hash = fnv1a_hex(bytes.data(), bytes.size());
      }
      a.encoder_file = dir_.encoder_path(t.seed);
      a.encoder_hash = hash;
      a.encoder_size = static_cast<int64_t>(bytes.size());
    } else {
      a.encoder = bytes;
    }
  }
  if (t.type == TaskType::pretrain) pretraining_.insert(t.seed);
  if (auto c = checkpointed_.find(t.id); c != checkpointed_.end()) {
    writer_.flush();  // the file may still be in the writer's queue
    a.resume = dir_.read_task_checkpoint(t.id);
    progress_.note(t.id + ": continues after epoch " + std::to_string(c->second) + " from its checkpoint");
  }
  running_[rank] = t;
  progress_.started(rank, t.id);
  return a;
}

Assignment Coordinator::next(int64_t rank, const std::vector<int64_t>& cached_seeds) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!writer_.error().empty()) stopping_ = true;  // a run directory we cannot write ends the sweep
  // A started group's members collect their share even after a stop: the leader already trains.
  if (auto h = handed_.find(rank); h != handed_.end()) {
    Assignment a = std::move(h->second);
    handed_.erase(h);
    return a;
  }
  if (stopping_) {
    if (gathering_) {  // never started: back to the plan, for --resume
      pending_.push_back(gathering_->task);
      if (gathering_->task.type == TaskType::pretrain) pretraining_.erase(gathering_->task.seed);
      gathering_.reset();
    }
    return {Assignment::done, {}, {}, {}, {}};
  }
  if (gathering_) {
    auto& g = *gathering_;
    if (std::find(g.members.begin(), g.members.end(), rank) == g.members.end()) g.members.push_back(rank);
    if (static_cast<int64_t>(g.members.size()) < cfg_.pretrain.ranks) return {Assignment::wait, {}, {}, {}, {}};
    // Complete: the leader holds the task; every member gets the same assignment.
    Assignment a = assignment_for(g.members.front(), g.task, {});
    a.group = g.members;
    for (int64_t m : g.members) {
      if (m != g.members.front()) {
        members_running_.insert(m);
        leader_of_[m] = g.members.front();
        progress_.started(m, g.task.id + " (with rank " + std::to_string(g.members.front()) + ")");
      }
      if (m != rank) handed_[m] = a;
    }
    gathering_.reset();
    return a;
  }
  if (pending_.empty()) return {Assignment::done, {}, {}, {}, {}};  // the plan never grows
  auto ready = [&](const Task& t) { return t.type != TaskType::finetune || pretrained_.count(t.seed); };
  auto cached = [&](const Task& t) {
    return std::find(cached_seeds.begin(), cached_seeds.end(), t.seed) != cached_seeds.end();
  };
  // Plan order (pretrain, finetune, scratch), but a finetune task whose encoder this rank
  // already holds goes first: no transfer, and its feature cache is likely still warm. With
  // groups, a ready one-rank task goes before opening a gathering.
  auto pick = pending_.end(), group_pick = pending_.end();
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (!ready(*it)) continue;
    if (needs_group(*it)) {
      if (group_pick == pending_.end()) group_pick = it;
      continue;
    }
    if (pick == pending_.end()) pick = it;
    if (it->type == TaskType::finetune && cached(*it)) {
      if (pick->type != TaskType::pretrain) pick = it;
      break;
    }
  }
  if (pick == pending_.end() && group_pick != pending_.end()) {
    // Open a gathering for the first group task; this rank is its first member.
    gathering_ = Gathering{*group_pick, {rank}};
    if (group_pick->type == TaskType::pretrain) pretraining_.insert(group_pick->seed);
    pending_.erase(group_pick);
    progress_.note(gathering_->task.id + ": gathering " + std::to_string(cfg_.pretrain.ranks) + " ranks");
    return {Assignment::wait, {}, {}, {}, {}};
  }
  if (pick == pending_.end()) {
    // Every pending task waits for a pretraining; if none is running, it can never start.
    return {pretraining_.empty() && running_.empty() ? Assignment::done : Assignment::wait, {}, {}, {}, {}};
  }
  const Task t = *pick;
  pending_.erase(pick);
  return assignment_for(rank, t, cached_seeds);
}

bool Coordinator::epoch_done(int64_t rank, const std::string& task_id, int64_t epoch, std::vector<char> state) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!state.empty()) {
    // The file first, then the line that says it exists: resume trusts only journaled epochs.
    auto bytes = std::make_shared<std::vector<char>>(std::move(state));
    writer_.write([this, task_id, bytes] { dir_.write_task_checkpoint(task_id, *bytes); });
    writer_.journal({{"type", "checkpoint"}, {"task", task_id}, {"epoch", epoch}, {"rank", rank}});
    checkpointed_[task_id] = epoch;
  }
  progress_.epoch(rank, epoch);
  return !stopping_;
}

void Coordinator::record_trial(const TrialResult& r, std::vector<char> checkpoint) {
  const auto j = to_json(r);  // a "trial" line
  if (!checkpoint.empty()) {
    auto bytes = std::make_shared<std::vector<char>>(std::move(checkpoint));
    const std::string id = r.key.id(), file = r.key.kind == TrialKind::scratch ? "encoder.pt" : "adapter.pt";
    writer_.write([this, id, file, bytes] { dir_.write_trial_checkpoint(id, file, *bytes); });
    if (finished_ && r.key.kind == TrialKind::scratch && r.status == Status::ok)
      finished_("scratch", r.key.seed, r.rank, j, bytes);
  }
  writer_.journal(j);  // durable once the writer's next group commit is done
  if (r.status != Status::ok) ++failed_;
  progress_.trial(r);
}

void Coordinator::fail_trials(const Task& t, const std::string& error, int64_t rank, const std::string& host) {
  for (const auto& key : t.trials) {
    TrialResult r;
    r.key = key;
    r.status = Status::failed;
    r.error = error;
    r.task = t.id;
    r.rank = rank;
    r.host = host;
    record_trial(r, {});
  }
}

void Coordinator::fail_dependents(int64_t seed, const std::string& why) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->type == TaskType::finetune && it->seed == seed) {
      fail_trials(*it, "pretraining of seed " + std::to_string(seed) + " failed: " + why, 0, "");  // never ran anywhere
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

void Coordinator::complete(int64_t rank, TaskOutput out) {
  std::lock_guard<std::mutex> lock(mu_);
  if (out.group_member) {  // the leader reports the group's task
    members_running_.erase(rank);
    leader_of_.erase(rank);
    progress_.finished(rank);
    return;
  }
  auto ran = running_.find(rank);
  if (out.stopped) {
    // Stopped at an epoch boundary: its checkpoint is queued; the task waits for --resume.
    if (ran != running_.end()) pending_.push_back(ran->second);
    running_.erase(rank);
    pretraining_.erase(out.type == TaskType::pretrain ? out.seed : -1);
    progress_.finished(rank);
    progress_.note(out.task_id + ": stopped after a checkpointed epoch; --resume continues it");
    return;
  }
  running_.erase(rank);
  progress_.finished(rank);
  if (out.type == TaskType::pretrain && out.pretrain) {
    pretraining_.erase(out.seed);
    // The encoder first, then the journal line that says it exists.
    std::shared_ptr<std::vector<char>> bytes;
    if (out.pretrain->status == Status::ok) {
      out.pretrain->encoder_hash = fnv1a_hex(out.encoder.data(), out.encoder.size());  // merge compares shards' bits
      bytes = std::make_shared<std::vector<char>>(out.encoder);
      const int64_t seed = out.seed;
      writer_.write([this, seed, bytes] { dir_.write_encoder(seed, *bytes); });
      encoders_[out.seed] = std::move(out.encoder);
      pretrained_.insert(out.seed);
    }
    const auto j = to_json(*out.pretrain);  // a "pretrain" line
    writer_.journal(j);
    if (bytes && finished_) finished_("pretrain", out.seed, out.pretrain->rank, j, bytes);
    progress_.pretrain(*out.pretrain);
    if (out.pretrain->status != Status::ok) fail_dependents(out.seed, out.pretrain->error);
  }
  for (size_t i = 0; i < out.trials.size(); ++i)
    record_trial(out.trials[i], i < out.checkpoints.size() ? std::move(out.checkpoints[i]) : std::vector<char>{});
  // A finished long task no longer needs its epoch checkpoint (removed after its line is durable).
  if (checkpointed_.erase(out.task_id)) {
    const std::string id = out.task_id;
    writer_.remove([this, id] { dir_.remove_task_checkpoint(id); });
  }
  if (!out.trials.empty()) writer_.tables_changed();
}

void Coordinator::request_stop() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!stopping_)
    progress_.note("stop requested: no new tasks; running tasks stop at their next epoch boundary, "
                   "checkpointed, then --resume continues");
  stopping_ = true;
}

std::string Coordinator::lost(int64_t rank, const std::string& host, const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  auto ran = running_.find(rank);
  if (ran == running_.end())
    if (auto l = leader_of_.find(rank); l != leader_of_.end()) ran = running_.find(l->second);
  if (ran == running_.end()) return "";
  const Task& t = ran->second;
  const std::string error = "lost rank " + std::to_string(rank) + " (" + host + "): " + why;
  if (t.type == TaskType::pretrain) {
    PretrainRecord p;
    p.seed = t.seed;
    p.status = Status::failed;
    p.error = error;
    p.rank = rank;
    p.host = host;
    writer_.journal(to_json(p));  // a "pretrain" line
  }
  fail_trials(t, error, rank, host);
  return t.id;
}

int64_t Coordinator::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

int64_t Coordinator::remaining() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t n = 0;
  for (const auto& t : pending_) n += static_cast<int64_t>(t.trials.size());
  for (const auto& [r, t] : running_) n += static_cast<int64_t>(t.trials.size());
  if (gathering_) n += static_cast<int64_t>(gathering_->task.trials.size());
  return n;
}

}  // namespace anchorsweep
