// The distributed sweep under `mpirun -np 3 --oversubscribe`: same results as one rank,
// dynamic balancing, SIGKILL of a worker or of rank 0 then --resume, failure isolation, lock.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "cli.hpp"

using namespace anchorsweep::testing;

namespace {

std::string mpirun(int np) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 mpirun -np " +
         std::to_string(np) + " --oversubscribe " + bin();
}

std::string sweep(int np, const std::string& out, const std::string& extra = "") {
  return mpirun(np) + " run " + tiny_config() + " --set run.output_dir=" + out + " --no-report --quiet " + extra;
}

// A command started in the background, in its own process group.
struct Background {
  pid_t pid = -1;
  explicit Background(const std::string& cmd) {
    pid = fork();
    if (pid == 0) {
      setsid();
      execl("/bin/sh", "sh", "-c", (cmd + " > /dev/null 2>&1").c_str(), (char*)nullptr);
      _exit(127);
    }
  }
  int wait() {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  ~Background() {
    if (pid > 0) {
      kill(-pid, SIGKILL);
      waitpid(pid, nullptr, WNOHANG);
    }
  }
};

bool wait_for(const std::function<bool()>& cond, double seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

// The pid rank 0 wrote into the lock file ("host pid N").
pid_t rank0_pid(const std::string& run_dir) {
  auto s = slurp(run_dir + "/lock");
  auto at = s.find("pid ");
  return at == std::string::npos ? -1 : std::atoi(s.c_str() + at + 4);
}

// anchorsweep processes of this test (their command line names `out`) other than rank 0.
std::vector<pid_t> worker_pids(const std::string& out, pid_t rank0) {
  std::vector<pid_t> pids;
  const auto base = [](const std::string& p) { return p.substr(p.find_last_of('/') + 1); };
  for (const auto& name : anchorsweep::list_dir("/proc")) {
    pid_t pid = std::atoi(name.c_str());
    if (pid <= 0 || pid == rank0) continue;
    const auto exe = anchorsweep::read_link("/proc/" + name + "/exe");
    if (exe.empty() || base(exe) != base(bin())) continue;
    auto cmd = slurp("/proc/" + name + "/cmdline");
    if (cmd.find(out) != std::string::npos) pids.push_back(pid);
  }
  return pids;
}

void expect_complete_once(const std::string& run_dir, size_t trials) {
  auto ids = trial_ids(run_dir);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), trials);
  EXPECT_EQ(ids.size(), trials) << "a finished trial was run again";
  for (const auto& j : journal_lines(run_dir)) EXPECT_EQ(j["status"], "ok") << j["id"];
}

void kill_and_resume(bool kill_rank0) {
  auto out = fresh_dir(kill_rank0 ? "kill0" : "killw");
  const std::string dir = out + "/tiny";
  const std::string gate = out + "/hold";
  { std::ofstream(gate) << "held by mpi_test\n"; }
  {
    // Seed 2's pretraining waits after its first epoch (--hold-while) while seed 1's trials
    // finish: the kill finds finished trials and an unfinished task, however fast training is.
    Background job(sweep(3, out, "--hold-while " + gate + " --hold-task pretrain-s2"));
    ASSERT_TRUE(wait_for([&] { return journal_lines(dir).size() >= 2 && !journal_lines(dir, "checkpoint").empty(); }, 120))
        << "no progress";
    pid_t r0 = rank0_pid(dir);
    ASSERT_GT(r0, 0);
    if (kill_rank0) {
      ASSERT_EQ(kill(r0, SIGKILL), 0);
    } else {
      auto workers = worker_pids(out, r0);
      ASSERT_FALSE(workers.empty());
      ASSERT_EQ(kill(workers.front(), SIGKILL), 0);
    }
    EXPECT_NE(job.wait(), 0);  // the job dies with its rank
  }
  const auto done_before = journal_lines(dir).size();
  EXPECT_LT(done_before, 10u) << "seed 2's trials finished while its pretraining was held";
  fs::remove_all(gate);
  auto r = run(sweep(3, out, "--resume"));
  ASSERT_EQ(r.code, 0) << r.output;
  expect_complete_once(dir, 10);
}

}  // namespace

TEST(Mpi, OneAndThreeRanksGiveIdenticalResults) {
  auto one = fresh_dir("np1"), three = fresh_dir("np3");
  auto r1 = run(sweep(1, one));
  ASSERT_EQ(r1.code, 0) << r1.output;
  auto r3 = run(sweep(3, three));
  ASSERT_EQ(r3.code, 0) << r3.output;
  auto a = metric_columns(one + "/tiny/results.csv"), b = metric_columns(three + "/tiny/results.csv");
  EXPECT_GT(a.size(), 200u);
  EXPECT_EQ(a, b);
  // The work really was spread: more than one rank reported trials.
  std::set<int> ranks;
  for (const auto& j : journal_lines(three + "/tiny")) ranks.insert(j["rank"].get<int>());
  EXPECT_GE(ranks.size(), 2u);
  EXPECT_NE(a.find("0.5"), std::string::npos) << "the tiny sweep should learn something";
}

// The encoders of a resumed sweep are in rank 0's memory only, so ranks 1 and 2 must get them to
// finetune. With run.encoder_transfer = "auto" on one host they read encoders/seed-<s>.pt from the
// shared run directory: rank 0 sends less than one encoder's bytes in all. With "bytes" it sends
// every one it ships. The results are the same. Rank 0 is slowed so that the others take tasks.
TEST(Mpi, RanksThatSeeTheRunDirectoryReadEncodersFromItInsteadOfGettingBytes) {
  std::map<std::string, std::string> metrics;
  std::map<std::string, double> sent;
  int64_t encoder_size = 0;
  for (const std::string transfer : {"auto", "bytes"}) {
    const auto out = fresh_dir("transfer_" + transfer);
    auto first = run(bin() + " run " + tiny_config() + " --set run.output_dir=" + out +
                     " --no-report --quiet --set 'sweep.lambdas=[0]'");
    ASSERT_EQ(first.code, 0) << first.output;
    auto r = run(sweep(3, out, "--resume --delay-ms 200 --delay-rank 0 --set run.encoder_transfer=\\\"" + transfer + "\\\""));
    ASSERT_EQ(r.code, 0) << r.output;
    std::set<int> finetuned_by;
    for (const auto& j : journal_lines(out + "/tiny", "trial")) finetuned_by.insert(j["rank"].get<int>());
    ASSERT_TRUE(finetuned_by.count(1) || finetuned_by.count(2)) << "no other rank finetuned: the test tests nothing";
    const auto facts = nlohmann::json::parse(slurp(out + "/tiny/run.json"));
    sent[transfer] = facts["rank0_traffic"]["sent_bytes"].get<double>();
    if (transfer == "auto") EXPECT_EQ(facts["encoder_transfer"].get<std::string>().rfind("2 of 2 other ranks read", 0), 0u) << facts.dump();
    encoder_size = static_cast<int64_t>(slurp(out + "/tiny/encoders/seed-1.pt").size());
    metrics[transfer] = metric_columns(out + "/tiny/results.csv");
    for (const auto& name : anchorsweep::list_dir(out + "/tiny"))
      EXPECT_NE(name.rfind(".probe-", 0), 0u) << "the probe file was left behind: " << name;
  }
  EXPECT_LT(sent["auto"], encoder_size) << "rank 0 shipped an encoder to a rank that reads the run directory";
  EXPECT_GE(sent["bytes"], encoder_size) << "with \"bytes\", rank 0 shipped no encoder";
  EXPECT_EQ(metrics["auto"], metrics["bytes"]);
}

TEST(Mpi, SlowRankTakesFewerTasks) {
  auto out = fresh_dir("balance");
  // 24 one-trial tasks of 20 ms; rank 2 waits 300 ms before each of its tasks.
  std::string grid = "[";
  for (int i = 1; i <= 24; ++i) grid += (i > 1 ? "," : "") + std::to_string(i);
  grid += "]";
  auto r = run(sweep(3, out, "--simulate-ms 20 --delay-ms 300 --delay-rank 2 --set run.seeds=[1] "
                             "--set 'sweep.baselines=[]' --set finetune.fuse=1 --set sweep.lambdas=" + grid));
  ASSERT_EQ(r.code, 0) << r.output;
  std::map<int, int> per_rank;
  for (const auto& j : journal_lines(out + "/tiny")) ++per_rank[j["rank"].get<int>()];
  EXPECT_LT(per_rank[2], per_rank[1]) << "rank 2 is slow but took as many tasks as rank 1";
  EXPECT_LT(per_rank[2], per_rank[0]);
  EXPECT_EQ(per_rank[0] + per_rank[1] + per_rank[2], 24);
}

TEST(Mpi, SigkillOfAWorkerThenResume) { kill_and_resume(false); }

TEST(Mpi, SigkillOfRankZeroThenResume) { kill_and_resume(true); }

TEST(Mpi, AFailedTrialIsIsolated) {
  auto out = fresh_dir("fail");
  const std::string dir = out + "/tiny";
  auto r = run(sweep(3, out, "--set finetune.fuse=1 --fail-trial s1-lam0.01"));
  EXPECT_EQ(r.code, 1) << r.output;  // not every trial succeeded
  int failed = 0, ok = 0;
  for (const auto& j : journal_lines(dir)) {
    if (j["status"] == "failed") {
      ++failed;
      EXPECT_EQ(j["id"], "s1-lam0.01");
      EXPECT_NE(j["error"].get<std::string>().find("injected"), std::string::npos);
    } else {
      ++ok;
    }
  }
  EXPECT_EQ(failed, 1);
  EXPECT_EQ(ok, 9);
  auto summary = slurp(dir + "/summary.csv");
  EXPECT_NE(summary.find("n_failed"), std::string::npos);
  // Resuming without the fault runs just the failed trial.
  r = run(sweep(3, out, "--set finetune.fuse=1 --resume"));
  EXPECT_EQ(r.code, 0) << r.output;
  int oks = 0;
  for (const auto& j : journal_lines(dir)) oks += j["status"] == "ok";
  EXPECT_EQ(oks, 10);
}

TEST(Mpi, LockRefusesASecondSweepWhileOneRuns) {
  auto out = fresh_dir("mpilock");
  const std::string dir = out + "/tiny";
  // The first sweep is held at its first epoch boundaries (--hold-while) until the second has
  // been refused: it outlasts the second mpirun's start-up on any machine.
  const std::string gate = out + "/hold";
  { std::ofstream(gate) << "held by mpi_test\n"; }
  Background job(sweep(3, out, "--hold-while " + gate));
  ASSERT_TRUE(wait_for([&] { return rank0_pid(dir) > 0; }, 60));
  auto r = run(sweep(1, out, "--resume"));
  fs::remove_all(gate);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("another sweep"), std::string::npos) << r.output;
  EXPECT_EQ(job.wait(), 0);  // the first sweep is unharmed
}

// MPI errors come back to MPI_CHECK (MPI_ERRORS_RETURN), which names rank, host and call and
// ends the whole job; MPI's default handler would abort inside the call in its own words.
TEST(MpiErrors, AFailedCallNamesRankHostAndCallAndEndsTheJob) {
  const char* prog = std::getenv("ANCHORSWEEP_MPI_ERRORS");
  ASSERT_NE(prog, nullptr) << "ANCHORSWEEP_MPI_ERRORS (set by ctest)";
  const std::string cmd = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np 2 --oversubscribe " +
                          std::string(prog);
  const auto r = run(cmd);
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("anchorsweep: rank 0 ("), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("MPI failure "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'MPI_Send("), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("ending the job"), std::string::npos) << r.output;
}
