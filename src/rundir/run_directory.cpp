#include "rundir/run_directory.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/files.hpp"
#include "rundir/journal.hpp"
#include "rundir/run_facts.hpp"

namespace anchorsweep {

namespace {

nlohmann::json data_fingerprints(const SweepConfig& cfg) {
  nlohmann::json files = nlohmann::json::object();
  if (cfg.data.format != DataFormat::synthetic) {  // generated data is fixed by the config itself
    for (auto [key, path] : {std::pair<const char*, const std::string*>{"a_train", &cfg.data.a_train},
                             {"a_dev", &cfg.data.a_dev}, {"b_train", &cfg.data.b_train},
                             {"b_dev", &cfg.data.b_dev}, {"b_test", &cfg.data.b_test}}) {
      if (path->empty()) continue;  // data.format = "features" has no A
      const auto f = fingerprint_file(*path);
      files[key] = {{"path", *path}, {"size", f.size}, {"fnv1a", f.hash}};
    }
  }
  return files;
}

// Resume mixes old and new results only when they come from the same data, byte for byte.
std::string inputs_changed(const SweepConfig& cfg, const std::string& dir, const nlohmann::json& now) {
  const RunInfo facts = read_run_info(dir);
  const auto& before = facts.data_files;  // empty for an older run: nothing recorded
  for (const auto& [key, was] : before.items()) {
    if (!now.contains(key)) continue;
    const auto& is = now[key];
    if (was.value("size", uint64_t{0}) != is["size"].get<uint64_t>() || was.value("fnv1a", "") != is["fnv1a"].get<std::string>())
      return cfg.source_path + ": data." + key + ": cannot resume " + dir + ": " + is["path"].get<std::string>() +
             " differs from the file the run began with (size " + std::to_string(was.value("size", uint64_t{0})) +
             " -> " + std::to_string(is["size"].get<uint64_t>()) + ", FNV-1a " + was.value("fnv1a", std::string("?")) +
             " -> " + is["fnv1a"].get<std::string>() + "); results would mix two data sets: use a new run.name";
  }
  return "";
}

std::string config_changed(const SweepConfig& cfg, const std::string& dir) {
  const auto changed = incompatible_changes(read_file(dir + "/config.toml"), cfg.resolved_toml);
  if (changed.empty()) return "";
  std::string keys;
  for (auto& k : changed) keys += (keys.empty() ? "" : ", ") + k;
  return cfg.source_path + ": cannot resume " + dir + ": the config changed in " + keys +
         " (only adding seeds or λ values is allowed; use a new run.name)";
}

// "" when no other process holds dir/lock; else who does (the owner note it wrote).
std::string lock_holder(const std::string& dir, int fd) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return "";
  std::string owner = read_file(dir + "/lock");
  while (!owner.empty() && owner.back() == '\n') owner.pop_back();
  return owner.empty() ? std::string("an unknown process") : owner;
}

std::string lock_refusal(const std::string& dir, const std::string& holder) {
  return dir + ": another sweep is using this run directory (lock held by " + holder + ")";
}

}  // namespace

RunDirectory::RunDirectory(const SweepConfig& cfg, bool resume)
    : dir_(cfg.run_dir()), data_files_(data_fingerprints(cfg)) {
  const std::string config_path = dir_ + "/config.toml";
  const bool exists = file_exists(config_path);
  if (exists) acquire_lock();  // a sweep still running here is the first thing to report
  if (exists && !resume)
    throw InputError(dir_ + ": run directory holds an earlier sweep; pass --resume to continue it, "
                     "or choose another run.name");
  if (exists) {
    std::string refusal = config_changed(cfg, dir_);
    if (refusal.empty()) refusal = inputs_changed(cfg, dir_, data_files_);
    if (!refusal.empty()) throw InputError(refusal);
  }
  make_dirs(dir_ + "/encoders");
  make_dirs(dir_ + "/trials");
  make_dirs(dir_ + "/checkpoints");
  if (!exists) acquire_lock();

  // Open the journal first: it cuts a torn last line, so what is read below is what stays.
  const std::string journal_path = dir_ + "/results.jsonl";
  journal_ = std::make_unique<Journal>(journal_path);
  prior_.torn = journal_->cut_torn_line();
  // What is already done: ok trials and pretrained seeds whose encoder survived.
  if (exists && file_exists(journal_path)) {
    const RunResults results = read_results(dir_);
    for (const auto& r : results.trials) {
      if (r.status == Status::ok)
        prior_.done_trials.insert(r.key.id());
      else
        ++prior_.failed_before;
    }
    for (const auto& p : results.pretrains)
      if (p.status == Status::ok && file_exists(encoder_path(p.seed))) prior_.pretrained_seeds.insert(p.seed);
    // The latest journaled checkpoint of each task whose file is still there.
    for (const auto& c : results.checkpoints)
      if (file_exists(checkpoint_path(c.task))) prior_.checkpoints[c.task] = c.epoch;
    // A task that finished keeps no checkpoint; neither does one whose line the crash tore off.
    for (int64_t seed : prior_.pretrained_seeds) prior_.checkpoints.erase("pretrain-s" + std::to_string(seed));
    for (const auto& id : prior_.done_trials)
      if (id.size() > 8 && id.compare(id.size() - 8, 8, "-scratch") == 0)
        prior_.checkpoints.erase("scratch-" + id.substr(0, id.size() - 8));
  }
  // Leftovers of a crash: temporary files, and checkpoints no journaled line vouches for.
  for (const auto& name : list_dir(dir_ + "/checkpoints")) {
    const bool vouched = name.size() > 5 && name.compare(name.size() - 5, 5, ".ckpt") == 0 &&
                         prior_.checkpoints.count(name.substr(0, name.size() - 5));
    if (!vouched) remove_file_durably(dir_ + "/checkpoints/" + name);
  }
  write_file_atomic(config_path, cfg.resolved_toml);
}

std::string run_directory_refusal(const SweepConfig& cfg) {
  const std::string dir = cfg.run_dir();
  if (!file_exists(dir + "/config.toml")) return "";
  // The lock is taken and let go at once: only to learn whether a sweep holds it now.
  const int fd = ::open((dir + "/lock").c_str(), O_RDONLY);
  if (fd >= 0) {
    const std::string holder = lock_holder(dir, fd);
    ::close(fd);
    if (!holder.empty()) return lock_refusal(dir, holder);
  }
  std::string refusal = config_changed(cfg, dir);
  if (refusal.empty()) refusal = inputs_changed(cfg, dir, data_fingerprints(cfg));
  return refusal;
}

RunDirectory::~RunDirectory() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // closing releases the flock
}

void RunDirectory::acquire_lock() {
  const std::string path = dir_ + "/lock";
  lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  if (lock_fd_ < 0) throw std::runtime_error(path + ": cannot open lock: " + std::strerror(errno));
  const std::string holder = lock_holder(dir_, lock_fd_);
  if (!holder.empty()) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw InputError(lock_refusal(dir_, holder));
  }
  // flock dies with the process, so a SIGKILLed sweep never leaves a stale lock behind.
  const std::string who = local_host() + " pid " + std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) == 0 && ::write(lock_fd_, who.data(), who.size()) < 0) {
    // The owner note is a courtesy; the flock is what excludes.
  }
}

void RunDirectory::write_run_facts(const nlohmann::json& facts) {
  write_file_atomic(dir_ + "/run.json", facts.dump(2) + "\n");
}

void RunDirectory::write_status(const nlohmann::json& status) {
  write_file_atomic(dir_ + "/status.json", status.dump(2) + "\n");
}

void RunDirectory::append(const nlohmann::json& record) { journal_->append(record); }
void RunDirectory::append_many(const std::vector<nlohmann::json>& records) { journal_->append_many(records); }

std::string RunDirectory::checkpoint_path(const std::string& task_id) const {
  return dir_ + "/checkpoints/" + task_id + ".ckpt";
}

void RunDirectory::write_task_checkpoint(const std::string& task_id, const std::vector<char>& bytes) {
  write_file_atomic(checkpoint_path(task_id), std::string(bytes.begin(), bytes.end()));
}

std::vector<char> RunDirectory::read_task_checkpoint(const std::string& task_id) const {
  auto s = read_file(checkpoint_path(task_id));
  return std::vector<char>(s.begin(), s.end());
}

void RunDirectory::remove_task_checkpoint(const std::string& task_id) { remove_file_durably(checkpoint_path(task_id)); }

std::string RunDirectory::encoder_path(int64_t seed) const {
  return dir_ + "/encoders/seed-" + std::to_string(seed) + ".pt";
}

void RunDirectory::write_encoder(int64_t seed, const std::vector<char>& bytes) {
  write_file_atomic(encoder_path(seed), std::string(bytes.begin(), bytes.end()));
}

std::vector<char> RunDirectory::read_encoder(int64_t seed) const {
  auto s = read_file(encoder_path(seed));
  return std::vector<char>(s.begin(), s.end());
}

void RunDirectory::write_trial_checkpoint(const std::string& trial_id, const std::string& file,
                                          const std::vector<char>& bytes) {
  const std::string d = dir_ + "/trials/" + trial_id;
  make_dirs(d);
  write_file_atomic(d + "/" + file, std::string(bytes.begin(), bytes.end()));
}

}  // namespace anchorsweep
