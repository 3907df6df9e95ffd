// Reading a run directory's inputs: the journal (results.jsonl) and run.json.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sweep/trial_result.hpp"

namespace anchorsweep {

struct RunResults {
  std::vector<TrialResult> trials;        // one per (id, init); the later line wins
  std::vector<PretrainRecord> pretrains;  // one per seed; the later line wins
  std::vector<std::string> warnings;      // e.g. a torn last line that was skipped
};

// Parses journal text. `name` prefixes error messages ("NAME:LINE: malformed ...").
// A last non-empty line that is not JSON is skipped with a warning (a crash mid-write);
// any other bad line throws InputError.
RunResults parse_results(const std::string& text, const std::string& name);

// RUN_DIR/results.jsonl; throws InputError when it does not exist.
RunResults read_results(const std::string& run_dir);

// run.json; every field optional. A missing file gives `present == false`.
struct RunInfo {
  bool present = false;
  std::vector<std::string> labels;
  std::string negative_label;
  std::optional<int64_t> ranks;
  std::vector<std::string> hosts, devices;
  std::vector<std::pair<std::string, std::string>> versions;
  std::string started, finished, config_hash, command;
  std::optional<double> wall_s;
  std::vector<std::string> warnings;      // unreadable file or fields of an unexpected type
};

RunInfo parse_run_info(const std::string& text, const std::string& name);
RunInfo read_run_info(const std::string& run_dir);

}  // namespace anchorsweep
