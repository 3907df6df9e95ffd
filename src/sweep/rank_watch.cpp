#include "sweep/rank_watch.hpp"

#include <cstdio>

namespace anchorsweep {

namespace {
std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}
}  // namespace

RankWatch::RankWatch(int ranks, double timeout_s, double now_s) : timeout_s_(timeout_s), seen_(ranks > 0 ? ranks : 0) {
  for (auto& s : seen_) s.heard_s = now_s;
  if (!seen_.empty()) seen_[0].watched = false;  // rank 0 is the watcher
}

void RankWatch::heard(int rank, double now_s, double stalled_s) {
  if (rank <= 0 || rank >= static_cast<int>(seen_.size())) return;
  seen_[rank].heard_s = now_s;
  seen_[rank].stalled_s = stalled_s;
}

void RankWatch::done(int rank) {
  if (rank > 0 && rank < static_cast<int>(seen_.size())) seen_[rank].watched = false;
}

void RankWatch::unreachable(int rank, const std::string& why) {
  if (rank > 0 && rank < static_cast<int>(seen_.size())) seen_[rank].unreachable = why.empty() ? "(no reason given)" : why;
}

std::vector<LostRank> RankWatch::lost(double now_s) const {
  std::vector<LostRank> out;
  if (timeout_s_ <= 0) return out;
  for (int r = 1; r < static_cast<int>(seen_.size()); ++r) {
    const Seen& s = seen_[r];
    if (!s.watched) continue;
    const double silent = now_s - s.heard_s;
    // Its training thread's stall as last reported, grown by the time since that report.
    const double stuck = s.stalled_s + silent;
    if (!s.unreachable.empty())
      out.push_back({r, silent, "MPI cannot reach it (" + s.unreachable + ")"});
    else if (silent >= timeout_s_)
      out.push_back({r, silent, "no message from it for " + seconds_text(silent) +
                                    " (killed, OOM-killed, stopped, or its node or network is gone)"});
    else if (s.stalled_s > 0 && stuck >= timeout_s_)
      out.push_back({r, stuck, "its heartbeat goes on, but its training thread has made no progress for " +
                                   seconds_text(stuck) + " (stuck: a hung file system read, a GPU that stopped answering?)"});
  }
  return out;
}

}  // namespace anchorsweep
