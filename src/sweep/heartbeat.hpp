// Heartbeat: a worker rank's thread that tells rank 0, every `period_for(timeout)`, that this
// process lives and how long its training thread has gone without progress
// (common/liveness.hpp). Rank 0's RankWatch takes a rank for lost when the beats stop (killed,
// stopped, cut off) or report a training thread stuck past run.rank_timeout_s.
//
// It also watches rank 0, which beats back: when rank 0 is silent past the timeout, or tells
// this rank that it ends the job (kAbort), this process exits with a message. A launcher that
// does not end a job when one of its ranks dies (srun without --kill-on-bad-exit, mpirun with
// recovery enabled) then still ends with no rank left behind.
//
// It sends and receives beside the training thread, so it needs MPI_THREAD_MULTIPLE; sweep.cpp
// starts it only then.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "comm/mpi_comm.hpp"
#include "sweep/rank_watch.hpp"

namespace anchorsweep {

class Heartbeat {
 public:
  // `root_host`: rank 0's host, for the message when rank 0 is lost.
  Heartbeat(comm::MpiComm& mpi, double timeout_s, std::string root_host);
  ~Heartbeat();  // stops and joins the thread
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

  // For the training thread's own receives from rank 0: a beat it took instead of the heartbeat
  // thread is counted (true: receive again); kAbort ends this process. False for any other tag.
  bool absorb(const comm::Message& m);

  // A quarter of the timeout (one or two late beats are no loss), between 50 ms and 5 s.
  static double period_for(double timeout_s);

 private:
  void loop();
  [[noreturn]] void end_rank(const std::string& what) const;
  double now_s();

  comm::MpiComm& mpi_;
  const double timeout_s_;
  const std::string root_host_;
  std::atomic<double> root_heard_s_;  // on clock_'s time
  std::mutex clock_mu_;
  ActiveClock clock_;                  // this rank stopped for a while blames not rank 0
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace anchorsweep
