// run_sweep: the whole experiment, in one process or over MPI ranks.
#pragma once

#include <string>

#include "config/config.hpp"
#include "sweep/worker.hpp"

namespace anchorsweep {

namespace comm { class MpiComm; }

struct SweepOptions {
  bool resume = false;
  bool quiet = false;
  std::string log_format = "text";  // text | json
  bool report = true;               // write report.md/.html at the end
  std::string command_line;         // recorded in run.json
  WorkerHooks hooks;                // test and benchmark hooks
  int64_t delay_rank = -1;          // hooks.delay_ms applies to this rank only
};

// Exit codes of a sweep.
constexpr int kExitOk = 0, kExitTrialsFailed = 1, kExitBadInput = 2, kExitStopped = 3;

// Runs (or resumes) the sweep. `mpi` is null for the one-process sweep. Every rank calls it
// with the same config; rank 0 coordinates, writes the run directory and trains too.
int run_sweep(const SweepConfig& cfg, const SweepOptions& options, comm::MpiComm* mpi);

// `run --dry-run`: the plan for `ranks` ranks, as text.
std::string describe_plan(const SweepConfig& cfg, int64_t ranks);

// Install SIGTERM / SIGUSR1 / SIGINT handlers that ask the sweep to stop cleanly.
void install_stop_handlers();

}  // namespace anchorsweep
