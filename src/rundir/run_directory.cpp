#include "rundir/run_directory.hpp"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <sstream>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/files.hpp"
#include "rundir/journal.hpp"
#include "rundir/run_facts.hpp"

namespace anchorsweep {

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

namespace {

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

// Why dir/lock cannot be taken: "" when it is ours now. Held by another process (EWOULDBLOCK):
// who, from the owner note it wrote. Any other errno is a file system that cannot lock
// (ENOLCK: NFSv3 without lockd; ENOSYS, EOPNOTSUPP, EINVAL: Lustre mounted noflock, some FUSE):
// refused too, naming errno and path, since a sweep there could not keep another one out.
std::string lock_problem(const std::string& dir, int fd) {
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return "";
  const int err = errno;
  if (err == EWOULDBLOCK) return dir + ": another sweep is using this run directory (lock held by " + lock_owner(dir) + ")";
  const char* name = strerrorname_np(err);
  return dir + "/lock: this file system cannot lock (flock: " + (name ? name : std::to_string(err)) + ", " +
         std::strerror(err) + "), so a second sweep could append to the same journal. On a mount without locks "
         "(Lustre mounted noflock, NFSv3 without lockd) set run.lock = \"none\" and run one sweep at a time on this "
         "directory, or put run.output_dir on a file system that locks";
}

}  // namespace

std::string lock_owner(const std::string& dir) {
  std::string owner = read_file(dir + "/lock");
  while (!owner.empty() && owner.back() == '\n') owner.pop_back();
  return owner.empty() ? std::string("an unknown process") : owner;
}

std::string lock_scope_warning(const std::string& mounts, const std::string& path) {
  // The mount holding `path`: the longest mount point that is a prefix of it.
  std::istringstream in(mounts);
  std::string line, best_point, best_type, best_options;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string device, point, type, options;
    if (!(f >> device >> point >> type >> options)) continue;
    const bool under = path == point || point == "/" ||
                       (path.compare(0, point.size(), point) == 0 && path.size() > point.size() && path[point.size()] == '/');
    if (under && point.size() >= best_point.size()) {
      best_point = point;
      best_type = type;
      best_options = "," + options + ",";
    }
  }
  if (best_type.rfind("nfs", 0) != 0) return "";
  for (const char* local : {",local_lock=flock,", ",local_lock=all,"})
    if (best_options.find(local) != std::string::npos)
      return path + " is on an NFS mount (" + best_point + ") with " + std::string(local).substr(1, std::strlen(local) - 2) +
             ": its locks are local to this node, so a sweep on another node would not see this one's lock. Run one "
             "sweep at a time on this directory (a --resume only after the first has ended)";
  return "";
}

RunDirectory::RunDirectory(const SweepConfig& cfg, bool resume)
    : dir_(cfg.run_dir()), lock_mode_(cfg.run.lock), data_files_(data_fingerprints(cfg)) {
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
  if (lock_mode_ == LockMode::none)
    warnings_.push_back("run.lock = \"none\": nothing keeps a second sweep off " + dir_ +
                        "; run one sweep at a time on it (the lock file only names this one: " + local_host() + ")");
  char real[PATH_MAX];
  if (::realpath(dir_.c_str(), real)) {
    const std::string w = lock_scope_warning(read_file("/proc/self/mounts"), real);
    if (!w.empty() && lock_mode_ == LockMode::flock) warnings_.push_back(w);
  }
}

std::string run_directory_refusal(const SweepConfig& cfg) {
  const std::string dir = cfg.run_dir();
  if (!file_exists(dir + "/config.toml")) return "";
  // The lock is taken and let go at once: only to learn whether a sweep holds it now.
  const int fd = cfg.run.lock == LockMode::flock ? ::open((dir + "/lock").c_str(), O_RDONLY) : -1;
  if (fd >= 0) {
    const std::string problem = lock_problem(dir, fd);
    ::close(fd);
    if (!problem.empty()) return problem;
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
  const std::string problem = lock_mode_ == LockMode::flock ? lock_problem(dir_, lock_fd_) : "";
  if (!problem.empty()) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw InputError(problem);
  }
  // flock dies with the process, so a SIGKILLed sweep never leaves a stale lock behind. The note
  // names the owner for a second sweep (on this node or another) that finds the lock held.
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

void RunDirectory::adopt_pretrain(int64_t seed, const std::vector<char>& encoder, const nlohmann::json& record) {
  write_encoder(seed, encoder);
  append(record);
  prior_.pretrained_seeds.insert(seed);
  prior_.checkpoints.erase("pretrain-s" + std::to_string(seed));
}

void RunDirectory::adopt_trial(const std::string& trial_id, const std::vector<char>& checkpoint,
                               const nlohmann::json& record) {
  write_trial_checkpoint(trial_id, "encoder.pt", checkpoint);
  append(record);
  prior_.done_trials.insert(trial_id);
  if (trial_id.size() > 8 && trial_id.compare(trial_id.size() - 8, 8, "-scratch") == 0)
    prior_.checkpoints.erase("scratch-" + trial_id.substr(0, trial_id.size() - 8));
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
