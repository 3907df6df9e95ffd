// `anchorsweep status`: a run directory in each state it can be found in, crafted from one real
// finished run (running, stalled, dead here and on another host, finished, stopped, not
// started), and the command itself during a live 3-rank sweep and after it.
#include <gtest/gtest.h>

#include <atomic>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "common/errors.hpp"
#include "rundir/run_status.hpp"
#include "sweep/plan.hpp"
#include "cli.hpp"

using namespace anchorsweep;
using namespace anchorsweep::testing;

namespace {

double now_unix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string this_host() {
  char h[256] = {0};
  ::gethostname(h, sizeof h - 1);
  return h;
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// What `anchorsweep status` computes: the total from the run's own config.
RunStatus inspect(const std::string& dir) {
  return inspect_run(dir, now_unix(), this_host(), [&] { return planned_trial_count(dir); });
}

// One finished tiny sweep (2 seeds x 5 trials), made once and copied for each state.
const std::string& finished_run() {
  static const std::string dir = [] {
    const auto out = fresh_dir("status_src");
    auto r = run(bin() + " run " + tiny_config() + " --set 'run.output_dir=\"" + out + "\"' --quiet --no-report");
    EXPECT_EQ(r.code, 0) << r.output;
    return out + "/tiny";
  }();
  return dir;
}

std::string copy_of(const std::string& name) {
  const auto dir = fresh_dir("status_" + name) + "/tiny";
  fs::copy_tree(finished_run(), dir);
  return dir;
}

// A run directory caught mid-sweep: 3 of its 10 trials journaled, run.json without an end,
// status.json written `age_s` ago by rank 0 = pid `pid` on `host`.
std::string mid_sweep(const std::string& name, const std::string& host, int64_t pid, double age_s) {
  const auto dir = copy_of(name);
  std::ifstream in(dir + "/results.jsonl");
  std::string line, kept;
  int trials = 0;
  while (std::getline(in, line))
    if (line.find("\"type\":\"trial\"") == std::string::npos || ++trials <= 3) kept += line + "\n";
  write(dir + "/results.jsonl", kept);
  auto facts = nlohmann::json::parse(slurp(dir + "/run.json"));
  facts["finished"] = nullptr;
  write(dir + "/run.json", facts.dump());
  write(dir + "/lock", host + " pid " + std::to_string(pid) + "\n");
  nlohmann::json status{{"state", "running"}, {"updated_unix", now_unix() - age_s}, {"total", 10}, {"done", 3},
                        {"trials_per_s", 0.5}, {"eta_s", 14.0},
                        {"running", {{{"rank", 1}, {"host", host}, {"task", "pretrain-s2"}, {"elapsed_s", 4.2}, {"epochs_done", 3}}}}};
  write(dir + "/status.json", status.dump());
  return dir;
}

int64_t dead_pid() {
  const pid_t p = ::fork();
  if (p == 0) ::_exit(0);
  ::waitpid(p, nullptr, 0);
  return p;
}

}  // namespace

TEST(Status, RunningOnThisHost) {
  const auto s = inspect(mid_sweep("running", this_host(), ::getpid(), 1));
  EXPECT_EQ(s.state, RunState::running) << s.why;
  EXPECT_EQ(s.done, 3);
  EXPECT_EQ(s.total, 10);  // from the resolved config's plan
  EXPECT_EQ(s.failed, 0);
  ASSERT_EQ(s.running.size(), 1u);
  EXPECT_EQ(s.running[0]["task"], "pretrain-s2");
  ASSERT_TRUE(s.eta_s.has_value());
  EXPECT_DOUBLE_EQ(*s.eta_s, 14.0);
  const auto text = format_status(s);
  EXPECT_NE(text.find("3 / 10 done, 7 to go; 0.50 trials/s, ETA 14 s"), std::string::npos) << text;
  EXPECT_NE(text.find("rank 1 on " + this_host() + ": pretrain-s2 (epoch 3 done) for 4 s"), std::string::npos) << text;
}

TEST(Status, StalledWhenTheStatusStopsChanging) {
  const auto s = inspect(mid_sweep("stalled", this_host(), ::getpid(), 300));
  EXPECT_EQ(s.state, RunState::stalled) << s.why;
  EXPECT_NE(s.why.find("5 min old"), std::string::npos) << s.why;
}

TEST(Status, DeadWhenRankZeroIsGone) {
  const auto s = inspect(mid_sweep("dead", this_host(), dead_pid(), 1));
  EXPECT_EQ(s.state, RunState::dead) << s.why;
  EXPECT_NE(s.why.find("--resume"), std::string::npos);
  EXPECT_TRUE(s.running.empty());  // nothing runs in a dead sweep, whatever status.json said
  EXPECT_FALSE(s.eta_s.has_value());
}

TEST(Status, AnotherHostIsJudgedByTheStatusAge) {
  auto s = inspect(mid_sweep("remote_live", "node7", 4242, 5));
  EXPECT_EQ(s.state, RunState::running) << s.why;
  EXPECT_NE(s.why.find("node7"), std::string::npos);
  s = inspect(mid_sweep("remote_dead", "node7", 4242, 600));
  EXPECT_EQ(s.state, RunState::dead) << s.why;
  EXPECT_NE(s.why.find("10 min"), std::string::npos) << s.why;
}

TEST(Status, FinishedAndStopped) {
  auto s = inspect(copy_of("finished"));
  EXPECT_EQ(s.state, RunState::finished) << s.why;
  EXPECT_EQ(s.done, 10);
  EXPECT_EQ(s.total, 10);
  EXPECT_EQ(format_status(s).find("to go"), std::string::npos);

  const auto dir = copy_of("stopped");
  auto status = nlohmann::json::parse(slurp(dir + "/status.json"));
  EXPECT_EQ(status["state"], "finished");  // what the real sweep wrote at its end
  status["state"] = "stopped";
  write(dir + "/status.json", status.dump());
  s = inspect(dir);
  EXPECT_EQ(s.state, RunState::stopped) << s.why;
  EXPECT_NE(s.why.find("--resume"), std::string::npos);
}

TEST(Status, NotStartedAndNotARunDirectory) {
  const auto dir = fresh_dir("status_new") + "/tiny";
  fs::create_directories(dir);
  fs::copy_file(finished_run() + "/config.toml", dir + "/config.toml");
  auto s = inspect(dir);
  EXPECT_EQ(s.state, RunState::not_started) << s.why;
  EXPECT_EQ(s.total, 10);
  EXPECT_THROW(inspect(fresh_dir("status_none")), InputError);
  auto r = run(bin() + " status " + fresh_dir("status_none2"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("not a run directory"), std::string::npos) << r.output;
}

// Where the run's data files cannot be read (a login node), the plan cannot be made: the total
// then comes from run.json's planned trials.
TEST(Status, TotalFromRunJsonWhenThePlanCannotBeMade) {
  const auto dir = copy_of("finished");
  const auto s = inspect_run(dir, now_unix(), this_host(), []() -> int64_t { throw std::runtime_error("no data here"); });
  EXPECT_EQ(s.total, 10);
  EXPECT_EQ(s.done, 10);
}

// The real thing: `anchorsweep status` while a 3-rank sweep runs (its rank 0 is alive, its
// status names busy ranks), then after it finished; --log-format json for machines. The sweep is
// held at its first epoch boundaries (--hold-while) until status has shown it running, so the
// test waits for that state however fast training gets.
TEST(Status, DuringALiveThreeRankSweep) {
  const auto out = fresh_dir("status_live");
  const std::string dir = out + "/tiny", gate = out + "/hold";
  { std::ofstream(gate) << "held by status_test\n"; }
  const std::string cmd = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np 3 --oversubscribe " + bin() +
                          " run " + tiny_config() + " --set 'run.output_dir=\"" + out + "\"' --hold-while " + gate +
                          " --quiet --no-report";
  std::atomic<bool> over{false};
  std::thread sweep([&] {
    EXPECT_EQ(run(cmd).code, 0);
    over = true;
  });
  nlohmann::json seen;
  for (int i = 0; i < 1200 && seen.is_null() && !over; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!fs::exists(dir + "/status.json")) continue;
    auto r = run(bin() + " status " + dir + " --log-format json");
    if (r.code != 0) continue;
    auto j = nlohmann::json::parse(r.output.substr(0, r.output.find('\n')));
    // A busy rank whose long task has checkpointed an epoch: the fullest status there is.
    if (j["state"] == "running" && !j["running"].empty() && j["running"][0].contains("epochs_done")) seen = j;
  }
  fs::remove_all(gate);  // let the sweep finish
  sweep.join();
  ASSERT_FALSE(seen.is_null()) << "status never showed the sweep running with an epoch done";
  EXPECT_GE(seen["running"][0]["epochs_done"].get<int>(), 1);
  EXPECT_EQ(seen["total"], 10);
  EXPECT_EQ(seen["owner_host"], this_host());
  for (const auto& r : seen["running"]) {
    EXPECT_GE(r["rank"].get<int>(), 0);
    EXPECT_LT(r["rank"].get<int>(), 3);
    EXPECT_EQ(r["host"], this_host());
    EXPECT_FALSE(r["task"].get<std::string>().empty());
  }
  auto after = run(bin() + " status " + dir);
  EXPECT_EQ(after.code, 0);
  EXPECT_NE(after.output.find(": finished (run.json records its end)"), std::string::npos) << after.output;
  EXPECT_NE(after.output.find("10 / 10 done"), std::string::npos) << after.output;
  auto watch = run("timeout 20 " + bin() + " status " + dir + " --watch --interval 0.2");
  EXPECT_EQ(watch.code, 0) << "--watch must end by itself once the sweep is over: " << watch.output;
}
