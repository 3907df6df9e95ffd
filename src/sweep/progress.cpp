#include "sweep/progress.hpp"

#include <algorithm>
#include <cstdio>
#include <unistd.h>  // isatty

namespace anchorsweep {

std::string human_seconds(double s) {
  char buf[64];
  if (s < 120) std::snprintf(buf, sizeof buf, "%.*f s", s < 10 ? 1 : 0, s);
  else if (s < 7200) std::snprintf(buf, sizeof buf, "%d min %02d s", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else std::snprintf(buf, sizeof buf, "%d h %02d min", static_cast<int>(s) / 3600, static_cast<int>(s) % 3600 / 60);
  return buf;
}

namespace {

const char* kClearLine = "\r\033[K";

}  // namespace

ProgressStyle progress_style(LogFormat format, bool quiet, double status_every_s) {
  ProgressStyle s;
  s.format = format;
  s.quiet = quiet;
  s.live = !quiet && format == LogFormat::text && ::isatty(STDOUT_FILENO);
  s.status_every_s = status_every_s;
  return s;
}

Progress::Progress(int64_t total_trials, int64_t ranks, ProgressStyle style, std::ostream& out, Clock clock)
    : total_(total_trials), ranks_(ranks), style_(style), out_(out), clock_(std::move(clock)),
      start_(clock_()), last_status_(start_) {}

Progress::~Progress() { close(); }

void Progress::close() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (live_drawn_) out_ << kClearLine << std::flush;
  live_drawn_ = false;
  style_.live = false;
  style_.quiet = true;  // nothing more: the summary is the caller's
}

void Progress::start_ticker() {
  if (style_.quiet || style_.format == LogFormat::json) return;
  ticker_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) tick();
  });
}

void Progress::set_tasks(const std::vector<Task>& tasks, int64_t long_task_epochs) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Task& t : tasks) task_type_[t.id] = t.type;
  long_task_epochs_ = long_task_epochs;
}

void Progress::set_context(std::vector<std::string> hosts, int64_t done_before) {
  std::lock_guard<std::mutex> lock(mu_);
  hosts_ = std::move(hosts);
  done_before_ = done_before;
}

double Progress::seconds_since(std::chrono::steady_clock::time_point t) const {
  return std::chrono::duration<double>(clock_() - t).count();
}

void Progress::started(int64_t rank, const std::string& task) {
  std::lock_guard<std::mutex> lock(mu_);
  running_[rank] = task;
  since_[rank] = clock_();
  epoch_.erase(rank);
  if (style_.live) status_due(true);
}

void Progress::epoch(int64_t rank, int64_t epoch) {
  std::lock_guard<std::mutex> lock(mu_);
  epoch_[rank] = epoch;
  if (style_.live) status_due(true);
}

void Progress::finished(int64_t rank) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = running_.find(rank); it != running_.end()) {
    if (auto type = task_type_.find(it->second); type != task_type_.end() && finished_tasks_.insert(it->second).second)
      durations_[type->second].push_back(seconds_since(since_[rank]));
  }
  running_.erase(rank);
  since_.erase(rank);
  epoch_.erase(rank);
}

void Progress::tick() {
  std::lock_guard<std::mutex> lock(mu_);
  if (style_.quiet || style_.format == LogFormat::json) return;
  status_due(style_.live);
}

// Live: redraw the line in place. Log: print it when status_every_s has passed since the last.
void Progress::status_due(bool force) {
  if (style_.quiet || style_.format == LogFormat::json) return;
  if (style_.live) {
    out_ << kClearLine << status_line_locked() << std::flush;
    live_drawn_ = true;
    return;
  }
  if (!force && seconds_since(last_status_) < style_.status_every_s) return;
  last_status_ = clock_();
  out_ << status_line_locked() << std::endl;
}

void Progress::line(const std::string& text_line, const std::string& json_line) {
  if (style_.quiet) return;
  if (style_.format == LogFormat::json) {
    out_ << json_line << std::endl;
    return;
  }
  if (style_.live) out_ << kClearLine;
  out_ << text_line << "\n";
  if (style_.live) status_due(true);
  out_ << std::flush;
}

std::optional<double> Progress::eta_locked() const {
  if (done_ >= total_) return 0.0;
  if (task_type_.empty()) return std::nullopt;
  std::map<std::string, double> running_for;  // task id -> seconds it has run
  for (const auto& [rank, id] : running_) running_for[id] = seconds_since(since_.at(rank));
  double work = 0;
  for (const auto& [id, type] : task_type_) {
    if (finished_tasks_.count(id)) continue;
    const auto d = durations_.find(type);
    if (d == durations_.end() || d->second.empty()) return std::nullopt;  // no such task has run yet
    double mean = 0;
    for (double s : d->second) mean += s;
    mean /= static_cast<double>(d->second.size());
    const auto r = running_for.find(id);
    work += std::max(0.0, mean - (r == running_for.end() ? 0.0 : r->second));
  }
  return work / static_cast<double>(std::max<int64_t>(1, ranks_));
}

std::optional<double> Progress::eta_s() const {
  std::lock_guard<std::mutex> lock(mu_);
  return eta_locked();
}

std::string Progress::status_line_locked() const {
  const double elapsed = seconds_since(start_);
  std::string s = "status: " + std::to_string(done_) + "/" + std::to_string(total_) + " trials";
  if (failed_) s += ", " + std::to_string(failed_) + " failed";
  // What the ranks run: each one when there are few, a count when there are many.
  std::string ranks;
  if (ranks_ <= 4) {
    for (int64_t r = 0; r < ranks_; ++r) {
      const auto it = running_.find(r);
      ranks += (ranks.empty() ? "" : ", ") + std::string("r") + std::to_string(r) + " " + (it == running_.end() ? "idle" : it->second);
      if (const auto e = epoch_.find(r); it != running_.end() && e != epoch_.end())
        ranks += " epoch " + std::to_string(e->second) + (long_task_epochs_ ? "/" + std::to_string(long_task_epochs_) : "");
    }
  } else {
    ranks = std::to_string(running_.size()) + " of " + std::to_string(ranks_) + " ranks busy";
  }
  s += " | " + ranks + " | " + human_seconds(elapsed) + " elapsed";
  if (done_ > 0 && elapsed > 0) {
    char rate[48];
    const double per_min = 60.0 * static_cast<double>(done_) / elapsed;
    std::snprintf(rate, sizeof rate, per_min >= 10 ? "%.0f trials/min" : "%.1f trials/min", per_min);
    s += ", " + std::string(rate);
  }
  if (const auto eta = eta_locked()) {
    s += ", ETA " + human_seconds(*eta);
  } else {
    // Name the kind of task whose first run the estimate waits for.
    for (const auto& [id, type] : task_type_)
      if (!finished_tasks_.count(id) && !durations_.count(type)) {
        s += ", ETA after the first " + std::string(name_of(type)) + " task";
        break;
      }
  }
  return s;
}

std::string Progress::status_line() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_line_locked();
}

nlohmann::json Progress::snapshot(RunState state) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = clock_();
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
  const auto eta = eta_locked();
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
          {"eta_s", eta ? nlohmann::json(*eta) : nlohmann::json(nullptr)},
          {"running", running}};
}

void Progress::note(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  line("note: " + text, nlohmann::json{{"event", "note"}, {"text", text}}.dump());
}

void Progress::pretrain(const PretrainRecord& p) {
  std::lock_guard<std::mutex> lock(mu_);
  char text[320];
  if (p.status == Status::ok)
    std::snprintf(text, sizeof text, "pretrained seed %lld: A-dev micro-F1 %.2f%% (best epoch %lld of %lld), %.0f examples/s, %.1f s on rank %lld",
                  (long long)p.seed, 100 * p.a_dev_micro_f1, (long long)p.best_epoch, (long long)p.epochs, p.examples_per_s,
                  p.wall_s, (long long)p.rank);
  else
    std::snprintf(text, sizeof text, "pretraining seed %lld FAILED on rank %lld: %s", (long long)p.seed,
                  (long long)p.rank, p.error.substr(0, 160).c_str());
  auto j = to_json(p);
  j.erase("curve");
  j["event"] = "pretrain";
  line(text, j.dump());
}

void Progress::trial(const TrialResult& r) {
  std::lock_guard<std::mutex> lock(mu_);
  ++done_;
  if (r.status != Status::ok) ++failed_;
  char text[512];
  const auto f1 = [&](EvalSplit s) { return r.metrics.count(s) ? r.metrics.at(s).micro_f1 : 0.0; };
  if (r.status == Status::ok)
    std::snprintf(text, sizeof text, "[%lld/%lld] %-18s dev micro-F1 %6.2f%%  test %6.2f%%  (rank %lld, %.1f s)",
                  (long long)done_, (long long)total_, r.key.id().c_str(), 100 * f1(EvalSplit::dev), 100 * f1(EvalSplit::test),
                  (long long)r.rank, r.wall_s);
  else
    std::snprintf(text, sizeof text, "[%lld/%lld] %-18s FAILED on rank %lld: %s", (long long)done_,
                  (long long)total_, r.key.id().c_str(), (long long)r.rank, r.error.substr(0, 300).c_str());
  nlohmann::json j{{"event", "trial"}, {"done", done_}, {"total", total_}, {"id", r.key.id()},
                   {"status", name_of(r.status)}, {"rank", r.rank}, {"wall_s", r.wall_s}};
  if (r.status == Status::ok) {
    j["dev_micro_f1"] = f1(EvalSplit::dev);
    j["test_micro_f1"] = f1(EvalSplit::test);
  } else {
    j["error"] = r.error;
  }
  line(text, j.dump());
  if (style_.format == LogFormat::json) {
    if (style_.quiet) return;
    const double elapsed = seconds_since(start_);
    nlohmann::json running = nlohmann::json::object();
    for (int64_t k = 0; k < ranks_; ++k) {
      auto it = running_.find(k);
      running[std::to_string(k)] = it == running_.end() ? "idle" : it->second;
    }
    const auto eta = eta_locked();
    out_ << nlohmann::json{{"event", "status"}, {"done", done_}, {"total", total_}, {"failed", failed_}, {"elapsed_s", elapsed},
                           {"eta_s", eta ? nlohmann::json(*eta) : nlohmann::json(nullptr)}, {"running", running}}.dump()
         << std::endl;
  } else if (!style_.live) {
    status_due(false);
  }
}

}  // namespace anchorsweep
