#include "sweep/heartbeat.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "common/liveness.hpp"

namespace anchorsweep {

double Heartbeat::period_for(double timeout_s) { return std::clamp(timeout_s / 4, 0.05, 5.0); }

namespace {
double wall_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

double Heartbeat::now_s() {
  std::lock_guard<std::mutex> lock(clock_mu_);
  return clock_.now(wall_s());
}

Heartbeat::Heartbeat(comm::MpiComm& mpi, double timeout_s, std::string root_host)
    : mpi_(mpi), timeout_s_(timeout_s), root_host_(std::move(root_host)), root_heard_s_(0),
      clock_(2 * period_for(timeout_s), wall_s()) {
  root_heard_s_ = now_s();
  thread_ = std::thread([this] { loop(); });
}

Heartbeat::~Heartbeat() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Heartbeat::end_rank(const std::string& what) const {
  // No MPI_Abort: with rank 0 gone it may wait on it; this process alone ends, the others end
  // the same way.
  std::fprintf(stderr, "anchorsweep: rank %d (host %s): %s; this rank exits (1)\n", mpi_.rank(), mpi_.host().c_str(),
               what.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

bool Heartbeat::absorb(const comm::Message& m) {
  if (m.tag == comm::kBeat) {
    root_heard_s_ = now_s();
    return true;
  }
  if (m.tag == comm::kAbort)
    end_rank("rank 0 ended the job: " + nlohmann::json::parse(m.header).value("why", std::string("(no reason given)")));
  return false;
}

void Heartbeat::loop() {
  const auto period = std::chrono::duration<double>(period_for(timeout_s_));
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    lock.unlock();
    std::string error;
    if (!mpi_.post(0, {comm::kBeat, nlohmann::json{{"stalled_s", liveness::seconds_since_tick()}}.dump(), {}}, &error))
      end_rank("MPI cannot reach rank 0 (host " + root_host_ + "): " + error);
    comm::Message m;
    while (mpi_.try_recv(m, 0, comm::kBeat)) absorb(m);
    if (mpi_.try_recv(m, 0, comm::kAbort)) absorb(m);  // ends this process
    const double silent = now_s() - root_heard_s_;
    if (silent >= timeout_s_) {
      char buf[48];
      std::snprintf(buf, sizeof buf, "%.1f s", silent);
      end_rank("rank 0 (host " + root_host_ + ") is lost: no message from it for " + buf +
               " (run.rank_timeout_s); the run directory keeps what it journaled, --resume continues");
    }
    lock.lock();
    cv_.wait_for(lock, period, [this] { return stop_; });
  }
}

}  // namespace anchorsweep
