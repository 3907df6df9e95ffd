// RunStatus: how far the sweep in a run directory is and whether it is alive, read from its
// files alone (status.json, results.jsonl, lock, run.json, config.toml). It works while a sweep
// runs, after it ended and after it was killed, on any machine that sees the run directory:
// `anchorsweep status RUN_DIR`.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/names.hpp"

namespace anchorsweep {

struct RunStatus {
  std::string dir;
  // running, stalled (rank 0's process lives but status.json has not changed for a minute),
  // finished, stopped (ended early: --resume continues), dead (killed or crashed: --resume
  // continues), not started (no journal yet).
  RunState state = RunState::not_started;
  std::string why;           // how `state` was decided, in words
  int64_t total = 0, done = 0, failed = 0;  // trials; done counts ok ones, failed the others
  std::optional<double> trials_per_s, eta_s;  // this attempt's, while it runs
  std::optional<double> status_age_s;         // seconds since status.json was written
  std::string owner_host;    // from the lock: the host and pid of the last sweep on this directory
  int64_t owner_pid = 0;
  nlohmann::json running = nlohmann::json::array();  // [{rank, host, task, elapsed_s}] while it runs
};

// `now_unix`: the current time (seconds since 1970); `this_host`: the caller's host name (a lock
// owner on this host is checked with kill(pid, 0); on another host, by status.json's age).
// `planned_total` gives the number of trials the run's config.toml plans (sweep/ knows how; it
// may throw, say where the data files are not readable); without it, or when it throws, the
// total comes from run.json's planned trials, else from status.json.
// Throws InputError when DIR is not a run directory.
RunStatus inspect_run(const std::string& dir, double now_unix, const std::string& this_host,
                      const std::function<int64_t()>& planned_total = {});

std::string format_status(const RunStatus& s);  // a few lines for people
nlohmann::json to_json(const RunStatus& s);      // one object for machines

}  // namespace anchorsweep
