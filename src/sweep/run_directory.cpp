#include "sweep/run_directory.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/files.hpp"
#include "report/results_reader.hpp"

namespace anchorsweep {

RunDirectory::RunDirectory(const SweepConfig& cfg, bool resume) : dir_(cfg.run_dir()) {
  const std::string config_path = dir_ + "/config.toml";
  const bool exists = file_exists(config_path);
  if (exists) acquire_lock();  // a sweep still running here is the first thing to report
  if (exists && !resume)
    throw InputError(dir_ + ": run directory holds an earlier sweep; pass --resume to continue it, "
                     "or choose another run.name");
  if (exists) {
    auto changed = incompatible_changes(read_file(config_path), cfg.resolved_toml);
    if (!changed.empty()) {
      std::string keys;
      for (auto& k : changed) keys += (keys.empty() ? "" : ", ") + k;
      throw InputError(cfg.source_path + ": cannot resume " + dir_ + ": the config changed in " + keys +
                       " (only adding seeds or λ values is allowed; use a new run.name)");
    }
  }
  make_dirs(dir_ + "/encoders");
  make_dirs(dir_ + "/trials");
  if (!exists) acquire_lock();

  // Open the journal first: it cuts a torn last line, so what is read below is what stays.
  const std::string journal_path = dir_ + "/results.jsonl";
  journal_ = std::make_unique<Journal>(journal_path);
  prior_.torn = journal_->cut_torn_line();
  // What is already done: ok trials and pretrained seeds whose encoder survived.
  if (exists && file_exists(journal_path)) {
    const RunResults results = read_results(dir_);
    for (const auto& r : results.trials) {
      if (r.status == "ok")
        prior_.done_trials.insert(r.key.id());
      else
        ++prior_.failed_before;
    }
    for (const auto& p : results.pretrains)
      if (p.status == "ok" && file_exists(encoder_path(p.seed))) prior_.pretrained_seeds.insert(p.seed);
  }
  write_file_atomic(config_path, cfg.resolved_toml);
}

RunDirectory::~RunDirectory() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // closing releases the flock
}

void RunDirectory::acquire_lock() {
  const std::string path = dir_ + "/lock";
  lock_fd_ = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  if (lock_fd_ < 0) throw std::runtime_error(path + ": cannot open lock: " + std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    std::string owner = read_file(path);
    while (!owner.empty() && owner.back() == '\n') owner.pop_back();
    ::close(lock_fd_);
    lock_fd_ = -1;
    throw InputError(dir_ + ": another sweep is using this run directory (lock held by " +
                     (owner.empty() ? std::string("an unknown process") : owner) + ")");
  }
  // flock dies with the process, so a SIGKILLed sweep never leaves a stale lock behind.
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  const std::string who = std::string(host) + " pid " + std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) == 0 && ::write(lock_fd_, who.data(), who.size()) < 0) {
    // The owner note is a courtesy; the flock is what excludes.
  }
}

void RunDirectory::write_run_facts(const nlohmann::json& facts) {
  write_file_atomic(dir_ + "/run.json", facts.dump(2) + "\n");
}

void RunDirectory::append(const nlohmann::json& record) { journal_->append(record); }

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
