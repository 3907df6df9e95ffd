#include "sweep/coordinator.hpp"

#include <algorithm>

#include "report/report.hpp"

namespace anchorsweep {

Coordinator::Coordinator(const SweepConfig& cfg, TrialPlan plan, RunDirectory& dir, Progress& progress)
    : cfg_(cfg), dir_(dir), progress_(progress), pending_(std::move(plan.tasks)) {
  // Encoders finished by an earlier sweep of this directory are ready at once.
  for (int64_t seed : dir.prior().pretrained_seeds) {
    encoders_[seed] = dir.read_encoder(seed);
    pretrained_.insert(seed);
  }
}

const std::vector<char>* Coordinator::encoder_for(int64_t seed) {
  auto it = encoders_.find(seed);
  return it == encoders_.end() ? nullptr : &it->second;
}

Assignment Coordinator::next(int64_t rank, const std::vector<int64_t>& cached_seeds) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || pending_.empty()) return {Assignment::done, {}, {}};  // the plan never grows
  auto ready = [&](const Task& t) { return t.type != TaskType::finetune || pretrained_.count(t.seed); };
  auto cached = [&](const Task& t) {
    return std::find(cached_seeds.begin(), cached_seeds.end(), t.seed) != cached_seeds.end();
  };
  // Plan order (pretrain, finetune, scratch), but a finetune task whose encoder this rank
  // already holds goes first: no transfer, and its feature cache is likely still warm.
  auto pick = pending_.end();
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (!ready(*it)) continue;
    if (pick == pending_.end()) pick = it;
    if (it->type == TaskType::finetune && cached(*it)) {
      if (pick->type != TaskType::pretrain) pick = it;
      break;
    }
  }
  if (pick == pending_.end()) {
    // Every pending task waits for a pretraining; if none is running, it can never start.
    return {pretraining_.empty() && running_.empty() ? Assignment::done : Assignment::wait, {}, {}};
  }
  Assignment a{Assignment::task, *pick, {}};
  pending_.erase(pick);
  if (a.work.type == TaskType::finetune && !cached(a.work)) a.encoder = *encoder_for(a.work.seed);
  if (a.work.type == TaskType::pretrain) pretraining_.insert(a.work.seed);
  running_[rank] = a.work;
  progress_.started(rank, a.work.id);
  return a;
}

void Coordinator::record_trial(const TrialResult& r, const std::vector<char>& checkpoint) {
  if (!checkpoint.empty())
    dir_.write_trial_checkpoint(r.key.id(), r.key.kind == "scratch" ? "encoder.pt" : "adapter.pt", checkpoint);
  auto j = to_json(r);
  j["type"] = "trial";
  dir_.append(j);  // fsynced: from here on the result survives any crash
  if (r.status != "ok") ++failed_;
  progress_.trial(r);
}

void Coordinator::fail_dependents(int64_t seed, const std::string& why) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->type == TaskType::finetune && it->seed == seed) {
      for (const auto& key : it->trials) {
        TrialResult r;
        r.key = key;
        r.status = "failed";
        r.error = "pretraining of seed " + std::to_string(seed) + " failed: " + why;
        r.task = it->id;
        record_trial(r, {});
      }
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

void Coordinator::complete(int64_t rank, TaskOutput out) {
  std::lock_guard<std::mutex> lock(mu_);
  running_.erase(rank);
  progress_.finished(rank);
  if (out.type == TaskType::pretrain && out.pretrain) {
    pretraining_.erase(out.seed);
    // The encoder first, then the journal line that says it exists.
    if (out.pretrain->status == "ok") {
      dir_.write_encoder(out.seed, out.encoder);
      encoders_[out.seed] = std::move(out.encoder);
      pretrained_.insert(out.seed);
    }
    auto j = to_json(*out.pretrain);
    j["type"] = "pretrain";
    dir_.append(j);
    progress_.pretrain(*out.pretrain);
    if (out.pretrain->status != "ok") fail_dependents(out.seed, out.pretrain->error);
  }
  for (size_t i = 0; i < out.trials.size(); ++i)
    record_trial(out.trials[i], i < out.checkpoints.size() ? out.checkpoints[i] : std::vector<char>{});
  // The CSV files are a convenience view of the journal: refresh them at most every 2 s, and
  // never spend more than a tenth of the time on it, so 10,000 tiny tasks do not rewrite a
  // growing file 10,000 times. The sweep's end writes them last.
  const auto now = std::chrono::steady_clock::now();
  if (!out.trials.empty() && now - last_tables_ > std::max<std::chrono::steady_clock::duration>(
                                                      std::chrono::seconds(2), 10 * tables_cost_)) {
    write_tables(dir_.path());
    last_tables_ = std::chrono::steady_clock::now();
    tables_cost_ = last_tables_ - now;
  }
}

void Coordinator::request_stop() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!stopping_) progress_.note("stop requested: no new tasks; running tasks finish, then --resume continues");
  stopping_ = true;
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
  return n;
}

}  // namespace anchorsweep
