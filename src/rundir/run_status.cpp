#include "rundir/run_status.hpp"

#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <sstream>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "rundir/journal.hpp"
#include "rundir/run_facts.hpp"

namespace anchorsweep {

namespace {


// A status.json older than this, from a sweep on another host, means rank 0 is gone (it is
// rewritten every 2 s while the sweep runs).
constexpr double kSilentS = 60;

bool pid_alive(int64_t pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

std::string seconds(double s) {
  char b[32];
  if (s < 120)
    std::snprintf(b, sizeof b, "%.0f s", s);
  else if (s < 7200)
    std::snprintf(b, sizeof b, "%.0f min", s / 60);
  else
    std::snprintf(b, sizeof b, "%.1f h", s / 3600);
  return b;
}

// Running, stalled, finished, stopped, dead or not started, and why: from run.json's end
// (`finished`), the last status.json, the lock's owner and whether that process lives.
void decide_state(RunStatus& s, bool finished, const nlohmann::json& status, bool has_journal,
                  const std::string& this_host) {
  const auto last = parse_name<RunState>(status.is_object() ? status.value("state", "") : "");
  const bool local = !s.owner_host.empty() && s.owner_host == this_host;

  if (finished) {  // run.json's end is written last, after the final status
    s.state = last == RunState::stopped ? RunState::stopped : RunState::finished;
    s.why = s.state == RunState::stopped ? "the sweep stopped early (a stop signal or the time limit); --resume continues it"
                                 : "run.json records its end";
    if (s.state == RunState::finished && s.done < s.total) {
      s.state = RunState::stopped;
      s.why = "it ended with trials left; --resume continues it";
    }
  } else if (last == RunState::stopped && status.is_object() && status.contains("ended_because")) {
    // Rank 0 ended the job itself (a lost rank) and said why before it went.
    s.state = RunState::stopped;
    s.why = status.value("ended_because", std::string());
    if (!s.why.empty() && s.why.back() == '.') s.why.pop_back();
    s.why += "; --resume continues it";
  } else if (s.owner_pid == 0 && !has_journal) {
    s.state = RunState::not_started;
    s.why = "no sweep has journaled anything here yet";
  } else if (local) {
    if (!pid_alive(s.owner_pid)) {
      s.state = RunState::dead;
      s.why = "rank 0 (pid " + std::to_string(s.owner_pid) + " on " + s.owner_host +
              ") is gone without recording an end: killed or crashed; --resume continues it";
    } else if (s.status_age_s && *s.status_age_s > kSilentS) {
      s.state = RunState::stalled;
      s.why = "rank 0 (pid " + std::to_string(s.owner_pid) + ") lives, but status.json is " + seconds(*s.status_age_s) +
              " old (it is rewritten every 2 s)";
    } else {
      s.state = RunState::running;
      s.why = "rank 0 is pid " + std::to_string(s.owner_pid) + " on this host" +
              (s.status_age_s ? ", status " + seconds(*s.status_age_s) + " old" : "");
    }
  } else if (s.status_age_s && *s.status_age_s <= kSilentS) {
    s.state = RunState::running;
    s.why = "rank 0 runs on " + s.owner_host + " (pid " + std::to_string(s.owner_pid) + "); its status is " +
            seconds(*s.status_age_s) + " old";
  } else {
    s.state = RunState::dead;
    s.why = "rank 0 ran on " + (s.owner_host.empty() ? std::string("an unknown host") : s.owner_host) +
            " and has written no status for " + (s.status_age_s ? seconds(*s.status_age_s) : std::string("ever")) +
            " without recording an end: killed, crashed or unreachable; --resume continues it";
  }

}

}  // namespace

RunStatus inspect_run(const std::string& dir, double now_unix, const std::string& this_host,
                      const std::function<int64_t()>& planned_total) {
  RunStatus s;
  s.dir = dir;
  if (!file_exists(dir + "/config.toml"))
    throw InputError(dir + ": not a run directory (no config.toml; `anchorsweep run` makes one)");

  // Progress: the journal is the truth; the plan of the resolved config gives the total.
  if (file_exists(dir + "/results.jsonl")) {
    for (const auto& t : read_results(dir).trials) (t.status == Status::ok ? s.done : s.failed) += 1;
  }
  nlohmann::json status;
  if (file_exists(dir + "/status.json")) {
    try {
      status = nlohmann::json::parse(read_file(dir + "/status.json"));
      s.status_age_s = now_unix - status.value("updated_unix", 0.0);
    } catch (const std::exception&) {
      status = nullptr;  // written atomically, so only a foreign file gets here; ignore it
    }
  }
  const RunInfo facts = read_run_info(dir);
  try {
    if (!planned_total) throw std::runtime_error("no plan");
    s.total = planned_total();
  } catch (const std::exception&) {
    // The data files are not readable here (a login node, say): run.json's or status.json's total.
    s.total = !facts.planned_trials.empty() ? static_cast<int64_t>(facts.planned_trials.size())
              : status.is_object()          ? status.value("total", int64_t{0})
                                            : 0;
  }

  // Who ran it last: "HOST pid N" in the lock (kept after the sweep ends).
  std::istringstream owner(file_exists(dir + "/lock") ? read_file(dir + "/lock") : "");
  std::string word;
  owner >> s.owner_host >> word >> s.owner_pid;

  decide_state(s, !facts.finished.empty(), status, file_exists(dir + "/results.jsonl"), this_host);
  if ((s.state == RunState::running || s.state == RunState::stalled) && status.is_object()) {
    s.running = status.value("running", nlohmann::json::array());
    if (status.contains("trials_per_s") && status["trials_per_s"].is_number()) s.trials_per_s = status["trials_per_s"].get<double>();
    if (status.contains("eta_s") && status["eta_s"].is_number()) s.eta_s = status["eta_s"].get<double>();
  }
  return s;
}

std::string format_status(const RunStatus& s) {
  std::ostringstream o;
  o << s.dir << ": " << name_of(s.state) << " (" << s.why << ")\n";
  o << "  trials: " << s.done << " / " << s.total << " done";
  if (s.failed) o << ", " << s.failed << " failed or diverged";
  const int64_t left = s.total - s.done;
  if (left > 0) o << ", " << left << " to go";
  if (s.trials_per_s && *s.trials_per_s > 0) {
    char b[64];
    std::snprintf(b, sizeof b, "; %.2f trials/s", *s.trials_per_s);
    o << b;
    if (s.eta_s) o << ", ETA " << seconds(*s.eta_s);
  }
  o << "\n";
  for (const auto& r : s.running)
    o << "  rank " << r.value("rank", int64_t{-1}) << " on " << r.value("host", std::string("?")) << ": "
      << r.value("task", std::string("?"))
      << (r.contains("epochs_done") ? " (epoch " + std::to_string(r["epochs_done"].get<int64_t>()) + " done)" : "")
      << " for " << seconds(r.value("elapsed_s", 0.0)) << "\n";
  return o.str();
}

nlohmann::json to_json(const RunStatus& s) {
  nlohmann::json j{{"dir", s.dir},     {"state", name_of(s.state)},   {"why", s.why},
                   {"total", s.total}, {"done", s.done},     {"failed", s.failed},
                   {"owner_host", s.owner_host}, {"owner_pid", s.owner_pid}, {"running", s.running}};
  j["trials_per_s"] = s.trials_per_s ? nlohmann::json(*s.trials_per_s) : nlohmann::json(nullptr);
  j["eta_s"] = s.eta_s ? nlohmann::json(*s.eta_s) : nlohmann::json(nullptr);
  j["status_age_s"] = s.status_age_s ? nlohmann::json(*s.status_age_s) : nlohmann::json(nullptr);
  return j;
}

}  // namespace anchorsweep
