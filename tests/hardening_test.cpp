// A sweep on a cluster's terms, as whole processes under mpirun: SIGKILL at random moments
// then resume (bit-identical, every trial once, no checkpointed epoch trained twice), SIGUSR1
// stops within one epoch, a rank that cannot read its data ends the job at once, divergence
// is a failure of one trial only.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "cli.hpp"

using namespace anchorsweep::testing;
using Clock = std::chrono::steady_clock;

namespace {

const char* kMpi = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 ";

// Long enough pretraining epochs (about a second each on one core) for kills and signals to
// land inside them; small enough for the suite.
const char* kLong = " --set data.synthetic.a_train=2500 --set pretrain.epochs=5 --set run.seeds=[1,2] ";

std::string sweep_cmd(int np, const std::string& out, const std::string& extra = "") {
  return std::string(kMpi) + "exec mpirun -np " + std::to_string(np) + " --oversubscribe " + bin() + " run " +
         tiny_config() + " --set run.output_dir=" + out + " --no-report --quiet" + kLong + extra;
}

// anchorsweep processes whose command line mentions `marker`.
std::vector<pid_t> processes_with(const std::string& marker) {
  std::vector<pid_t> pids;
  for (const auto& name : anchorsweep::list_dir("/proc")) {
    pid_t pid = std::atoi(name.c_str());
    if (pid <= 0 || pid == getpid()) continue;
    auto cmd = slurp("/proc/" + name + "/cmdline");
    for (auto& c : cmd) if (c == '\0') c = ' ';
    if (cmd.find(marker) != std::string::npos && cmd.find("anchorsweep") != std::string::npos) pids.push_back(pid);
  }
  return pids;
}

// A command in its own process group, exec'ed by sh so that `pid` is mpirun itself.
struct Job {
  pid_t pid = -1;
  explicit Job(const std::string& cmd, const std::string& log = "/dev/null") {
    pid = fork();
    if (pid == 0) {
      setsid();
      execl("/bin/sh", "sh", "-c", ("exec >" + log + " 2>&1; " + cmd).c_str(), (char*)nullptr);
      _exit(127);
    }
  }
  // Exit code, or -1 when still running after `seconds`.
  int wait(double seconds = 600) {
    auto end = Clock::now() + std::chrono::duration<double>(seconds);
    while (Clock::now() < end) {
      int status = 0;
      pid_t r = waitpid(pid, &status, WNOHANG);
      if (r == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      // At most 20 ms, and never past `end`: a short wait polls at its own granularity.
      const auto left = std::chrono::duration_cast<std::chrono::microseconds>(end - Clock::now());
      std::this_thread::sleep_for(std::min<std::chrono::microseconds>(std::chrono::milliseconds(20), left));
    }
    return -1;
  }
  // `sig` to mpirun's process group and to every anchorsweep process whose command line mentions
  // `marker`: Open MPI may start the ranks outside that group, where they would run on.
  void kill_all(int sig, const std::string& marker) {
    if (pid > 0) ::kill(-pid, sig);
    for (pid_t p : processes_with(marker)) ::kill(p, sig);
  }
  ~Job() {
    if (pid > 0) {
      ::kill(-pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

// Removes a test's directories when the test passed (a failed one keeps them to look at).
struct RemoveWhenPassed {
  std::vector<std::string> dirs;
  ~RemoveWhenPassed() {
    if (::testing::Test::HasFailure()) return;
    for (const auto& d : dirs) fs::remove_all(d);
  }
};

bool wait_for(const std::function<bool()>& cond, double seconds) {
  auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

// Epochs a resume starts with: the last journaled checkpoint of every unfinished long task.
int epochs_held_by_checkpoints(const std::string& dir) {
  std::map<std::string, int> last;
  for (const auto& j : journal_lines(dir, "checkpoint"))
    last[j["task"].get<std::string>()] = std::max<int>(last[j["task"].get<std::string>()], j["epoch"].get<int>());
  for (const auto& j : journal_lines(dir, "pretrain")) last.erase("pretrain-s" + std::to_string(j["seed"].get<int>()));
  for (const auto& j : journal_lines(dir))
    if (j["kind"] == "scratch") last.erase("scratch-s" + std::to_string(j["seed"].get<int>()));
  int n = 0;
  for (const auto& [task, epoch] : last) n += epoch;
  return n;
}

void wait_gone(const std::string& marker) {
  wait_for([&] { return processes_with(marker).empty(); }, 10);
}

}  // namespace

TEST(Hardening, SigkillAtTenRandomMomentsThenResumeIsBitIdentical) {
  auto ref = fresh_dir("killref"), out = fresh_dir("kill10");
  RemoveWhenPassed cleanup{{ref, out}};
  auto t0 = Clock::now();
  // 40 pretraining epochs: enough checkpointed progress for ten kills that each land after some
  // (16 were enough before pretraining became 2-3x faster; then the sweep finished after 4 kills).
  const std::string longer = " --set pretrain.epochs=40";
  auto r = run(sweep_cmd(3, ref, longer));
  ASSERT_EQ(r.code, 0) << r.output;
  const double full_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const std::string dir = out + "/tiny";

  std::mt19937 rng(20261126);  // seeded: the same moments on every run of the suite
  // A moment is "once this attempt has journaled 1 to 4 new lines (checkpoints of epochs, trials)":
  // every kill lands inside the sweep after real progress (so checkpoints exist to resume from),
  // usually inside the next epoch, and each attempt moves the sweep on by a few lines, never by
  // a stretch of time: however fast training gets, ten attempts cannot finish the sweep.
  auto journal_size = [&] {
    const std::string s = fs::exists(dir + "/results.jsonl") ? slurp(dir + "/results.jsonl") : "";
    return std::count(s.begin(), s.end(), '\n');
  };
  std::uniform_int_distribution<int> lines(1, 4);
  int killed = 0, finished_early = 0, saved = 0;
  for (int k = 0; k < 10; ++k) {
    const bool first = !fs::exists(dir + "/config.toml");
    if (!first) saved += epochs_held_by_checkpoints(dir);
    const auto target = std::max<long>(journal_size(), 1) + lines(rng);  // past the version line
    Job job(sweep_cmd(3, out, first ? longer : longer + " --resume"));
    const auto give_up = Clock::now() + std::chrono::seconds(120);
    int code = -1;
    while (code < 0 && journal_size() < target && Clock::now() < give_up) code = job.wait(0.002);
    if (code >= 0) {
      ++finished_early;
      break;  // the sweep completed before this moment
    }
    job.kill_all(SIGKILL, out);  // every rank at once, as a node failure would
    job.wait(30);
    wait_gone(out);
    ++killed;
  }
  saved += epochs_held_by_checkpoints(dir);
  auto fin = run(sweep_cmd(3, out, longer + " --resume"));
  ASSERT_EQ(fin.code, 0) << fin.output;
  EXPECT_GE(killed, 8) << "too few kills landed inside the sweep";

  EXPECT_EQ(metric_columns(dir + "/results.csv"), metric_columns(ref + "/tiny/results.csv"));
  auto ids = trial_ids(dir);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size()) << "a trial was journaled twice";
  EXPECT_EQ(ids.size(), trial_ids(ref + "/tiny").size());
  for (const auto& j : journal_lines(dir)) EXPECT_EQ(j["status"], "ok") << j["id"];
  // No epoch that a checkpoint held was trained again: each (task, epoch) checkpointed once.
  std::map<std::pair<std::string, int64_t>, int> seen;
  for (const auto& j : journal_lines(dir, "checkpoint")) ++seen[{j["task"].get<std::string>(), j["epoch"].get<int64_t>()}];
  for (const auto& [k, n] : seen) EXPECT_EQ(n, 1) << k.first << " epoch " << k.second << " checkpointed twice";
  EXPECT_GT(saved, 0) << "no resume continued from a checkpoint";
  std::cout << "[ figures  ] " << killed << " SIGKILLs at seeded random moments, " << finished_early
            << " run(s) finished first; " << saved << " epoch(s) not recomputed thanks to checkpoints; "
            << seen.size() << " checkpoints journaled; uninterrupted run " << full_s << " s" << std::endl;
  EXPECT_TRUE(fs::is_empty(dir + "/checkpoints")) << "finished tasks leave no checkpoint behind";
}

TEST(Hardening, SigusrOneStopsWithinOneEpochThenResumes) {
  auto out = fresh_dir("usr1");
  RemoveWhenPassed cleanup{{out}};
  const std::string dir = out + "/tiny", gate = out + "/hold";
  // One seed, a long pretraining, held after its first epoch (--hold-while) until the signal:
  // the signal releases it into epoch 2, and the sweep must stop at that epoch's end, whatever
  // the speed of training.
  { std::ofstream(gate) << "held by hardening_test\n"; }
  const std::string held = "--set run.seeds=[1] --set pretrain.epochs=8 --hold-while " + gate + " --hold-task pretrain-s1";
  Job job(sweep_cmd(2, out, held));
  auto pretrain_epochs = [&] {
    size_t n = 0;
    for (const auto& j : journal_lines(dir, "checkpoint")) n += j["task"] == "pretrain-s1";
    return n;
  };
  ASSERT_TRUE(wait_for([&] { return pretrain_epochs() >= 1; }, 120)) << "no epoch finished";
  const auto sent = Clock::now();
  ASSERT_EQ(::kill(job.pid, SIGUSR1), 0);  // to mpirun, which forwards SIGUSR1 to every rank
  const int code = job.wait(120);
  const double took = std::chrono::duration<double>(Clock::now() - sent).count();
  EXPECT_EQ(code, 3) << "a stopped sweep exits 3";
  std::cout << "[ figures  ] SIGUSR1 to exit, one pretraining epoch included: " << took << " s" << std::endl;
  EXPECT_EQ(pretrain_epochs(), 2u) << "it should stop at the end of the epoch the signal found it in";
  const auto cks = journal_lines(dir, "checkpoint");
  EXPECT_TRUE(journal_lines(dir, "pretrain").empty()) << "the pretraining did not finish";
  // Resume continues from the checkpoint and completes.
  auto r = run(sweep_cmd(2, out, "--set run.seeds=[1] --set pretrain.epochs=8 --resume"));  // no gate now
  ASSERT_EQ(r.code, 0) << r.output;
  auto pre = journal_lines(dir, "pretrain");
  ASSERT_EQ(pre.size(), 1u);
  int64_t last = 0;
  for (const auto& c : cks)
    if (c["task"] == "pretrain-s1") last = std::max<int64_t>(last, c["epoch"].get<int64_t>());
  EXPECT_GT(last, 0);
  EXPECT_EQ(pre[0]["resumed_from_epoch"].get<int64_t>(), last);
}

TEST(Hardening, DataMissingOnOneRankEndsTheJobFast) {
  auto base = fresh_dir("mpmd");
  RemoveWhenPassed cleanup{{base}};
  const std::string a = base + "/A", b = base + "/B";
  fs::create_directories(a + "/data");
  fs::create_directories(b);
  // Two labels, tiny files; every split the same.
  std::string records = "[";
  for (int i = 0; i < 12; ++i)
    records += std::string(i ? "," : "") + R"({"token":["the","cat","sat","on","mat"],"relation":")" +
               (i % 3 ? "no_relation" : "rel") +
               R"(","subj_start":1,"subj_end":1,"obj_start":4,"obj_end":4,"subj_type":"X","obj_type":"Y"})";
  records += "]";
  for (auto f : {"a_train", "a_dev", "b_train", "b_dev", "b_test"}) std::ofstream(a + "/data/" + f + ".json") << records;
  const std::string cfg = "[run]\nname = \"m\"\noutput_dir = \"runs\"\nthreads = 1\n[data]\nformat = \"tacred\"\n"
                          "a_train = \"data/a_train.json\"\na_dev = \"data/a_dev.json\"\nb_train = \"data/b_train.json\"\n"
                          "b_dev = \"data/b_dev.json\"\nb_test = \"data/b_test.json\"\n[pretrain]\nepochs = 1\n"
                          "[finetune]\nepochs = 1\n";
  std::ofstream(a + "/c.toml") << cfg;
  std::ofstream(b + "/c.toml") << cfg;
  const auto t0 = Clock::now();
  // Rank 0 in A (data present), ranks 1 and 2 in B (no data). One app context with a wrapper
  // that picks the directory by rank, not MPMD `mpirun ... : ...`: Debian 13's Open MPI 5.0.7
  // mpirun crashes on any colon-separated command line (open-mpi/ompi#13303).
  Job job(std::string(kMpi) + "exec mpirun --oversubscribe -np 3 sh -c 'if [ \"$OMPI_COMM_WORLD_RANK\" = 0 ]; then cd " +
              a + "; else cd " + b + "; fi; exec " + bin() + " run c.toml'",
          base + "/log");
  const int code = job.wait(60);
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  const auto log = slurp(base + "/log");
  EXPECT_EQ(code, 2) << log;
  EXPECT_LT(took, 10.0) << log;
  EXPECT_NE(log.find("rank 1"), std::string::npos) << log;
  EXPECT_NE(log.find("a_train.json"), std::string::npos) << log;
  EXPECT_NE(log.find("start-up failed on 2 of 3 rank(s)"), std::string::npos) << log;
  EXPECT_FALSE(fs::exists(a + "/runs")) << "nothing may be written";
  wait_gone(base);
  EXPECT_TRUE(processes_with(base).empty()) << "a rank was left behind";
  std::cout << "[ figures  ] a rank without its data file: job ended in " << took << " s, exit " << code << std::endl;
}

TEST(Hardening, DivergenceFailsThatTrialOnly) {
  auto out = fresh_dir("diverge");
  RemoveWhenPassed cleanup{{out}};
  const std::string dir = out + "/tiny";
  auto r = run(std::string(kMpi) + "mpirun -np 3 --oversubscribe " + bin() + " run " + tiny_config() +
               " --set run.output_dir=" + out + " --quiet --set finetune.optimizer=sgd --set finetune.lr=1"
               " --set finetune.grad_clip=0 --set sweep.lambdas=[0,1000] --set 'sweep.baselines=[\"pretrained\"]'");
  EXPECT_EQ(r.code, 1) << r.output;
  int diverged = 0, ok = 0;
  for (const auto& j : journal_lines(dir)) {
    if (j["status"] == "diverged") {
      ++diverged;
      EXPECT_NE(j["id"].get<std::string>().find("lam1000"), std::string::npos) << j["id"];
      EXPECT_NE(j["error"].get<std::string>().find("non-finite"), std::string::npos) << j["error"];
      EXPECT_NE(j["error"].get<std::string>().find("epoch"), std::string::npos) << j["error"];
    } else {
      EXPECT_EQ(j["status"], "ok") << j["id"];
      ++ok;
    }
  }
  EXPECT_EQ(diverged, 2);  // λ = 1000 for both seeds
  EXPECT_EQ(ok, 4);        // λ = 0 and the pretrained baseline for both seeds
  const auto report = slurp(dir + "/report.md");
  EXPECT_NE(report.find("diverged"), std::string::npos);
  EXPECT_NE(report.find("lr·λ"), std::string::npos) << "the report names the likely cause";
}

TEST(Hardening, ResumeRefusesChangedDataOrThreads) {
  auto base = fresh_dir("changed");
  RemoveWhenPassed cleanup{{base}};
  fs::create_directories(base + "/data");
  std::string records = "[";
  for (int i = 0; i < 12; ++i)
    records += std::string(i ? "," : "") + R"({"token":["a","b","c","d"],"relation":")" + (i % 2 ? "no_relation" : "r") +
               R"(","subj_start":0,"subj_end":0,"obj_start":3,"obj_end":3,"subj_type":"X","obj_type":"Y"})";
  records += "]";
  for (auto f : {"a_train", "a_dev", "b_train", "b_dev", "b_test"}) std::ofstream(base + "/data/" + f + ".json") << records;
  std::ofstream(base + "/c.toml") << "[run]\nname = \"c\"\noutput_dir = \"" + base + "/runs\"\nthreads = 1\n[data]\n"
      "format = \"tacred\"\na_train = \"data/a_train.json\"\na_dev = \"data/a_dev.json\"\nb_train = \"data/b_train.json\"\n"
      "b_dev = \"data/b_dev.json\"\nb_test = \"data/b_test.json\"\n[pretrain]\nepochs = 1\n[finetune]\nepochs = 1\n"
      "[sweep]\nlambdas = [0]\nbaselines = []\n";
  auto r = run(bin() + " run " + base + "/c.toml --quiet --no-report");
  ASSERT_EQ(r.code, 0) << r.output;
  r = run(bin() + " run " + base + "/c.toml --quiet --no-report --resume --set run.threads=2");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("run.threads"), std::string::npos) << r.output;
  // Same path, different bytes.
  std::ofstream(base + "/data/b_dev.json") << records.substr(0, records.size() - 1) + "," + records.substr(1);
  r = run(bin() + " run " + base + "/c.toml --quiet --no-report --resume --set 'sweep.lambdas=[0,1]'");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("data.b_dev"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("differs from the file the run began with"), std::string::npos) << r.output;
}
