// RankWatch: rank 0's record of when it last heard from each other rank, and what that rank said
// of its own training thread. Pure bookkeeping, no MPI and no clock of its own (the caller passes
// the time), so a test can play any sequence of heartbeats against it.
//
// A rank is lost once run.rank_timeout_s has passed
//   - since its last message of any kind (killed, OOM-killed, stopped with SIGSTOP, its node or
//     network gone), or
//   - since its training thread last made progress, while its heartbeat thread still reports
//     (alive but stuck: a read that hangs on a network file system, a GPU that stopped answering).
// A rank told that the sweep is done is no longer watched.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace anchorsweep {

struct LostRank {
  int rank = 0;
  double seconds = 0;   // how long it has been silent or stuck
  std::string cause;    // "no message from it for 12.0 s", "its training thread has made no progress ..."
};

// Time that leaves out this process's own pauses: a gap longer than `max_gap_s` between two
// readings (the process was stopped, or not scheduled) counts as `max_gap_s` only. A watcher
// that was itself stopped must not, once it runs again, blame the ranks it did not hear from
// meanwhile.
class ActiveClock {
 public:
  ActiveClock(double max_gap_s, double wall_s) : max_gap_s_(max_gap_s), last_wall_s_(wall_s) {}
  double now(double wall_s) {
    const double gap = wall_s - last_wall_s_;
    if (gap > max_gap_s_) paused_s_ += gap - max_gap_s_;
    last_wall_s_ = wall_s;
    return wall_s - paused_s_;
  }

 private:
  double max_gap_s_, last_wall_s_, paused_s_ = 0;
};

class RankWatch {
 public:
  // Watches ranks 1 .. ranks-1 from `now_s`; timeout_s = 0 watches nothing.
  RankWatch(int ranks, double timeout_s, double now_s);

  // A message from `rank` at `now_s`; a heartbeat also says how long its training thread has
  // been without progress when it was sent (stalled_s), other messages mean progress.
  void heard(int rank, double now_s, double stalled_s = 0);
  void done(int rank);  // told the sweep is over: no longer watched
  // MPI itself reports that `rank` cannot be reached (a send to it failed): lost at once.
  void unreachable(int rank, const std::string& why);

  // The ranks lost at `now_s`, in rank order.
  std::vector<LostRank> lost(double now_s) const;

  double timeout_s() const { return timeout_s_; }

 private:
  struct Seen {
    double heard_s = 0;    // when its last message arrived
    double stalled_s = 0;  // what that message said of its training thread
    bool watched = true;
    std::string unreachable;  // MPI's words, once a send to it failed
  };
  double timeout_s_;
  std::vector<Seen> seen_;  // index = rank
};

}  // namespace anchorsweep
