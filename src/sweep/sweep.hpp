// run_sweep: the whole experiment, in one process or over MPI ranks.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "sweep/worker.hpp"

namespace anchorsweep {

namespace comm { class MpiComm; }

struct SweepOptions {
  bool resume = false;
  bool quiet = false;
  LogFormat log_format = LogFormat::text;
  double status_every_s = 30;       // not on a terminal: a status line at most this often
  std::string command_line;         // recorded in run.json
  WorkerHooks hooks;                // test and benchmark hooks
  int64_t delay_rank = -1;          // hooks.delay_ms applies to this rank only
  // What rank 0 does with the run directory's views (report/ wires these in; sweep/ does not
  // know report/): refresh the CSV tables during the run, and write the report at the end,
  // returning the notes and text to print.
  std::function<void(const std::string& run_dir)> refresh_tables;
  std::function<std::string(const std::string& run_dir)> finish;
};

// Exit codes of a sweep.
constexpr int kExitOk = 0, kExitTrialsFailed = 1, kExitBadInput = 2, kExitStopped = 3;

// Runs (or resumes) the sweep of the config at `config_path` (with --set overrides). `mpi` is
// null for the one-process sweep. Every rank calls it; every rank first loads the config and
// data and checks its device, and all ranks agree on the outcome before any work, so one rank
// that cannot start ends the whole job at once (exit 2) with one message naming rank, host and
// cause. Rank 0 coordinates, writes the run directory and trains too.
int run_sweep(const std::string& config_path, const std::vector<std::string>& sets, const SweepOptions& options,
              comm::MpiComm* mpi);

// `run --dry-run`: the plan for `ranks` ranks, as text.
std::string describe_plan(const SweepConfig& cfg, int64_t ranks);

// What `run` would find in the config's run directory: "run directory R: new" or "run directory
// R: N of M trials done, K to run (...)"; where `run` would refuse the directory (its lock held,
// the config changed, other data), InputError with `run`'s own message. launcher/sweep reads
// this line to tell a finished sweep from an interrupted one.
std::string describe_run_directory(const SweepConfig& cfg, bool resume);

// The dry run's lines on the encoder store: which seeds' encoders and scratch baselines a run
// with `ranks` ranks on this node would reuse, and which it would train.
std::string describe_store_reuse(const SweepConfig& cfg, int64_t ranks);

// Install SIGTERM / SIGUSR1 / SIGINT handlers that ask the sweep to stop cleanly.
void install_stop_handlers();

}  // namespace anchorsweep
