#include "report/results_reader.hpp"

#include <map>
#include <sstream>

#include "common/files.hpp"
#include "config/config.hpp"

namespace anchorsweep {

using nlohmann::json;

namespace {

std::vector<std::pair<size_t, std::string>> numbered_nonempty_lines(const std::string& text) {
  std::vector<std::pair<size_t, std::string>> out;
  std::istringstream in(text);
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") != std::string::npos) out.emplace_back(n, line);
  }
  return out;
}

}  // namespace

RunResults parse_results(const std::string& text, const std::string& name) {
  RunResults out;
  std::map<std::pair<std::string, std::string>, size_t> trial_at;  // (id, init) -> index
  std::map<int64_t, size_t> pretrain_at;
  const auto lines = numbered_nonempty_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& [lineno, line] = lines[i];
    const std::string where = name + ":" + std::to_string(lineno);
    json j;
    try {
      j = json::parse(line);
    } catch (const json::parse_error& e) {
      if (i + 1 == lines.size()) {
        out.warnings.push_back(where + ": torn last line skipped (a write was interrupted)");
        continue;
      }
      throw InputError(where + ": malformed: " + e.what());
    }
    try {
      if (!j.is_object()) throw InputError("not a JSON object");
      const std::string type = j.value("type", "");
      if (type == "trial") {
        TrialResult r = trial_from_json(j);
        auto key = std::make_pair(r.key.id(), r.init);
        if (auto it = trial_at.find(key); it != trial_at.end()) {
          out.trials[it->second] = std::move(r);
        } else {
          trial_at[key] = out.trials.size();
          out.trials.push_back(std::move(r));
        }
      } else if (type == "pretrain") {
        PretrainRecord p = pretrain_from_json(j);
        if (auto it = pretrain_at.find(p.seed); it != pretrain_at.end()) {
          out.pretrains[it->second] = std::move(p);
        } else {
          pretrain_at[p.seed] = out.pretrains.size();
          out.pretrains.push_back(std::move(p));
        }
      } else if (type.empty()) {
        throw InputError("no \"type\" field");
      } else {
        out.warnings.push_back(where + ": line of unknown type \"" + type + "\" ignored");
      }
    } catch (const std::exception& e) {
      throw InputError(where + ": malformed: " + e.what());
    }
  }
  return out;
}

RunResults read_results(const std::string& run_dir) {
  const std::string path = run_dir + "/results.jsonl";
  if (!file_exists(path)) throw InputError(path + ": no journal (results.jsonl) in the run directory");
  return parse_results(read_file(path), path);
}

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
  if (auto it = j.find("ranks"); it != j.end() && it->is_number()) info.ranks = it->get<int64_t>();
  if (auto it = j.find("wall_s"); it != j.end() && it->is_number()) info.wall_s = it->get<double>();
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
