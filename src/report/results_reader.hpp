// Reading run.json, a run directory's facts. The journal is read by sweep/journal.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sweep/journal.hpp"  // RunResults: the journal, read

namespace anchorsweep {

// run.json; every field optional. A missing file gives `present == false`.
struct RunInfo {
  bool present = false;
  std::vector<std::string> labels;
  std::string negative_label;
  std::optional<int64_t> ranks;
  std::vector<std::string> hosts, devices;
  std::vector<std::string> shared_gpus;  // "cuda:0 (…) on host: ranks 0, 2"
  std::string gpu_placement;
  std::vector<std::pair<std::string, std::string>> versions;
  std::string started, finished, config_hash, command;
  std::optional<double> wall_s;
  std::vector<std::string> warnings;      // unreadable file or fields of an unexpected type
};

RunInfo parse_run_info(const std::string& text, const std::string& name);
RunInfo read_run_info(const std::string& run_dir);

}  // namespace anchorsweep
