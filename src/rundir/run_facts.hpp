// Reading run.json, a run directory's facts: the one place that parses it (the report, merge,
// status and resume all read it here). The journal is read by rundir/journal.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

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
  std::vector<std::string> planned_trials;  // this run's trials (a shard's own), by id
  std::vector<std::string> sweep_trials;    // the whole sweep's trials (differs for a shard)
  nlohmann::json data_files = nlohmann::json::object();  // key -> {path, size, fnv1a}
  nlohmann::json raw;                     // the whole object, for merge to carry forward
  std::vector<std::string> warnings;      // unreadable file or fields of an unexpected type
};

RunInfo parse_run_info(const std::string& text, const std::string& name);
RunInfo read_run_info(const std::string& run_dir);

}  // namespace anchorsweep
