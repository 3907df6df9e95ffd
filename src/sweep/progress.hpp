// Progress: one line per finished trial and a status line (done / total, failed, what each
// rank runs, ETA), as text or as JSON lines for machines; silent with --quiet.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "common/trial_result.hpp"

namespace anchorsweep {

class Progress {
 public:
  Progress(int64_t total_trials, int64_t ranks, std::string format, bool quiet);

  void started(int64_t rank, const std::string& task);
  void trial(const TrialResult& r);
  void pretrain(const PretrainRecord& p);
  void note(const std::string& text);
  void finished(int64_t rank);

  int64_t done() const { return done_; }
  int64_t failed() const { return failed_; }

 private:
  void status();
  void emit(const std::string& text_line, const std::string& json_line);

  int64_t total_, ranks_, done_ = 0, failed_ = 0;
  std::string format_;
  bool quiet_;
  std::map<int64_t, std::string> running_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace anchorsweep
