// The Coordinator and the TrialPlan without MPI and without training: ranks are a scripted
// sequence of calls (next, epoch_done, complete) against a real run directory, and each task's
// "result" is made up on the spot. What is checked is the scheduling: every trial exactly once,
// dependencies, gang scheduling of data-parallel groups, a stop, resume, failures, a silent rank.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli.hpp"
#include "config/config.hpp"
#include "sweep/coordinator.hpp"
#include "sweep/messages.hpp"
#include "common/files.hpp"
#include "rundir/journal.hpp"
#include "sweep/plan.hpp"
#include "sweep/progress.hpp"
#include "sweep/rank_watch.hpp"
#include "common/liveness.hpp"
#include <thread>
#include "rundir/run_directory.hpp"
#include "rundir/run_writer.hpp"

using namespace anchorsweep;
using anchorsweep::testing::fresh_dir;
namespace fs = anchorsweep::testing::fs;

namespace {

// A small synthetic sweep; the coordinator never looks at the data or the model.
SweepConfig config(const std::string& out, const std::string& lambdas, int64_t group_ranks = 1,
                   const std::string& seeds = "[1, 2]") {
  const std::string text = "[run]\nname = \"coord\"\noutput_dir = \"" + out + "\"\nseeds = " + seeds +
                           "\n[pretrain]\nepochs = 3\nranks = " + std::to_string(group_ranks) +
                           "\n[sweep]\nlambdas = " + lambdas + "\nbaselines = [\"pretrained\", \"scratch\"]\n";
  return parse_config(text, out + "/coord.toml");
}

std::vector<char> encoder_bytes(int64_t seed) { return {'e', 'n', 'c', static_cast<char>('0' + seed)}; }

// What a worker would send back after running `a`, with `ok` deciding a pretraining's fate.
TaskOutput made_up_output(const Assignment& a, int64_t rank, bool ok = true) {
  TaskOutput out;
  out.task_id = a.work.id;
  out.type = a.work.type;
  out.seed = a.work.seed;
  if (!a.group.empty() && a.group.front() != rank) {
    out.group_member = true;
    return out;
  }
  if (a.work.type == TaskType::pretrain) {
    PretrainRecord p;
    p.seed = a.work.seed;
    p.rank = rank;
    p.status = ok ? Status::ok : Status::failed;
    if (!ok) p.error = "made-up failure";
    out.pretrain = p;
    if (ok) out.encoder = encoder_bytes(a.work.seed);
    return out;
  }
  for (const auto& key : a.work.trials) {
    TrialResult r;
    r.key = key;
    r.rank = rank;
    r.task = a.work.id;
    r.metrics[EvalSplit::dev] = Scores{};
    out.trials.push_back(r);
    out.checkpoints.push_back({'w'});
  }
  return out;
}

// One attempt of a sweep: the run directory, its writer, and the coordinator over the plan.
struct Attempt {
  SweepConfig cfg;
  RunDirectory dir;
  RunWriter writer;
  TrialPlan plan;
  Progress progress;
  Coordinator coord;

  Attempt(SweepConfig c, int64_t ranks, bool resume)
      : cfg(std::move(c)), dir(cfg, resume), writer(dir, {}),
        plan(make_plan(cfg, ranks, dir.prior().done_trials, dir.prior().pretrained_seeds)),
        progress(plan.trial_count(), ranks, ProgressStyle{LogFormat::text, /*quiet=*/true}),
        coord(cfg, plan, dir, writer, progress) {}
};

// Ranks taking turns: a rank that holds a task finishes it at its next turn, a rank without one
// asks. Records what each rank was handed, in order.
struct Script {
  Coordinator& coord;
  std::vector<int64_t> ranks;                      // the ranks that ever ask
  std::map<int64_t, std::optional<Assignment>> holding;
  std::map<int64_t, std::vector<int64_t>> cached;  // seeds whose encoder a rank holds
  std::set<int64_t> finished;                      // ranks told `done`
  std::vector<std::pair<int64_t, Assignment>> handed;
  std::set<int64_t> failing_seeds;                 // their pretraining fails
  std::vector<std::string> violations;             // a finetune handed before its encoder existed
  std::set<int64_t> pretrained;

  // One round: every rank acts once. Returns whether anything is left to do.
  bool round() {
    for (int64_t r : ranks) {
      if (finished.count(r)) continue;
      if (auto& h = holding[r]) {
        const Assignment a = *h;
        h.reset();
        const bool ok = !failing_seeds.count(a.work.seed);
        if (a.work.type == TaskType::pretrain && ok) {
          if (a.group.empty() || a.group.front() == r) pretrained.insert(a.work.seed);
          cached[r].push_back(a.work.seed);  // a worker keeps the encoder it trained
        }
        coord.complete(r, made_up_output(a, r, ok));
        continue;
      }
      Assignment a = coord.next(r, cached[r]);
      if (a.kind == Assignment::done) {
        finished.insert(r);
        continue;
      }
      if (a.kind == Assignment::wait) continue;
      if (a.work.type == TaskType::finetune) {
        if (!pretrained.count(a.work.seed)) violations.push_back(a.work.id);
        if (!a.encoder.empty()) cached[r].push_back(a.work.seed);
      }
      handed.emplace_back(r, a);
      holding[r] = a;
    }
    return finished.size() < ranks.size();
  }
  void run_to_end(int rounds = 1000) {
    for (int i = 0; i < rounds && round(); ++i) {
    }
  }
};

std::map<std::string, int64_t> journaled_trials(const std::string& dir) {
  std::map<std::string, int64_t> n;
  for (const auto& r : read_results(dir).trials) n[r.key.id()]++;
  return n;
}

int64_t count_lines(const std::string& dir, const std::string& type) {
  int64_t n = 0;
  for (const auto& line : anchorsweep::testing::journal_lines(dir, type)) n += line.is_object();
  return n;
}

}  // namespace

TEST(Plan, PretrainFirstThenFinetuneThenScratchAndEveryTrialOnce) {
  const auto cfg = config(fresh_dir("plan"), "[0.01, 0.1, 1.0]");
  const TrialPlan plan = make_plan(cfg, 2);
  // 2 seeds x (3 λ + pretrained + scratch).
  EXPECT_EQ(plan.trial_count(), 10);
  std::set<std::string> ids;
  int stage = 0;  // 0 pretrain, 1 finetune, 2 scratch: never goes back
  for (const auto& t : plan.tasks) {
    const int s = t.type == TaskType::pretrain ? 0 : t.type == TaskType::finetune ? 1 : 2;
    EXPECT_GE(s, stage) << t.id;
    stage = s;
    for (const auto& k : t.trials) EXPECT_TRUE(ids.insert(k.id()).second) << k.id();
  }
  EXPECT_EQ(ids.size(), 10u);
  // Done trials and pretrained seeds leave the plan.
  const TrialPlan rest = make_plan(cfg, 2, {"s1-lam0.01", "s1-lam0.1", "s1-lam1", "s1-pretrained"}, {1});
  EXPECT_EQ(rest.trial_count(), 6);
  for (const auto& t : rest.tasks) EXPECT_NE(t.id, "pretrain-s1");
}

TEST(Coordinator, EveryTrialRunsOnceAndNoFinetuneBeforeItsEncoder) {
  const auto out = fresh_dir("coord-all");
  std::string dir;
  {
    Attempt at(config(out, "[0.01, 0.1, 1.0]"), 3, false);
    dir = at.dir.path();
    Script s{at.coord, {0, 1, 2}};
    s.run_to_end();
    EXPECT_EQ(s.finished.size(), 3u) << "every rank was told the sweep is done";
    EXPECT_TRUE(s.violations.empty()) << s.violations.front();
    EXPECT_EQ(at.coord.remaining(), 0);
    EXPECT_EQ(at.coord.failed(), 0);
    // A finetune task goes preferably to a rank that already holds its seed's encoder: then
    // no encoder travels. Some rank must have been handed a finetune without an encoder.
    const bool reused = std::any_of(s.handed.begin(), s.handed.end(), [](const auto& h) {
      return h.second.work.type == TaskType::finetune && h.second.encoder.empty();
    });
    EXPECT_TRUE(reused);
    at.writer.flush();
  }
  const auto n = journaled_trials(dir);
  EXPECT_EQ(n.size(), 10u);
  for (const auto& [id, count] : n) EXPECT_EQ(count, 1) << id;
  EXPECT_EQ(count_lines(dir, "pretrain"), 2);
  EXPECT_TRUE(fs::exists(dir + "/encoders/seed-1.pt"));
  EXPECT_TRUE(fs::exists(dir + "/trials/s2-lam0.1/adapter.pt"));
  EXPECT_TRUE(fs::exists(dir + "/trials/s1-scratch/encoder.pt"));
}

TEST(Coordinator, GroupsAreGangScheduledAndOneRankTasksGoFirst) {
  const auto out = fresh_dir("coord-gang");
  Attempt at(config(out, "[0.01, 0.1]", /*group_ranks=*/2), 3, false);
  Script s{at.coord, {0, 1, 2}};
  // Rank 0 opens a gathering for pretrain-s1 and waits; rank 1 joins and completes it: both are
  // handed the same task, led by rank 0.
  EXPECT_EQ(at.coord.next(0, {}).kind, Assignment::wait);
  Assignment a1 = at.coord.next(1, {});
  ASSERT_EQ(a1.kind, Assignment::task);
  EXPECT_EQ(a1.work.id, "pretrain-s1");
  EXPECT_EQ(a1.group, (std::vector<int64_t>{0, 1}));
  Assignment a0 = at.coord.next(0, {});  // rank 0 collects its share of the started group
  ASSERT_EQ(a0.kind, Assignment::task);
  EXPECT_EQ(a0.work.id, "pretrain-s1");
  EXPECT_EQ(a0.group, a1.group);

  // The group finishes: seed 1's finetune tasks are ready. Rank 2, free, is handed one rather
  // than opening a gathering for pretrain-s2 (ready one-rank work first).
  at.coord.complete(1, made_up_output(a1, 1));
  at.coord.complete(0, made_up_output(a0, 0));
  Assignment f = at.coord.next(2, {});
  ASSERT_EQ(f.kind, Assignment::task);
  EXPECT_EQ(f.work.type, TaskType::finetune);
  EXPECT_EQ(f.work.seed, 1);
  EXPECT_EQ(f.encoder, encoder_bytes(1));
  s.cached[2] = {1};
  s.holding[2] = f;
  s.pretrained.insert(1);
  s.run_to_end();
  EXPECT_TRUE(s.violations.empty());
  EXPECT_EQ(s.finished.size(), 3u);
  std::map<std::string, std::set<int64_t>> members;
  for (const auto& [rank, a] : s.handed)
    if (a.work.type != TaskType::finetune) {
      EXPECT_EQ(a.group.size(), 2u) << a.work.id;
      members[a.work.id].insert(rank);
    }
  // pretrain-s2, scratch-s1, scratch-s2 (pretrain-s1 was handed above): each to two ranks.
  EXPECT_EQ(members.size(), 3u);
  for (const auto& [id, m] : members) EXPECT_EQ(m.size(), 2u) << id;
  at.writer.flush();
  const auto n = journaled_trials(at.dir.path());
  EXPECT_EQ(n.size(), 8u);  // 2 seeds x (2 λ + pretrained + scratch)
  for (const auto& [id, count] : n) EXPECT_EQ(count, 1) << id;
}

TEST(Coordinator, AStopCheckpointsRunningTasksAndResumeContinuesThem) {
  const auto out = fresh_dir("coord-stop");
  const auto cfg = config(out, "[0.1]");
  std::string dir;
  {
    Attempt at(cfg, 2, false);
    dir = at.dir.path();
    Assignment a = at.coord.next(0, {});
    ASSERT_EQ(a.work.id, "pretrain-s1");
    EXPECT_TRUE(at.coord.epoch_done(0, a.work.id, 1, {'c', '1'}));  // go on
    at.coord.request_stop();
    EXPECT_FALSE(at.coord.epoch_done(0, a.work.id, 2, {'c', '2'}));  // stop here, checkpointed
    TaskOutput stopped;
    stopped.task_id = a.work.id;
    stopped.type = a.work.type;
    stopped.seed = a.work.seed;
    stopped.stopped = true;
    at.coord.complete(0, stopped);
    EXPECT_EQ(at.coord.next(0, {}).kind, Assignment::done);
    EXPECT_EQ(at.coord.next(1, {}).kind, Assignment::done);  // no new work after a stop
    EXPECT_EQ(at.coord.remaining(), 6);                      // nothing was finished
    at.writer.flush();
  }
  EXPECT_EQ(count_lines(dir, "checkpoint"), 2);
  EXPECT_TRUE(journaled_trials(dir).empty());

  Attempt again(cfg, 2, /*resume=*/true);
  EXPECT_EQ(again.dir.prior().checkpoints.at("pretrain-s1"), 2);
  Assignment a = again.coord.next(0, {});
  ASSERT_EQ(a.work.id, "pretrain-s1");
  EXPECT_EQ(a.resume, (std::vector<char>{'c', '2'})) << "the last epoch's checkpoint travels with the task";
  Script s{again.coord, {0, 1}};
  s.holding[0] = a;
  s.run_to_end();
  EXPECT_EQ(again.coord.remaining(), 0);
  again.writer.flush();
  EXPECT_EQ(journaled_trials(dir).size(), 6u);
  // A finished task keeps no epoch checkpoint.
  EXPECT_FALSE(fs::exists(dir + "/checkpoints/pretrain-s1.ckpt"));
}

TEST(Coordinator, ResumeWithAnExtendedGridRunsOnlyTheNewTrials) {
  const auto out = fresh_dir("coord-extend");
  std::string dir;
  {
    Attempt at(config(out, "[0.1]"), 2, false);
    dir = at.dir.path();
    Script s{at.coord, {0, 1}};
    s.run_to_end();
    at.writer.flush();
  }
  ASSERT_EQ(journaled_trials(dir).size(), 6u);
  Attempt more(config(out, "[0.1, 1.0, 10.0]", 1, "[1, 2, 3]"), 2, /*resume=*/true);
  EXPECT_EQ(more.dir.prior().done_trials.size(), 6u);
  EXPECT_EQ(more.dir.prior().pretrained_seeds, (std::set<int64_t>{1, 2}));
  // Only the new λ of seeds 1 and 2, and all of seed 3 (5 trials), with seed 3's pretraining.
  EXPECT_EQ(more.plan.trial_count(), 2 * 2 + 5);
  Script s{more.coord, {0, 1}};
  s.pretrained = {1, 2};  // ready from the first attempt
  s.run_to_end();
  EXPECT_TRUE(s.violations.empty());
  int pretrains = 0;
  for (const auto& [rank, a] : s.handed) {
    if (a.work.type == TaskType::pretrain) {
      ++pretrains;
      EXPECT_EQ(a.work.seed, 3);
    }
    // Encoders of the first attempt are read back from the run directory.
    if (a.work.type == TaskType::finetune && a.work.seed < 3 && !a.encoder.empty())
      EXPECT_EQ(a.encoder, encoder_bytes(a.work.seed));
  }
  EXPECT_EQ(pretrains, 1);
  more.writer.flush();
  const auto n = journaled_trials(dir);
  EXPECT_EQ(n.size(), 15u);
  for (const auto& [id, count] : n) EXPECT_EQ(count, 1) << id;
}

TEST(Coordinator, AFailedPretrainingFailsItsFinetuneTrialsAndNothingElse) {
  const auto out = fresh_dir("coord-fail");
  Attempt at(config(out, "[0.01, 0.1]"), 2, false);
  Script s{at.coord, {0, 1}};
  s.failing_seeds = {1};
  s.run_to_end();
  EXPECT_EQ(s.finished.size(), 2u);
  for (const auto& [rank, a] : s.handed)
    EXPECT_FALSE(a.work.type == TaskType::finetune && a.work.seed == 1) << "never handed: " << a.work.id;
  // Seed 1's 2 λ trials and its pretrained baseline fail; its scratch baseline and seed 2 run.
  EXPECT_EQ(at.coord.failed(), 3);
  at.writer.flush();
  int failed = 0, ok = 0;
  for (const auto& r : read_results(at.dir.path()).trials) {
    if (r.status == Status::failed) {
      ++failed;
      EXPECT_EQ(r.key.seed, 1);
      EXPECT_NE(r.error.find("pretraining of seed 1 failed: made-up failure"), std::string::npos) << r.error;
    } else {
      ++ok;
    }
  }
  EXPECT_EQ(failed, 3);
  EXPECT_EQ(ok, 5);  // s1-scratch and seed 2's four
}

TEST(Coordinator, ALostRankHasItsTaskJournaledAsFailedAndResumeRerunsIt) {
  const auto out = fresh_dir("coord-lost");
  {
    Attempt at(config(out, "[0.01]", /*group_ranks=*/2), 3, false);
    // Ranks 1 and 2 form the group of pretrain-s1 (rank 1 leads); rank 0 idles meanwhile.
    EXPECT_EQ(at.coord.next(1, {}).kind, Assignment::wait);
    const Assignment a = at.coord.next(2, {});
    ASSERT_EQ(a.kind, Assignment::task);
    ASSERT_EQ(a.work.id, "pretrain-s1");
    EXPECT_EQ(at.coord.next(1, {}).work.id, "pretrain-s1");  // the leader collects its share
    // A member is lost: the group's task is what it ran. An idle rank held none.
    EXPECT_EQ(at.coord.lost(2, "nodeB", "no message from it for 61.0 s"), "pretrain-s1");
    EXPECT_EQ(at.coord.lost(0, "nodeA", "whatever"), "");
    at.writer.flush();
    const auto results = read_results(at.dir.path());
    ASSERT_EQ(results.pretrains.size(), 1u);
    EXPECT_EQ(results.pretrains[0].status, Status::failed);
    EXPECT_EQ(results.pretrains[0].error, "lost rank 2 (nodeB): no message from it for 61.0 s");
    EXPECT_EQ(results.pretrains[0].host, "nodeB");
  }
  // --resume plans pretrain-s1 again: a failed pretraining is not done.
  Attempt again(config(out, "[0.01]", 2), 3, true);
  EXPECT_TRUE(again.dir.prior().pretrained_seeds.empty());
  EXPECT_EQ(again.plan.tasks.front().id, "pretrain-s1");
}

TEST(RankWatch, SilenceOrAStuckTrainingThreadPastTheTimeoutIsALostRank) {
  RankWatch w(4, /*timeout_s=*/10, /*now_s=*/0);
  std::vector<int> all;  // silent forever: every rank but rank 0, the watcher
  for (const auto& l : w.lost(1e9)) all.push_back(l.rank);
  EXPECT_EQ(all, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(w.lost(9.9).empty());
  w.heard(1, 5);                     // any message: alive and progressing
  w.heard(2, 5, /*stalled_s=*/0.2);  // a beat: alive, trained 0.2 s ago
  w.heard(3, 5, /*stalled_s=*/8);    // a beat: alive, but no progress for 8 s
  // At 10: nothing is silent for 10 s yet; rank 3's training thread is stuck for 8 + 5 = 13 s.
  auto lost = w.lost(10);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].rank, 3);
  EXPECT_NEAR(lost[0].seconds, 13, 1e-9);
  EXPECT_NE(lost[0].cause.find("training thread has made no progress for 13.0 s"), std::string::npos) << lost[0].cause;
  w.heard(3, 10);  // it answered: progress again
  EXPECT_TRUE(w.lost(10).empty());
  // At 15: ranks 1 and 2 have been silent for 10 s.
  lost = w.lost(15);
  ASSERT_EQ(lost.size(), 2u);
  EXPECT_EQ(lost[0].rank, 1);
  EXPECT_EQ(lost[1].rank, 2);
  EXPECT_NE(lost[0].cause.find("no message from it for 10.0 s"), std::string::npos) << lost[0].cause;
  // A rank told the sweep is over is no longer watched; one MPI cannot reach is lost at once.
  w.done(1);
  w.done(2);
  EXPECT_TRUE(w.lost(15).empty());
  w.unreachable(3, "connection reset");
  lost = w.lost(15);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_NE(lost[0].cause.find("MPI cannot reach it (connection reset)"), std::string::npos) << lost[0].cause;
  // A timeout of 0 watches nothing.
  EXPECT_TRUE(RankWatch(4, 0, 0).lost(1e9).empty());
}

TEST(RankWatch, AWatcherThatWasStoppedBlamesNoOneForItsOwnPause) {
  ActiveClock clock(/*max_gap_s=*/1, /*wall_s=*/100);
  EXPECT_DOUBLE_EQ(clock.now(100.5), 100.5);  // gaps up to 1 s count in full
  EXPECT_DOUBLE_EQ(clock.now(101.4), 101.4);
  EXPECT_DOUBLE_EQ(clock.now(131.4), 102.4);  // stopped for 30 s: counts as 1 s
  EXPECT_DOUBLE_EQ(clock.now(132.0), 103.0);
  // So a watcher stopped past the timeout does not, once it runs again, find its ranks silent.
  RankWatch w(2, 10, clock.now(132.0));
  w.heard(1, clock.now(132.5));
  EXPECT_TRUE(w.lost(clock.now(160.0)).empty());
}

TEST(RankWatch, ATrainingThreadWaitingOnItsPeersIsNotStuck) {
  liveness::tick();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_GE(liveness::seconds_since_tick(), 0.025);
  {
    liveness::WaitingOnPeers waiting;  // in a group's collective: the peers decide
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_EQ(liveness::seconds_since_tick(), 0.0);
  }
  EXPECT_LT(liveness::seconds_since_tick(), 0.02) << "the wait's end is progress";
}

TEST(Coordinator, ARankThatNeverAsksDoesNotHoldTheSweepUp) {
  // Three ranks, rank 2 silent (a rank still loading data, or lost): the others do everything,
  // one-rank tasks and 2-rank groups alike.
  for (int64_t group : {1, 2}) {
    const auto out = fresh_dir("coord-silent-" + std::to_string(group));
    Attempt at(config(out, "[0.01, 0.1]", group), 3, false);
    Script s{at.coord, {0, 1}};
    s.run_to_end();
    EXPECT_EQ(s.finished, (std::set<int64_t>{0, 1})) << "group " << group;
    EXPECT_EQ(at.coord.remaining(), 0) << "group " << group;
    for (const auto& [rank, a] : s.handed) EXPECT_NE(rank, 2);
    at.writer.flush();
    EXPECT_EQ(journaled_trials(at.dir.path()).size(), 8u) << "group " << group;
  }
  // A group wider than the ranks that ask can never gather: the ranks wait (the sweep's MPI
  // layer, not the coordinator, decides what to do about a rank that never comes).
  const auto out = fresh_dir("coord-silent-3");
  Attempt at(config(out, "[0.1]", 3), 3, false);
  Script s{at.coord, {0, 1}};
  for (int i = 0; i < 20; ++i) s.round();
  EXPECT_TRUE(s.handed.empty());
  EXPECT_TRUE(s.finished.empty()) << "no rank is told `done` while work remains";
  EXPECT_GT(at.coord.remaining(), 0);
  at.coord.request_stop();  // a stop ends the wait and puts the gathering back for --resume
  s.run_to_end();
  EXPECT_EQ(s.finished.size(), 2u);
  EXPECT_EQ(at.coord.remaining(), 6);
}

// ---------- Progress: what a person sees while the sweep runs ----------

namespace {

// A clock the test moves by hand, and the demo's shape: 3 seeds of pretrain, finetune, scratch.
struct FakeRun {
  std::chrono::steady_clock::time_point now{};
  std::ostringstream out;
  Progress progress;
  explicit FakeRun(ProgressStyle style, int64_t ranks = 1)
      : progress(21, ranks, style, out, [this] { return now; }) {
    std::vector<Task> tasks;
    for (int64_t s = 1; s <= 3; ++s)
      for (auto [type, name] : {std::pair{TaskType::pretrain, "pretrain"}, std::pair{TaskType::finetune, "finetune"},
                                std::pair{TaskType::scratch, "scratch"}})
        tasks.push_back(Task{std::string(name) + "-s" + std::to_string(s), type, s, {}});
    progress.set_tasks(tasks, 15);
  }
  void advance(double s) { now += std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(s)); }
  // A long task on rank 0: 15 epochs of `epoch_s`, the ticker firing twice per epoch.
  void long_task(const std::string& id, double epoch_s) {
    progress.started(0, id);
    for (int e = 1; e <= 15; ++e) {
      for (int k = 0; k < 2; ++k) {
        advance(epoch_s / 2);
        progress.tick();
      }
      progress.epoch(0, e);
    }
    progress.finished(0);
  }
  void finetune(const std::string& id, int64_t seed, int trials) {
    progress.started(0, id);
    advance(0.05);
    progress.finished(0);
    for (int i = 0; i < trials; ++i) {
      TrialResult r;
      r.key = TrialKey{seed, TrialKind::anchored, 0.001 * i};
      r.metrics[EvalSplit::dev].micro_f1 = 0.4878;
      progress.trial(r);
    }
  }
  size_t count(const std::string& needle) const {
    size_t n = 0;
    const std::string s = out.str();
    for (auto i = s.find(needle); i != std::string::npos; i = s.find(needle, i + 1)) ++n;
    return n;
  }
};

}  // namespace

// In a log: the status line at most every status_every_s, however many trials finish at once.
TEST(Progress, InALogTheStatusLineIsThrottled) {
  FakeRun run(ProgressStyle{LogFormat::text, false, false, 30});
  run.long_task("pretrain-s1", 0.5);  // 7.5 s: no status line yet
  EXPECT_EQ(run.count("status:"), 0u) << run.out.str();
  run.progress.started(0, "pretrain-s2");
  run.advance(23);
  run.progress.epoch(0, 3);
  run.progress.tick();  // 30.5 s: due
  ASSERT_EQ(run.count("status:"), 1u) << run.out.str();
  EXPECT_NE(run.out.str().find("status: 0/21 trials | r0 pretrain-s2 epoch 3/15 | 30 s elapsed, ETA after the first"),
            std::string::npos) << run.out.str() << "\nrank 0 is named with its task while it trains";
  run.progress.finished(0);
  run.finetune("finetune-s1", 1, 7);  // 7 trials within a second
  run.finetune("finetune-s2", 2, 7);
  EXPECT_EQ(run.count("status:"), 1u) << "no burst of status lines:\n" << run.out.str();
  EXPECT_EQ(run.count("dev micro-F1  48.78%"), 14u) << "each trial's line, F1 in percent:\n" << run.out.str();
  run.advance(30);
  run.progress.tick();
  EXPECT_EQ(run.count("status:"), 2u) << run.out.str();
}

// On a terminal: one line redrawn in place; event lines go above it.
TEST(Progress, OnATerminalOneLineIsRedrawnInPlace) {
  FakeRun run(ProgressStyle{LogFormat::text, false, true, 30});
  run.long_task("pretrain-s1", 0.5);
  run.finetune("finetune-s1", 1, 7);
  const std::string s = run.out.str();
  EXPECT_GT(run.count("\r\033[Kstatus: "), 30u) << "redrawn each tick and event";
  EXPECT_EQ(run.count("\n"), 7u) << "only the 7 trial lines end a line: the status line never scrolls";
  EXPECT_NE(s.find("r0 pretrain-s1 epoch 14/15"), std::string::npos);
  run.progress.close();
  EXPECT_EQ(run.out.str().substr(run.out.str().size() - 4), "\r\033[K") << "closed: the live line is cleared";
}

// The ETA waits until every kind of task still to run has run once; then it is their mean cost.
TEST(Progress, EtaOnlyOnceEveryKindOfTaskHasRun) {
  FakeRun run(ProgressStyle{LogFormat::text, true, false, 30});
  run.long_task("pretrain-s1", 8.0 / 15);
  EXPECT_FALSE(run.progress.eta_s().has_value());
  EXPECT_NE(run.progress.status_line().find("ETA after the first finetune task"), std::string::npos) << run.progress.status_line();
  run.finetune("finetune-s1", 1, 6);
  EXPECT_FALSE(run.progress.eta_s().has_value()) << "no scratch task has run";
  run.long_task("scratch-s1", 2.0 / 15);
  ASSERT_TRUE(run.progress.eta_s().has_value());
  // Left: 2 pretrain (8 s), 2 finetune (0.05 s), 2 scratch (2 s) on one rank.
  EXPECT_NEAR(*run.progress.eta_s(), 2 * 8 + 2 * 0.05 + 2 * 2, 1e-6);
  run.progress.started(0, "pretrain-s2");
  run.advance(5);
  EXPECT_NEAR(*run.progress.eta_s(), 3 + 8 + 2 * 0.05 + 2 * 2, 1e-6) << "a running task counts what it has left";
}

// --log-format json stays one object per event, with a status event per trial.
TEST(Progress, JsonLinesStayAsTheyWere) {
  FakeRun run(ProgressStyle{LogFormat::json, false, false, 30});
  run.finetune("finetune-s1", 1, 3);
  EXPECT_EQ(run.count("\"event\":\"trial\""), 3u) << run.out.str();
  EXPECT_EQ(run.count("\"event\":\"status\""), 3u) << run.out.str();
  EXPECT_EQ(run.count("status:"), 0u);
}

// A task that names its encoder's file instead of carrying the bytes (run.encoder_transfer =
// "auto"): the file is read and checked; a copy of another size or content is refused, naming
// both, and so is a file the rank cannot read.
TEST(EncoderTransfer, TheNamedFileIsCheckedAgainstWhatRankZeroWrote) {
  const std::string dir = fresh_dir("encoder_file");
  const std::string path = dir + "/seed-1.pt", bytes = "the encoder's bytes";
  anchorsweep::write_file_atomic(path, bytes);
  auto message = [&](const std::string& file, const std::string& hash, int64_t size) {
    anchorsweep::Assignment a;
    a.kind = anchorsweep::Assignment::task;
    a.work.id = "s1-lam0";
    a.encoder_file = file;
    a.encoder_hash = hash;
    a.encoder_size = size;
    return anchorsweep::assignment_message(a);
  };
  auto good = message(path, anchorsweep::fnv1a_hex(bytes), static_cast<int64_t>(bytes.size()));
  const auto got = anchorsweep::encoder_of(good);
  EXPECT_EQ(std::string(got.begin(), got.end()), bytes);
  auto expect_refused = [](anchorsweep::comm::Message m, const std::string& part) {
    try {
      anchorsweep::encoder_of(m);
      ADD_FAILURE() << "accepted; expected: " << part;
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("run.encoder_transfer = \"bytes\""), std::string::npos) << e.what();
    }
  };
  expect_refused(message(path, anchorsweep::fnv1a_hex(bytes), 5), "but rank 0 wrote 5 bytes");
  expect_refused(message(path, "0123456789abcdef", static_cast<int64_t>(bytes.size())), "FNV-1a 0123456789abcdef");
  expect_refused(message(dir + "/missing.pt", "x", 1), "missing.pt");
  // The bytes themselves, when rank 0 sent them, win; neither: the rank holds the encoder already.
  anchorsweep::Assignment with_bytes;
  with_bytes.kind = anchorsweep::Assignment::task;
  with_bytes.encoder = {'a', 'b'};
  auto m = anchorsweep::assignment_message(with_bytes);
  EXPECT_EQ(anchorsweep::encoder_of(m).size(), 2u);
  anchorsweep::Assignment neither;
  neither.kind = anchorsweep::Assignment::task;
  auto n = anchorsweep::assignment_message(neither);
  EXPECT_TRUE(anchorsweep::encoder_of(n).empty());
}
