// Coordinator: rank 0's view of the sweep. It owns the TrialPlan, hands tasks out on request
// (a dynamic queue: a faster rank simply asks more often), receives every result and every
// epoch checkpoint, and queues what must be written to the RunWriter, the run directory's only
// writer. It knows nothing of MPI: the local worker calls it directly and the MPI service
// thread calls it for remote ranks; a mutex serialises both, and no disk I/O happens under it
// (except reading a resumed task's checkpoint when that task is handed out).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "sweep/plan.hpp"
#include "sweep/progress.hpp"
#include "rundir/run_directory.hpp"
#include "rundir/run_writer.hpp"
#include "sweep/task_output.hpp"

namespace anchorsweep {

class Coordinator {
 public:
  Coordinator(const SweepConfig& cfg, TrialPlan plan, RunDirectory& dir, RunWriter& writer, Progress& progress);

  // The next task for `rank`, given the seeds whose encoder it already holds. `wait` when every
  // remaining task waits for a pretraining still running elsewhere.
  //
  // With pretrain.ranks = k > 1, pretrain and scratch tasks are gang-scheduled: the first rank
  // to ask for one opens a gathering, the next ranks that ask join it (a rank that joined waits),
  // and when k have joined every one of them is handed the task with the member list. While no
  // gathering is open, a ready one-rank task (finetune) goes first, so ranks freed one by one
  // do the short work instead of idling until k are free. One gathering at a time: no two
  // groups can each hold part of the ranks and wait for the rest (no deadlock).
  Assignment next(int64_t rank, const std::vector<int64_t>& cached_seeds);

  // A finished (or stopped) task: journal lines, checkpoints, progress.
  void complete(int64_t rank, TaskOutput out);

  // An epoch of a long task is done: queue its state as the task's checkpoint (empty `state`:
  // nothing to save). Returns whether the task should go on (false once a stop was requested).
  bool epoch_done(int64_t rank, const std::string& task_id, int64_t epoch, std::vector<char> state);

  // Stop handing out work (SIGTERM/SIGUSR1 ahead of a time limit); running long tasks stop at
  // their next epoch boundary, checkpointed.
  void request_stop();

  // Rank 0 lost `rank` (sweep/rank_watch.hpp): the task it ran (its group's, for a member) is
  // journaled as failed with `why`, its epoch checkpoint kept for --resume. Returns the task's
  // id, or "" when it held none. The caller then ends the job.
  std::string lost(int64_t rank, const std::string& host, const std::string& why);

  // Called under the coordinator's lock (so it must only queue work) for each ok pretraining and
  // scratch baseline: type "pretrain" or "scratch", seed, the rank that trained it, its journal
  // record and the bytes the run directory gets. The sweep files them in the encoder store.
  using Finished = std::function<void(const std::string& type, int64_t seed, int64_t rank, const nlohmann::json& record,
                                      std::shared_ptr<const std::vector<char>> bytes)>;
  void on_finished(Finished f) { finished_ = std::move(f); }

  // Which ranks read the run directory themselves (run.encoder_transfer = "auto" and the start-up
  // probe found rank 0's directory there): a finetune task for one of them names the encoder's
  // file, with its size and FNV-1a, instead of carrying its bytes. Index = rank; rank 0 never.
  void set_run_dir_readers(std::vector<bool> reads);

  int64_t failed() const;
  int64_t remaining() const;

 private:
  bool needs_group(const Task& t) const;
  Assignment assignment_for(int64_t rank, const Task& t, const std::vector<int64_t>& cached_seeds);
  void record_trial(const TrialResult& r, std::vector<char> checkpoint);
  void fail_dependents(int64_t seed, const std::string& why);
  void fail_trials(const Task& t, const std::string& error, int64_t rank, const std::string& host);  // journals each as failed
  const std::vector<char>* encoder_for(int64_t seed);
  bool reads_run_dir(int64_t rank) const;

  const SweepConfig& cfg_;
  RunDirectory& dir_;
  RunWriter& writer_;
  Progress& progress_;
  mutable std::mutex mu_;
  std::vector<Task> pending_;                  // in plan order
  std::map<int64_t, Task> running_;            // rank -> task (a group's leader holds its task)
  struct Gathering {
    Task task;
    std::vector<int64_t> members;              // in the order they asked; the first leads
  };
  std::optional<Gathering> gathering_;         // a group task collecting its ranks
  std::map<int64_t, Assignment> handed_;       // a started group's assignments not yet collected
  std::set<int64_t> members_running_;          // group members other than leaders, training
  std::map<int64_t, int64_t> leader_of_;       // such a member -> its group's leader
  std::set<int64_t> pretrained_;               // seeds whose encoder is ready
  std::set<int64_t> pretraining_;              // seeds being pretrained now
  std::map<int64_t, std::vector<char>> encoders_;
  std::map<int64_t, std::string> encoder_hashes_;  // FNV-1a of encoders_, once each
  std::vector<bool> reads_run_dir_;
  std::map<std::string, int64_t> checkpointed_;  // task id -> epoch of its checkpoint on disk
  int64_t failed_ = 0;
  bool stopping_ = false;
  Finished finished_;
};

}  // namespace anchorsweep
