#include "sweep/merge.hpp"

#include <cstdio>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "sweep/journal.hpp"
#include "config/config.hpp"

namespace anchorsweep {

namespace {

// A journal record that says status ok.
bool is_ok(const nlohmann::json& j) { return parse_name<Status>(j.value("status", "")) == Status::ok; }

using json = nlohmann::json;

struct Shard {
  std::string dir, config;                    // config: config.toml as written
  std::map<std::string, std::string> values;  // the same, flattened (flatten_toml)
  int64_t index = 0, count = 0;
  json facts;                                 // run.json
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

bool is_shard_line(const std::string& line) { return line.rfind("shard = ", 0) == 0; }

Shard read_shard(const std::string& dir) {
  Shard s;
  s.dir = dir;
  if (!file_exists(dir + "/config.toml")) throw InputError(dir + ": no config.toml (not a run directory)");
  if (!file_exists(dir + "/results.jsonl")) throw InputError(dir + ": no results.jsonl (nothing ran here)");
  if (!file_exists(dir + "/run.json")) throw InputError(dir + ": no run.json (the run never started)");
  s.config = read_file(dir + "/config.toml");
  try {
    s.values = flatten_toml(s.config);
  } catch (const ConfigError& e) {
    throw InputError(dir + "/config.toml: " + e.what());
  }
  long long i = 0, n = 0;
  if (auto it = s.values.find("run.shard");
      it != s.values.end() && std::sscanf(it->second.c_str(), "\"%lld/%lld\"", &i, &n) == 2) {
    s.index = i;
    s.count = n;
  }
  if (s.count == 0)
    throw InputError(dir + ": not a shard (its config.toml has no run.shard; run it with --shard i/n)");
  s.facts = json::parse(read_file(dir + "/run.json"), nullptr, false);
  if (!s.facts.is_object()) throw InputError(dir + "/run.json: not a JSON object");
  return s;
}

// "" when equal but for run.shard, else the first key whose values differ.
std::string config_difference(const Shard& a, const Shard& b) {
  std::set<std::string> keys;
  for (const auto* m : {&a.values, &b.values})
    for (const auto& [k, v] : *m) keys.insert(k);
  for (const auto& k : keys) {
    if (k == "run.shard") continue;
    auto x = a.values.find(k), y = b.values.find(k);
    const std::string vx = x == a.values.end() ? "(not set)" : x->second, vy = y == b.values.end() ? "(not set)" : y->second;
    if (vx != vy) return k + ": " + vx + " vs " + vy;
  }
  return "";
}

// A file of a shard into OUT: a hard link where possible (same filesystem), else a copy.
void link_or_copy(const std::string& from, const std::string& to, MergeResult& r) {
  if (::link(from.c_str(), to.c_str()) == 0) {
    ++r.linked;
    return;
  }
  write_file_atomic(to, read_file(from));
  ++r.copied;
}

}  // namespace

std::string without_shard_line(const std::string& resolved_toml) {
  std::string out;
  for (const auto& line : lines_of(resolved_toml))
    if (!is_shard_line(line)) out += line + "\n";
  return out;
}

MergeResult merge_shards(const std::string& out_dir, const std::vector<std::string>& shard_dirs) {
  if (shard_dirs.empty()) throw InputError("merge: no shard directories given");
  if (file_exists(out_dir) && !(is_directory(out_dir) && list_dir(out_dir).empty()))
    throw InputError(out_dir + ": exists and is not empty; merge writes a new run directory");

  std::vector<Shard> shards;
  for (const auto& d : shard_dirs) shards.push_back(read_shard(d));
  std::sort(shards.begin(), shards.end(), [](const Shard& a, const Shard& b) { return a.index < b.index; });
  const Shard& first = shards.front();
  for (size_t i = 0; i < shards.size(); ++i) {
    const Shard& s = shards[i];
    if (s.count != first.count)
      throw InputError(s.dir + ": shard " + std::to_string(s.index) + "/" + std::to_string(s.count) + " belongs to another "
                       "split than " + first.dir + "'s " + std::to_string(first.index) + "/" + std::to_string(first.count));
    if (i > 0 && s.index == shards[i - 1].index)
      throw InputError("shard " + std::to_string(s.index) + "/" + std::to_string(s.count) + " given twice: " +
                       shards[i - 1].dir + " and " + s.dir);
    if (const std::string diff = config_difference(first, s); !diff.empty())
      throw InputError(s.dir + ": its config.toml differs from " + first.dir + "'s (" + diff +
                       "); only shards of one sweep can be merged");
    if (s.facts.value("data_files", json()) != first.facts.value("data_files", json()))
      throw InputError(s.dir + ": ran on other data files than " + first.dir + " (run.json data_files differ)");
    if (s.facts.value("labels", json()) != first.facts.value("labels", json()))
      throw InputError(s.dir + ": its labels differ from " + first.dir + "'s");
  }

  MergeResult r;
  r.out_dir = out_dir;
  r.shards = static_cast<int64_t>(shards.size());
  r.shard_count = first.count;
  std::set<int64_t> present;
  for (const Shard& s : shards) present.insert(s.index);
  for (int64_t i = 1; i <= first.count; ++i)
    if (!present.count(i)) r.missing_shards.push_back(std::to_string(i) + "/" + std::to_string(first.count));

  // The journals: every trial once (a shard's later line wins within it, as on resume; across
  // shards the first ok record wins), the first ok pretraining record per seed, no checkpoint
  // lines (merged tasks are finished or start over).
  struct Kept {
    json record;
    size_t shard;
  };
  std::vector<std::string> trial_order;
  std::map<std::string, Kept> trials;
  std::map<int64_t, Kept> pretrains;
  for (size_t si = 0; si < shards.size(); ++si) {
    const auto lines = lines_of(read_file(shards[si].dir + "/results.jsonl"));
    std::map<std::string, json> latest;  // this shard's last record per trial
    std::vector<std::string> order;
    for (size_t li = 0; li < lines.size(); ++li) {
      if (lines[li].empty()) continue;
      json j = json::parse(lines[li], nullptr, false);
      if (j.is_discarded()) {
        if (li + 1 == lines.size()) continue;  // a torn last line
        throw InputError(shards[si].dir + "/results.jsonl:" + std::to_string(li + 1) + ": malformed");
      }
      const auto type = parse_name<RecordType>(j.value("type", ""));
      if (type == RecordType::journal) {
        check_journal_header(j, shards[si].dir + "/results.jsonl:" + std::to_string(li + 1));
      } else if (type == RecordType::trial) {
        const std::string key = j.value("id", "") + "|" + j.value("init", "");
        if (!latest.count(key)) order.push_back(key);
        latest[key] = j;
      } else if (type == RecordType::pretrain && is_ok(j)) {
        const int64_t seed = j.value("seed", int64_t{0});
        if (!pretrains.count(seed)) pretrains[seed] = {j, si};
      }
    }
    for (const auto& key : order) {
      json& j = latest[key];
      auto it = trials.find(key);
      if (it == trials.end()) {
        trial_order.push_back(key);
        trials[key] = {j, si};
        continue;
      }
      const bool kept_ok = is_ok(it->second.record);
      const std::string id = j.value("id", "");
      if (kept_ok) {
        r.duplicates.push_back(id + ": in " + shards[it->second.shard].dir + " and " + shards[si].dir + "; kept the first");
      } else {
        r.duplicates.push_back(id + ": in " + shards[it->second.shard].dir + " (" + it->second.record.value("status", "") +
                               ") and " + shards[si].dir + "; kept the second");
        it->second = {j, si};
      }
    }
  }

  make_dirs(out_dir + "/encoders");
  make_dirs(out_dir + "/trials");
  make_dirs(out_dir + "/checkpoints");
  std::string journal = journal_header().dump() + "\n";
  for (const auto& [seed, kept] : pretrains) {
    journal += kept.record.dump() + "\n";
    const std::string enc = "/encoders/seed-" + std::to_string(seed) + ".pt";
    if (file_exists(shards[kept.shard].dir + enc)) link_or_copy(shards[kept.shard].dir + enc, out_dir + enc, r);
  }
  std::set<std::string> ok_ids;
  for (const auto& key : trial_order) {
    const Kept& kept = trials[key];
    journal += kept.record.dump() + "\n";
    ++r.trials;
    const std::string id = kept.record.value("id", "");
    if (is_ok(kept.record)) ok_ids.insert(id);
    const std::string from = shards[kept.shard].dir + "/trials/" + id;
    if (!is_directory(from)) continue;
    make_dirs(out_dir + "/trials/" + id);
    for (const auto& name : list_dir(from)) link_or_copy(from + "/" + name, out_dir + "/trials/" + id + "/" + name, r);
  }

  // Gaps: trials of the whole sweep (every shard's run.json lists them) with no ok record: those
  // of missing shards, and any a shard failed or never reached.
  std::vector<std::string> planned;
  for (const Shard& s : shards)
    for (const char* key : {"sweep_trials", "planned_trials"})
      for (const auto& id : s.facts.value(key, std::vector<std::string>{}))
        if (std::find(planned.begin(), planned.end(), id) == planned.end()) planned.push_back(id);
  for (const auto& id : planned)
    if (!ok_ids.count(id)) r.gaps.push_back(id);

  // run.json: the first shard's facts, with what describes one job replaced by the shards' list.
  json facts = first.facts;
  json from = json::array();
  std::string started, finished;
  bool all_finished = true;
  double wall = 0;
  json hosts = json::array();
  int64_t ranks = 0;
  for (const Shard& s : shards) {
    const json& f = s.facts;
    from.push_back({{"dir", s.dir},
                    {"shard", std::to_string(s.index) + "/" + std::to_string(s.count)},
                    {"ranks", f.value("ranks", json())},
                    {"hosts", f.value("hosts", json())},
                    {"started", f.value("started", json())},
                    {"finished", f.value("finished", json())},
                    {"wall_s", f.value("wall_s", json())}});
    ranks += f.value("ranks", int64_t{0});
    for (const auto& h : f.value("hosts", json::array()))
      if (std::find(hosts.begin(), hosts.end(), h) == hosts.end()) hosts.push_back(h);
    const std::string st = f.value("started", json()).is_string() ? f["started"].get<std::string>() : "";
    if (!st.empty() && (started.empty() || st < started)) started = st;
    if (f.value("finished", json()).is_string()) finished = std::max(finished, f["finished"].get<std::string>());
    else all_finished = false;
    if (f.value("wall_s", json()).is_number()) wall = std::max(wall, f["wall_s"].get<double>());
  }
  for (const char* k : {"rank_placement", "rank0_traffic", "rank0_peak_rss_mb", "command"}) facts.erase(k);
  const std::string config = without_shard_line(first.config);
  facts["merged_from"] = from;
  facts["shard"] = nullptr;
  facts["planned_trials"] = planned;
  facts["ranks"] = ranks;
  facts["hosts"] = hosts;
  facts["started"] = started.empty() ? json() : json(started);
  facts["finished"] = all_finished && r.missing_shards.empty() ? json(finished) : json();
  facts["wall_s"] = all_finished ? json(wall) : json();  // the longest shard: they ran side by side
  facts["config_hash"] = fnv1a_hex(config);

  write_file_atomic(out_dir + "/config.toml", config);
  write_file_atomic(out_dir + "/run.json", facts.dump(2) + "\n");
  write_file_atomic(out_dir + "/results.jsonl", journal);
  return r;
}

}  // namespace anchorsweep
