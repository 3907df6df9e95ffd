#include "sweep/progress.hpp"

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

namespace anchorsweep {

Progress::Progress(int64_t total_trials, int64_t ranks, LogFormat format, bool quiet)
    : total_(total_trials), ranks_(ranks), format_(format), quiet_(quiet),
      start_(std::chrono::steady_clock::now()) {}

void Progress::emit(const std::string& text_line, const std::string& json_line) {
  if (quiet_) return;
  std::cout << (format_ == LogFormat::json ? json_line : text_line) << std::endl;
}

void Progress::started(int64_t rank, const std::string& task) {
  std::lock_guard<std::mutex> lock(mu_);
  running_[rank] = task;
  since_[rank] = std::chrono::steady_clock::now();
  epoch_.erase(rank);
}

void Progress::epoch(int64_t rank, int64_t epoch) {
  std::lock_guard<std::mutex> lock(mu_);
  epoch_[rank] = epoch;
}

void Progress::finished(int64_t rank) {
  std::lock_guard<std::mutex> lock(mu_);
  running_.erase(rank);
  since_.erase(rank);
  epoch_.erase(rank);
}

void Progress::set_context(std::vector<std::string> hosts, int64_t done_before) {
  std::lock_guard<std::mutex> lock(mu_);
  hosts_ = std::move(hosts);
  done_before_ = done_before;
}

nlohmann::json Progress::snapshot(RunState state) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? done_ / elapsed : 0.0;  // trials/s of this attempt
  nlohmann::json running = nlohmann::json::array();
  for (const auto& [rank, task] : running_) {
    const auto s = since_.find(rank);
    running.push_back({{"rank", rank},
                       {"host", rank < static_cast<int64_t>(hosts_.size()) ? hosts_[rank] : ""},
                       {"task", task},
                       {"elapsed_s", s == since_.end() ? 0.0 : std::chrono::duration<double>(now - s->second).count()}});
    if (const auto e = epoch_.find(rank); e != epoch_.end()) running.back()["epochs_done"] = e->second;
  }
  return {{"state", name_of(state)},
          {"updated_unix", static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                   std::chrono::system_clock::now().time_since_epoch()).count()) / 1000.0},
          {"total", done_before_ + total_},
          {"done", done_before_ + done_},
          {"done_this_attempt", done_},
          {"failed_this_attempt", failed_},
          {"ranks", ranks_},
          {"elapsed_s", elapsed},
          {"trials_per_s", rate},
          {"eta_s", rate > 0 ? nlohmann::json((total_ - done_) / rate) : nlohmann::json(nullptr)},
          {"running", running}};
}

void Progress::note(const std::string& text) {
  emit("note: " + text, nlohmann::json{{"event", "note"}, {"text", text}}.dump());
}

void Progress::pretrain(const PretrainRecord& p) {
  char line[256];
  if (p.status == Status::ok)
    std::snprintf(line, sizeof line, "pretrained seed %lld: A-dev micro-F1 %.4f (epoch %lld), %.0f examples/s, %.1f s on rank %lld",
                  (long long)p.seed, p.a_dev_micro_f1, (long long)p.best_epoch, p.examples_per_s, p.wall_s,
                  (long long)p.rank);
  else
    std::snprintf(line, sizeof line, "pretraining seed %lld FAILED on rank %lld: %s", (long long)p.seed,
                  (long long)p.rank, p.error.substr(0, 160).c_str());
  auto j = to_json(p);
  j.erase("curve");
  j["event"] = "pretrain";
  emit(line, j.dump());
}

void Progress::trial(const TrialResult& r) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++done_;
    if (r.status != Status::ok) ++failed_;
  }
  char line[512];
  if (r.status == Status::ok) {
    const auto dev = r.metrics.count(EvalSplit::dev) ? r.metrics.at(EvalSplit::dev).micro_f1 : 0.0;
    const auto test = r.metrics.count(EvalSplit::test) ? r.metrics.at(EvalSplit::test).micro_f1 : 0.0;
    std::snprintf(line, sizeof line, "[%lld/%lld] %-18s dev F1 %.4f  test F1 %.4f  (rank %lld, %.1f s)",
                  (long long)done_, (long long)total_, r.key.id().c_str(), dev, test, (long long)r.rank, r.wall_s);
  } else {
    std::snprintf(line, sizeof line, "[%lld/%lld] %-18s FAILED on rank %lld: %s", (long long)done_,
                  (long long)total_, r.key.id().c_str(), (long long)r.rank, r.error.substr(0, 300).c_str());
  }
  nlohmann::json j{{"event", "trial"}, {"done", done_}, {"total", total_}, {"id", r.key.id()},
                   {"status", name_of(r.status)}, {"rank", r.rank}, {"wall_s", r.wall_s}};
  if (r.status == Status::ok) {
    j["dev_micro_f1"] = r.metrics.count(EvalSplit::dev) ? r.metrics.at(EvalSplit::dev).micro_f1 : 0.0;
    j["test_micro_f1"] = r.metrics.count(EvalSplit::test) ? r.metrics.at(EvalSplit::test).micro_f1 : 0.0;
  } else {
    j["error"] = r.error;
  }
  emit(line, j.dump());
  status();
}

void Progress::status() {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = done_ > 0 ? elapsed / done_ * (total_ - done_) : 0;
  std::string ranks;
  nlohmann::json running = nlohmann::json::object();
  for (int64_t r = 0; r < ranks_; ++r) {
    auto it = running_.find(r);
    const std::string what = it == running_.end() ? "idle" : it->second;
    ranks += " r" + std::to_string(r) + "=" + what;
    running[std::to_string(r)] = what;
  }
  char line[128];
  std::snprintf(line, sizeof line, "status: %lld/%lld done, %lld failed, %.0f s elapsed, ETA %.0f s;",
                (long long)done_, (long long)total_, (long long)failed_, elapsed, eta);
  emit(line + ranks, nlohmann::json{{"event", "status"}, {"done", done_}, {"total", total_}, {"failed", failed_},
                                    {"elapsed_s", elapsed}, {"eta_s", eta}, {"running", running}}.dump());
}

}  // namespace anchorsweep
