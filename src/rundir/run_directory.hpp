// RunDirectory: rank 0's single writer of runs/<name>/.
//
//   config.toml         the resolved config (after --set)
//   run.json            run facts: labels, ranks, hosts, devices, versions, times
//   lock                flock'ed while a sweep runs; holds the owner's host and pid
//   status.json         rank 0's progress, rewritten every 2 s while it runs (`anchorsweep status`)
//   results.jsonl       the journal
//   encoders/seed-<s>.pt, trials/<id>/adapter.pt (or encoder.pt for scratch)
//   checkpoints/<task>.ckpt  the last epoch state of an unfinished pretrain or scratch task
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "rundir/journal.hpp"
#include "common/trial_result.hpp"

namespace anchorsweep {

// What an earlier sweep on this directory finished.
struct PriorWork {
  std::set<std::string> done_trials;         // ok trials, by id
  std::set<int64_t> pretrained_seeds;        // ok pretrain records whose encoder file exists
  int64_t failed_before = 0;                 // failed trials that will run again
  std::map<std::string, int64_t> checkpoints;  // task id -> epoch of its checkpoint file
  bool torn = false;
};

// Why `run` (with or without --resume) would refuse cfg's run directory as it stands: a sweep
// holding its lock, a config changed beyond added seeds and λ, or data files with other bytes.
// "" where it would go ahead. The same text `run` exits 2 with; the dry run and `validate`
// print it too, so they never describe old results as the new config's.
std::string run_directory_refusal(const SweepConfig& cfg);

// flock on NFS mounted with local_lock=flock (or all) only excludes processes of one node: a
// warning naming the mount when `path` (absolute, resolved) is on one, per `mounts` (the text of
// /proc/self/mounts); "" otherwise. Other file systems either lock across nodes (local disks,
// NFSv4, Lustre with flock) or refuse flock, which the lock reports by its errno.
std::string lock_scope_warning(const std::string& mounts, const std::string& path);

// Size and FNV-1a of each data file cfg names ({} for synthetic data, which the config fixes):
// run.json's data_files, what resume compares, what the encoder store's keys cover.
nlohmann::json data_fingerprints(const SweepConfig& cfg);

// Who holds dir/lock, as the holder wrote it ("node7 pid 4242"), or "an unknown process".
std::string lock_owner(const std::string& dir);

class RunDirectory {
 public:
  // Opens runs/<name>/ for a sweep. A directory holding an earlier sweep needs `resume`, and
  // then a config that differs at most by added seeds or λ; otherwise InputError (exit 2)
  // naming the changed keys. Creates nothing before every check has passed.
  RunDirectory(const SweepConfig& cfg, bool resume);
  ~RunDirectory();

  const std::string& path() const { return dir_; }
  const PriorWork& prior() const { return prior_; }
  // What the user should know about the lock (run.lock = "none", a node-local NFS lock).
  const std::vector<std::string>& warnings() const { return warnings_; }
  // Size and FNV-1a of each data file (read once, at opening): recorded in run.json, and
  // compared with the earlier run's on resume, which refuses to mix results from other bytes.
  const nlohmann::json& data_files() const { return data_files_; }

  void write_run_facts(const nlohmann::json& facts);   // run.json, atomically
  void write_status(const nlohmann::json& status);     // status.json, atomically
  void append(const nlohmann::json& record);            // the journal, fsynced
  void append_many(const std::vector<nlohmann::json>& records);  // one write, one fsync
  void write_encoder(int64_t seed, const std::vector<char>& bytes);
  // Work taken from the encoder store instead of run here (sweep/reuse.hpp): the file first, then
  // its journal line, then it counts as prior work (the plan leaves it out). Before the sweep's
  // writer starts; the run directory stays self-contained (the bytes are copied in).
  void adopt_pretrain(int64_t seed, const std::vector<char>& encoder, const nlohmann::json& record);
  void adopt_trial(const std::string& trial_id, const std::vector<char>& checkpoint, const nlohmann::json& record);
  std::vector<char> read_encoder(int64_t seed) const;
  void write_trial_checkpoint(const std::string& trial_id, const std::string& file,
                              const std::vector<char>& bytes);
  // Epoch checkpoints of long tasks: written atomically, read on resume, removed when done.
  void write_task_checkpoint(const std::string& task_id, const std::vector<char>& bytes);
  std::vector<char> read_task_checkpoint(const std::string& task_id) const;
  void remove_task_checkpoint(const std::string& task_id);

  // encoders/seed-<s>.pt: what write_encoder writes (ranks on a shared file system read it).
  std::string encoder_path(int64_t seed) const;

 private:
  std::string checkpoint_path(const std::string& task_id) const;
  void acquire_lock();

  std::string dir_;
  int lock_fd_ = -1;
  LockMode lock_mode_ = LockMode::flock;
  std::vector<std::string> warnings_;
  PriorWork prior_;
  nlohmann::json data_files_;
  std::unique_ptr<Journal> journal_;
};

}  // namespace anchorsweep
