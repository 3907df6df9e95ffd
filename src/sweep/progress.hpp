// Progress: what rank 0 tells a person (or a log) while the sweep runs.
//
//   - event lines: each pretrained seed, each finished trial, notes; F1 in percent, times to 0.1 s;
//   - one status line: trials done / total, failed, what each rank runs (epoch e/N of a long
//     task), the rate, and an ETA once every kind of task still to run has finished once (before
//     that an estimate would only echo the first task's kind: pretraining is slow, finetuning fast).
//     On a terminal it is one line redrawn in place (every second and on each event); in a log
//     file or under SLURM it is printed at most every `status_every_s` seconds.
//   - --log-format json: one JSON object per event and a status event per trial, for machines;
//   - --quiet: nothing.
// Its snapshot is what rank 0 writes to status.json for `anchorsweep status`.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/trial_result.hpp"
#include "sweep/plan.hpp"

namespace anchorsweep {

struct ProgressStyle {
  LogFormat format = LogFormat::text;
  bool quiet = false;
  bool live = false;             // a terminal: the status line is redrawn in place
  double status_every_s = 30;    // not live: a status line at most this often
};

// "37.5 s" under two minutes, "4 min 05 s" under two hours, else "3 h 07 min".
std::string human_seconds(double s);

// live when stdout is a terminal and the format is text.
ProgressStyle progress_style(LogFormat format, bool quiet, double status_every_s);

class Progress {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  Progress(int64_t total_trials, int64_t ranks, ProgressStyle style, std::ostream& out = std::cout,
           Clock clock = [] { return std::chrono::steady_clock::now(); });
  ~Progress();  // close()
  // Stops the ticker and clears a live status line, so that what follows starts on a clean line.
  void close();

  // The tasks of this attempt (for the ETA) and the epochs of a pretrain or scratch task.
  void set_tasks(const std::vector<Task>& tasks, int64_t long_task_epochs);
  // Each rank's host (rank order), and the trials done before this attempt.
  void set_context(std::vector<std::string> hosts, int64_t done_before);
  // A thread that calls tick() every second until destruction (not in tests: they call tick()).
  void start_ticker();

  void started(int64_t rank, const std::string& task);
  void epoch(int64_t rank, int64_t epoch);  // a long task on `rank` finished this epoch
  void finished(int64_t rank);
  void trial(const TrialResult& r);
  void pretrain(const PretrainRecord& p);
  void note(const std::string& text);
  void tick();  // live: redraw; log: print the status line when it is due

  int64_t done() const { return done_; }
  int64_t failed() const { return failed_; }
  // The status line as it reads now, and the ETA in seconds (nullopt until it means something).
  std::string status_line() const;
  std::optional<double> eta_s() const;

  // status.json's content (docs: `anchorsweep status`): state ("running", "finished",
  // "stopped"), progress, throughput and ETA of this attempt, and what each busy rank runs, on
  // which host, for how long. Safe to call from any thread.
  nlohmann::json snapshot(RunState state) const;

 private:
  void line(const std::string& text_line, const std::string& json_line);  // an event line; mu_ held
  void status_due(bool force);                                            // mu_ held
  std::string status_line_locked() const;
  std::optional<double> eta_locked() const;
  double seconds_since(std::chrono::steady_clock::time_point t) const;

  int64_t total_, ranks_, done_ = 0, failed_ = 0;
  ProgressStyle style_;
  std::ostream& out_;
  Clock clock_;
  std::map<int64_t, std::string> running_;   // rank -> task id (or "<id> (with rank r)")
  std::map<int64_t, std::chrono::steady_clock::time_point> since_;
  std::map<int64_t, int64_t> epoch_;
  std::map<std::string, TaskType> task_type_;  // this attempt's tasks
  std::set<std::string> finished_tasks_;
  std::map<TaskType, std::vector<double>> durations_;  // seconds per finished task, by type
  int64_t long_task_epochs_ = 0;
  std::vector<std::string> hosts_;
  int64_t done_before_ = 0;
  std::chrono::steady_clock::time_point start_, last_status_;
  bool status_printed_ = false, live_drawn_ = false;
  mutable std::mutex mu_;  // the snapshot is read by the writer thread, events come from the service thread
  std::thread ticker_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
};

}  // namespace anchorsweep
