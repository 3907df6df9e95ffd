#include "sweep/merge.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "rundir/journal.hpp"
#include "rundir/run_directory.hpp"
#include "rundir/run_facts.hpp"
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
  RunInfo facts;                              // run.json
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
  s.facts = read_run_info(dir);
  if (!s.facts.present) throw InputError(dir + "/run.json: not a JSON object");
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

namespace {

// The shards, in index order, after checking that they are parts of one sweep.
std::vector<Shard> read_shards(const std::vector<std::string>& shard_dirs) {
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
    if (s.facts.data_files != first.facts.data_files)
      throw InputError(s.dir + ": ran on other data files than " + first.dir + " (run.json data_files differ)");
    if (s.facts.labels != first.facts.labels) throw InputError(s.dir + ": its labels differ from " + first.dir + "'s");
    for (const char* lib : {"anchorsweep", "libtorch"}) {
      const auto version = [&](const Shard& x) { return x.facts.raw.value("versions", json::object()).value(lib, std::string("?")); };
      if (version(s) != version(first))
        throw InputError(s.dir + ": ran " + lib + " " + version(s) + ", " + first.dir + " ran " + version(first) +
                         ": their results are not comparable bit for bit; rerun the shards with one build");
    }
    // CPU and GPU kernels sum in other orders: shards on both kinds would mix two arithmetics.
    const auto kinds = [](const Shard& x) {
      std::set<std::string> k;
      for (const auto& d : x.facts.devices) k.insert(d.rfind("cuda", 0) == 0 ? "cuda" : "cpu");
      std::string out;
      for (const auto& v : k) out += (out.empty() ? "" : "+") + v;
      return out;
    };
    if (kinds(s) != kinds(first))
      throw InputError(s.dir + " ran on " + kinds(s) + ", " + first.dir + " on " + kinds(first) +
                       ": their results are not comparable bit for bit; run the shards on one kind of device");
  }
  return shards;
}

// The records the merged journal keeps, and which shard each came from.
struct Kept {
  json record;
  size_t shard;
};
struct MergedJournal {
  std::vector<std::string> trial_order;  // "id|init", in first-seen order
  std::map<std::string, Kept> trials;
  std::map<int64_t, Kept> pretrains;
};

// Every trial once (a shard's later line wins within it, as on resume; across shards the first
// ok record wins), the first ok pretraining record per seed, no checkpoint lines (merged tasks
// are finished or start over). Each journal is read by rundir's one journal reader.
MergedJournal merge_journals(const std::vector<Shard>& shards, MergeResult& r) {
  MergedJournal m;
  for (size_t si = 0; si < shards.size(); ++si) {
    std::map<std::string, json> latest;  // this shard's last record per trial
    std::vector<std::string> order;
    for (auto& line : read_journal(shards[si].dir).lines) {
      if (line.type == RecordType::trial) {
        const std::string key = line.record.value("id", "") + "|" + line.record.value("init", "");
        if (!latest.count(key)) order.push_back(key);
        latest[key] = std::move(line.record);
      } else if (line.type == RecordType::pretrain && is_ok(line.record)) {
        const int64_t seed = line.record.value("seed", int64_t{0});
        if (auto kept = m.pretrains.find(seed); kept != m.pretrains.end()) {
          // Two shards pretrained this seed (fewer seeds than shards): their λ trials stand on
          // these encoders, so the bits must be the same, or the merged run mixes two models.
          const std::string a = kept->second.record.value("encoder_hash", ""), b = line.record.value("encoder_hash", "");
          if (!a.empty() && !b.empty() && a != b)
            throw InputError("seed " + std::to_string(seed) + " was pretrained by " + shards[kept->second.shard].dir + " and by " +
                             shards[si].dir + " into different encoders (FNV-1a " + a + " and " + b + "): their trials " +
                             "stand on two models. Shards on nodes that differ in BLAS kernels (run.json blas_kernels), "
                             "threads or device do not agree bit for bit; run them alike, or with at most as many "
                             "shards as seeds. Nothing was written");
        } else {
          m.pretrains[seed] = {std::move(line.record), si};
        }
      }
    }
    for (const auto& key : order) {
      json& j = latest[key];
      auto it = m.trials.find(key);
      if (it == m.trials.end()) {
        m.trial_order.push_back(key);
        m.trials[key] = {j, si};
        continue;
      }
      const std::string id = j.value("id", "");
      if (is_ok(it->second.record)) {
        r.duplicates.push_back(id + ": in " + shards[it->second.shard].dir + " and " + shards[si].dir + "; kept the first");
      } else {
        r.duplicates.push_back(id + ": in " + shards[it->second.shard].dir + " (" + it->second.record.value("status", "") +
                               ") and " + shards[si].dir + "; kept the second");
        it->second = {j, si};
      }
    }
  }
  return m;
}

// Links (or copies) the kept records' encoders and trial checkpoints into OUT; returns the
// merged journal's text and collects the ids of ok trials.
std::string write_merged_checkpoints(const std::string& out_dir, const std::vector<Shard>& shards,
                                     MergedJournal& m, std::set<std::string>& ok_ids, MergeResult& r) {
  make_dirs(out_dir + "/encoders");
  make_dirs(out_dir + "/trials");
  make_dirs(out_dir + "/checkpoints");
  std::string journal = journal_header().dump() + "\n";
  for (const auto& [seed, kept] : m.pretrains) {
    journal += kept.record.dump() + "\n";
    const std::string enc = "/encoders/seed-" + std::to_string(seed) + ".pt";
    if (file_exists(shards[kept.shard].dir + enc)) link_or_copy(shards[kept.shard].dir + enc, out_dir + enc, r);
  }
  for (const auto& key : m.trial_order) {
    const Kept& kept = m.trials[key];
    // (each trial directory is fsynced by merge_shards, after all links are made)
    journal += kept.record.dump() + "\n";
    ++r.trials;
    const std::string id = kept.record.value("id", "");
    if (is_ok(kept.record)) ok_ids.insert(id);
    const std::string from = shards[kept.shard].dir + "/trials/" + id;
    if (!is_directory(from)) continue;
    make_dirs(out_dir + "/trials/" + id);
    for (const auto& name : list_dir(from)) link_or_copy(from + "/" + name, out_dir + "/trials/" + id + "/" + name, r);
  }
  return journal;
}

// run.json: the first shard's facts, with what describes one job replaced by the shards' list.
json merged_facts(const std::vector<Shard>& shards, const std::vector<std::string>& planned, const std::string& config,
                  const MergeResult& r) {
  json facts = shards.front().facts.raw;
  json from = json::array();
  std::string started, finished;
  bool all_finished = true;
  double wall = 0;
  json hosts = json::array();
  int64_t ranks = 0;
  for (const Shard& s : shards) {
    const RunInfo& f = s.facts;
    const json& raw = f.raw;
    from.push_back({{"dir", s.dir},
                    {"shard", std::to_string(s.index) + "/" + std::to_string(s.count)},
                    {"ranks", raw.value("ranks", json())},
                    {"hosts", raw.value("hosts", json())},
                    {"started", raw.value("started", json())},
                    {"finished", raw.value("finished", json())},
                    {"wall_s", raw.value("wall_s", json())}});
    ranks += f.ranks.value_or(0);
    for (const auto& h : f.hosts)
      if (std::find(hosts.begin(), hosts.end(), h) == hosts.end()) hosts.push_back(h);
    if (!f.started.empty() && (started.empty() || f.started < started)) started = f.started;
    if (!f.finished.empty()) finished = std::max(finished, f.finished);
    else all_finished = false;
    if (f.wall_s) wall = std::max(wall, *f.wall_s);
  }
  for (const char* k : {"rank_placement", "rank0_traffic", "rank0_peak_rss_mb", "command"}) facts.erase(k);
  facts["merged_from"] = from;
  facts["shard"] = nullptr;
  facts["planned_trials"] = planned;
  facts["ranks"] = ranks;
  facts["hosts"] = hosts;
  facts["started"] = started.empty() ? json() : json(started);
  facts["finished"] = all_finished && r.missing_shards.empty() ? json(finished) : json();
  facts["wall_s"] = all_finished ? json(wall) : json();  // the longest shard: they ran side by side
  facts["config_hash"] = fnv1a_hex(config);
  return facts;
}

MergeResult merge_into(const std::string& out_dir, const std::string& final_dir, const std::vector<std::string>& shard_dirs);

// A shared flock on each shard's lock, held until the merge ends: a shard whose sweep still runs
// (it holds the lock exclusively) is refused, and none can start on it meanwhile.
class ShardLocks {
 public:
  explicit ShardLocks(const std::vector<std::string>& dirs) {
    for (const auto& d : dirs) {
      const int fd = ::open((d + "/lock").c_str(), O_RDONLY);
      if (fd < 0) continue;  // no lock file: no sweep ever held it
      fds_.push_back(fd);
      if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK)
        throw InputError(d + ": a sweep is still running in this shard (lock held by " + lock_owner(d) +
                         "); merge it once it has ended");
    }
  }
  ~ShardLocks() {
    for (int fd : fds_) ::close(fd);
  }

 private:
  std::vector<int> fds_;
};

// Every directory the merge made, fsynced deepest first: hard links and renames are durable only
// once their directory is.
void fsync_tree(const std::string& dir) {
  for (const auto& name : list_dir(dir))
    if (is_directory(dir + "/" + name)) fsync_tree(dir + "/" + name);
  fsync_directory(dir);
}

}  // namespace

MergeResult merge_shards(const std::string& out_dir, const std::vector<std::string>& shard_dirs) {
  if (shard_dirs.empty()) throw InputError("merge: no shard directories given");
  if (file_exists(out_dir) && !(is_directory(out_dir) && list_dir(out_dir).empty()))
    throw InputError(out_dir + ": exists and is not empty; merge writes a new run directory");
  const ShardLocks locks(shard_dirs);
  // Built under a temporary name beside OUT and renamed when complete: a merge that crashes
  // leaves OUT as it was (absent or empty), so the next merge goes ahead.
  const std::string final_dir = out_dir;
  const std::string building = final_dir + ".merging-" + std::to_string(::getpid());
  return merge_into(building, final_dir, shard_dirs);
}

namespace {

MergeResult merge_into(const std::string& out_dir, const std::string& final_dir, const std::vector<std::string>& shard_dirs) {
  const std::vector<Shard> shards = read_shards(shard_dirs);
  const Shard& first = shards.front();

  MergeResult r;
  r.out_dir = out_dir;
  r.shards = static_cast<int64_t>(shards.size());
  r.shard_count = first.count;
  std::set<int64_t> present;
  for (const Shard& s : shards) present.insert(s.index);
  for (int64_t i = 1; i <= first.count; ++i)
    if (!present.count(i)) r.missing_shards.push_back(std::to_string(i) + "/" + std::to_string(first.count));

  MergedJournal merged = merge_journals(shards, r);
  std::set<std::string> ok_ids;
  const std::string journal = write_merged_checkpoints(out_dir, shards, merged, ok_ids, r);

  // Gaps: trials of the whole sweep (every shard's run.json lists them) with no ok record: those
  // of missing shards, and any a shard failed or never reached.
  std::vector<std::string> planned;
  for (const Shard& s : shards)
    for (const auto* ids : {&s.facts.sweep_trials, &s.facts.planned_trials})
      for (const auto& id : *ids)
        if (std::find(planned.begin(), planned.end(), id) == planned.end()) planned.push_back(id);
  for (const auto& id : planned)
    if (!ok_ids.count(id)) r.gaps.push_back(id);

  const std::string config = without_shard_line(first.config);
  write_file_atomic(out_dir + "/config.toml", config);
  write_file_atomic(out_dir + "/run.json", merged_facts(shards, planned, config, r).dump(2) + "\n");
  write_file_atomic(out_dir + "/results.jsonl", journal);
  fsync_tree(out_dir);
  if (is_directory(final_dir)) ::rmdir(final_dir.c_str());  // the empty OUT a user may have made
  if (::rename(out_dir.c_str(), final_dir.c_str()) != 0)
    throw std::runtime_error(out_dir + " -> " + final_dir + ": cannot rename the merged run directory: " + std::strerror(errno));
  fsync_directory(parent_dir(final_dir));
  r.out_dir = final_dir;
  return r;
}

}  // namespace

}  // namespace anchorsweep
