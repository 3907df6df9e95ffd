// Progress: one line per finished trial and a status line (done / total, failed, what each
// rank runs, ETA), as text or as JSON lines for machines; silent with --quiet. Its snapshot is
// what rank 0 writes to status.json for `anchorsweep status`.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/trial_result.hpp"

namespace anchorsweep {

class Progress {
 public:
  Progress(int64_t total_trials, int64_t ranks, LogFormat format, bool quiet);

  void started(int64_t rank, const std::string& task);
  void trial(const TrialResult& r);
  void pretrain(const PretrainRecord& p);
  void note(const std::string& text);
  void finished(int64_t rank);
  void epoch(int64_t rank, int64_t epoch);  // a long task on `rank` checkpointed this epoch

  int64_t done() const { return done_; }
  int64_t failed() const { return failed_; }

  // For the snapshot: each rank's host (rank order), and the trials done before this attempt.
  void set_context(std::vector<std::string> hosts, int64_t done_before);
  // status.json's content (docs: `anchorsweep status`): state ("running", "finished",
  // "stopped"), progress, throughput and ETA of this attempt, and what each busy rank runs, on
  // which host, for how long. Safe to call from any thread.
  nlohmann::json snapshot(RunState state) const;

 private:
  void status();
  void emit(const std::string& text_line, const std::string& json_line);

  int64_t total_, ranks_, done_ = 0, failed_ = 0;
  LogFormat format_;
  bool quiet_;
  std::map<int64_t, std::string> running_;
  std::map<int64_t, std::chrono::steady_clock::time_point> since_;
  std::map<int64_t, int64_t> epoch_;
  std::vector<std::string> hosts_;
  int64_t done_before_ = 0;
  std::chrono::steady_clock::time_point start_;
  mutable std::mutex mu_;  // the snapshot is read by the writer thread
};

}  // namespace anchorsweep
