#include "rundir/run_facts.hpp"

#include <map>
#include <sstream>

#include "common/files.hpp"
#include "common/errors.hpp"

namespace anchorsweep {

using nlohmann::json;

namespace {

std::string as_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::vector<std::string> text_list(const json& v) {
  std::vector<std::string> out;
  if (v.is_array()) {
    for (const auto& e : v) out.push_back(as_text(e));
  } else if (!v.is_null()) {
    out.push_back(as_text(v));
  }
  return out;
}

}  // namespace

RunInfo parse_run_info(const std::string& text, const std::string& name) {
  RunInfo info;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    info.warnings.push_back(name + ": not a JSON object; run facts omitted");
    return info;
  }
  info.present = true;
  info.raw = j;
  auto str = [&](const char* key, std::string& out) {
    if (auto it = j.find(key); it != j.end() && !it->is_null()) out = as_text(*it);
  };
  str("negative_label", info.negative_label);
  str("started", info.started);
  str("finished", info.finished);
  str("config_hash", info.config_hash);
  str("command", info.command);
  if (auto it = j.find("labels"); it != j.end()) info.labels = text_list(*it);
  if (auto it = j.find("hosts"); it != j.end()) info.hosts = text_list(*it);
  if (auto it = j.find("devices"); it != j.end()) info.devices = text_list(*it);
  if (auto it = j.find("shared_gpus"); it != j.end()) info.shared_gpus = text_list(*it);
  if (auto it = j.find("gpu_placement"); it != j.end() && it->is_string()) info.gpu_placement = it->get<std::string>();
  if (auto it = j.find("ranks"); it != j.end() && it->is_number()) info.ranks = it->get<int64_t>();
  if (auto it = j.find("wall_s"); it != j.end() && it->is_number()) info.wall_s = it->get<double>();
  if (auto it = j.find("planned_trials"); it != j.end()) info.planned_trials = text_list(*it);
  if (auto it = j.find("sweep_trials"); it != j.end()) info.sweep_trials = text_list(*it);
  if (auto it = j.find("data_files"); it != j.end() && it->is_object()) info.data_files = *it;
  if (auto it = j.find("versions"); it != j.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) info.versions.emplace_back(k, as_text(v));
  }
  return info;
}

RunInfo read_run_info(const std::string& run_dir) {
  const std::string path = run_dir + "/run.json";
  if (!file_exists(path)) return RunInfo{};
  return parse_run_info(read_file(path), path);
}

}  // namespace anchorsweep
