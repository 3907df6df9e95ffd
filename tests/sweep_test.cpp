// The one-process sweep through the real binary: outputs, resume, refusals, bad input.
#include <sys/file.h>
#include <fcntl.h>

#include <cmath>
#include <map>
#include <tuple>
#include <set>

#include <fstream>

#include "cli.hpp"
#include "rundir/run_directory.hpp"
#include "sweep/plan.hpp"

using namespace anchorsweep::testing;

namespace {

std::string sweep(const std::string& out, const std::string& extra = "") {
  return bin() + " run " + tiny_config() + " --set run.output_dir=" + out + " --no-report " + extra;
}

}  // namespace

TEST(Sweep, TinySweepEndToEnd) {
  auto out = fresh_dir("e2e");
  auto r = run(bin() + " run " + tiny_config() + " --set run.output_dir=" + out);
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string dir = out + "/tiny";
  // 2 seeds x (3 λ + pretrained + scratch) trials, each once, and one pretrain line per seed.
  EXPECT_EQ(trial_ids(dir).size(), 10u);
  EXPECT_EQ(journal_lines(dir, "pretrain").size(), 2u);
  for (const auto& f : {"config.toml", "run.json", "results.csv", "summary.csv", "curves.csv", "report.md",
                        "report.html", "encoders/seed-1.pt", "encoders/seed-2.pt", "trials/s1-lam0.01/adapter.pt",
                        "trials/s2-pretrained/adapter.pt", "trials/s1-scratch/encoder.pt"})
    EXPECT_TRUE(fs::exists(dir + "/" + f)) << f;
  // results.csv: a header and 4 splits per trial.
  auto csv = slurp(dir + "/results.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 10 * 4);
  // The console ends with the λ table.
  EXPECT_NE(r.output.find("λ = 0.01"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("scratch (B only)"), std::string::npos);
  // Per-epoch metrics for every trial.
  for (const auto& j : journal_lines(dir))
    if (j["kind"] != "pretrained") EXPECT_EQ(j["curve"].size(), j["epochs"].get<size_t>()) << j["id"];
  // The journal starts with its format version.
  const auto header = nlohmann::json::parse(slurp(dir + "/results.jsonl").substr(0, slurp(dir + "/results.jsonl").find('\n')));
  EXPECT_EQ(header["type"], "journal");
  EXPECT_EQ(header["version"], 1);
}

TEST(Sweep, AJournalOfANewerVersionIsRefusedWithExitTwo) {
  auto out = fresh_dir("newer_journal");
  ASSERT_EQ(run(bin() + " run " + tiny_config() + " --set run.output_dir=" + out + " --set run.seeds=[1] --quiet --no-report").code, 0);
  const std::string journal = out + "/tiny/results.jsonl";
  std::string text = slurp(journal);
  text.replace(0, text.find('\n'), R"({"type":"journal","version":7})");
  { std::ofstream(journal, std::ios::trunc) << text; }
  for (const std::string cmd : {" report " + out + "/tiny",
                                " run " + tiny_config() + " --set run.output_dir=" + out + " --set run.seeds=[1] --resume --quiet"}) {
    auto r = run(bin() + cmd);
    EXPECT_EQ(r.code, 2) << cmd << "\n" << r.output;
    EXPECT_NE(r.output.find("journal format version 7 is newer than this anchorsweep reads (version 1)"), std::string::npos)
        << cmd << "\n" << r.output;
  }
}

TEST(Sweep, ATrialDependsOnlyOnConfigSeedAndLambda) {
  auto a = fresh_dir("det-a"), b = fresh_dir("det-b");
  ASSERT_EQ(run(sweep(a)).code, 0);
  // Same config, different grid around it: λ = 0.01 of seed 2 must come out the same.
  ASSERT_EQ(run(sweep(b, "--set run.seeds=[2] --set sweep.lambdas=[0.01,5]")).code, 0);
  auto find = [](const std::string& dir, const std::string& id) {
    for (const auto& j : journal_lines(dir + "/tiny"))
      if (j["id"] == id) return j;
    return nlohmann::json();
  };
  auto ja = find(a, "s2-lam0.01"), jb = find(b, "s2-lam0.01");
  ASSERT_FALSE(ja.is_null());
  ASSERT_FALSE(jb.is_null());
  EXPECT_EQ(ja["metrics"], jb["metrics"]);
  EXPECT_EQ(ja["diag"]["weights_hash"], jb["diag"]["weights_hash"]);
}

TEST(Sweep, ResumeRunsOnlyWhatIsMissing) {
  auto out = fresh_dir("resume");
  ASSERT_EQ(run(sweep(out)).code, 0);
  const std::string dir = out + "/tiny", journal = dir + "/results.jsonl";
  // Drop the last three trial lines (as if the job died) and leave half a line behind.
  auto text = slurp(journal);
  std::vector<std::string> lines;
  std::stringstream ss(text);
  for (std::string l; std::getline(ss, l);) lines.push_back(l);
  std::vector<size_t> trial_at;
  for (size_t i = 0; i < lines.size(); ++i)
    if (lines[i].find("\"type\":\"trial\"") != std::string::npos) trial_at.push_back(i);
  ASSERT_GE(trial_at.size(), 3u);
  const size_t cut = trial_at[trial_at.size() - 3];
  std::string kept;
  for (size_t i = 0; i < lines.size(); ++i)
    if (i < cut || (i > cut && lines[i].find("\"type\":\"trial\"") == std::string::npos)) kept += lines[i] + "\n";
  kept += lines[cut].substr(0, 25);  // torn
  std::ofstream(journal, std::ios::trunc) << kept;
  const auto before = trial_ids(dir);

  auto r = run(sweep(out, "--resume"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("torn"), std::string::npos) << r.output;
  auto after = trial_ids(dir);
  EXPECT_EQ(std::set<std::string>(after.begin(), after.end()).size(), 10u);
  EXPECT_EQ(after.size(), 10u) << "a finished trial ran twice";
  EXPECT_EQ(after.size() - before.size(), 3u);

  // Nothing left: a second resume runs no trial.
  r = run(sweep(out, "--resume"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(trial_ids(dir).size(), 10u);

  // Adding a λ and a seed runs only the new trials: 1 λ x 2 seeds + 5 trials of seed 3.
  r = run(sweep(out, "--resume --set run.seeds=[1,2,3] --set sweep.lambdas=[0,0.01,1,10]"));
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(trial_ids(dir).size(), 10u + 2 + 6);
}

TEST(Sweep, ResumeRefusesAChangedConfigNamingTheKeys) {
  auto out = fresh_dir("changed");
  ASSERT_EQ(run(sweep(out)).code, 0);
  auto r = run(sweep(out, "--resume --set finetune.lr=0.5 --set model.hidden=7"));
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("finetune.lr"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("model.hidden"), std::string::npos) << r.output;
  // And without --resume an existing run directory is not overwritten.
  r = run(sweep(out));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("--resume"), std::string::npos) << r.output;
}

TEST(Sweep, LockRefusesASecondSweep) {
  auto out = fresh_dir("lock");
  ASSERT_EQ(run(sweep(out)).code, 0);
  int fd = ::open((out + "/tiny/lock").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);  // as a running sweep holds it
  auto r = run(sweep(out, "--resume"));
  ::close(fd);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("another sweep"), std::string::npos) << r.output;
}

TEST(Sweep, BadConfigExitsTwoAndCreatesNothing) {
  auto out = fresh_dir("bad");
  auto cfg = out + "/bad.toml";
  std::ofstream(cfg) << "[run]\nname = \"x\"\noutput_dir = \"" << out << "/runs\"\n\n[finetune]\nepochs = 0\n";
  auto r = run(bin() + " run " + cfg);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("bad.toml:6:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("finetune.epochs"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out + "/runs"));
  // A negative λ through --set, an unknown flag, a missing file.
  r = run(sweep(out, "--set sweep.lambdas=[0,-1]"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("sweep.lambdas[1]"), std::string::npos) << r.output;
  EXPECT_EQ(run(bin() + " run " + tiny_config() + " --no-such-flag").code, 2);
  r = run(bin() + " validate " + out + "/missing.toml");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("missing.toml"), std::string::npos);
  EXPECT_FALSE(fs::exists(out + "/tiny"));
}

TEST(Sweep, BadDataRecordNamesFileAndRecord) {
  auto out = fresh_dir("baddata");
  std::string good = R"({"token": ["a", "b", "c"], "relation": "r1", "subj_start": 0, "subj_end": 0, "obj_start": 2, "obj_end": 2})";
  std::string neg = R"({"token": ["a", "b", "c"], "relation": "no_relation", "subj_start": 0, "subj_end": 0, "obj_start": 2, "obj_end": 2})";
  std::string bad = R"({"token": ["a", "b"], "relation": "r1", "subj_start": 0, "subj_end": 0, "obj_start": 1, "obj_end": 5})";
  for (auto name : {"a_train", "a_dev", "b_train", "b_dev"}) std::ofstream(out + "/" + name + ".json") << "[" << good << "," << neg << "]";
  std::ofstream(out + "/b_test.json") << "[" << good << "," << neg << "," << bad << "]";
  std::ofstream(out + "/c.toml") << "[data]\nformat = \"tacred\"\na_train = \"a_train.json\"\na_dev = \"a_dev.json\"\n"
                                    "b_train = \"b_train.json\"\nb_dev = \"b_dev.json\"\nb_test = \"b_test.json\"\n";
  auto r = run(bin() + " validate " + out + "/c.toml");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.output.find("b_test.json"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("record 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("obj_end"), std::string::npos) << r.output;
}

TEST(Sweep, DryRunPrintsThePlanWithoutTraining) {
  auto out = fresh_dir("dry");
  auto r = run(bin() + " run --dry-run --ranks 3 " + tiny_config() + " --set run.output_dir=" + out);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("pretrain-s1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("fuse width"), std::string::npos);
  EXPECT_NE(r.output.find("memory per rank (estimate)"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out + "/tiny"));
  // A bigger model needs more: the estimate follows the config.
  auto big = run(bin() + " run --dry-run " + tiny_config() + " --set model.hidden=2000");
  auto mb = [](const std::string& text) {
    auto at = text.find("= about ");
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + 8));
  };
  EXPECT_GT(mb(big.output), 10 * mb(r.output)) << big.output;
}

// With frozen_dropout a trial's masks come from its own stream: its result is the same whether
// other trials ran before it on the rank or not.
TEST(Sweep, FrozenDropoutTrialDoesNotDependOnTasksBeforeIt) {
  auto alone = fresh_dir("fd1"), with_others = fresh_dir("fd2");
  const std::string common = " --set finetune.frozen_dropout=true --set run.seeds=[1] --set 'sweep.baselines=[]'";
  ASSERT_EQ(run(sweep(alone, common + " --set sweep.lambdas=[0.01]")).code, 0);
  ASSERT_EQ(run(sweep(with_others, common + " --set sweep.lambdas=[0,0.01,1] --set finetune.fuse=8")).code, 0);
  auto trial = [](const std::string& out) {
    for (const auto& j : journal_lines(out + "/tiny"))
      if (j["id"] == "s1-lam0.01") return j;
    return nlohmann::json();
  };
  const auto a = trial(alone), b = trial(with_others);
  ASSERT_FALSE(a.is_null());
  ASSERT_FALSE(b.is_null());
  EXPECT_EQ(a["metrics"], b["metrics"]);
  EXPECT_EQ(a["diag"]["weights_hash"], b["diag"]["weights_hash"]);
}

TEST(Score, OfficialScorerFormat) {
  auto out = fresh_dir("score");
  std::ofstream(out + "/g") << "A\nno_relation\nB\n";
  std::ofstream(out + "/p") << "A\nB\nno_relation\n";
  auto r = run(bin() + " score --gold " + out + "/g --pred " + out + "/p --negative no_relation");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("F1 (micro): 50.000%"), std::string::npos) << r.output;
}

TEST(Sweep, BothAdapterInitsInOneSweep) {
  auto out = fresh_dir("inits");
  auto r = run(bin() + " run " + tiny_config() + " --set run.output_dir=" + out +
               " --set run.seeds=[1] --set 'adapter.init=[\"random\",\"anchor\"]'");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string dir = out + "/tiny";
  auto ids = trial_ids(dir);
  // 3 λ x 2 inits + pretrained + scratch, one seed.
  EXPECT_EQ(ids.size(), 8u);
  EXPECT_EQ(ids.count("s1-lam0.01-anchor"), 1u);
  EXPECT_EQ(ids.count("s1-lam0.01-random"), 1u);
  for (const auto& j : journal_lines(dir)) {
    if (j["kind"] != "anchored") continue;
    const std::string id = j["id"];
    EXPECT_EQ(id.substr(id.rfind('-') + 1), j["init"].get<std::string>());
    // Started at the anchor: no distance to begin with.
    if (j["init"] == "anchor") EXPECT_EQ(j["diag"]["w_dist_init"].get<double>(), 0.0);
    else EXPECT_GT(j["diag"]["w_dist_init"].get<double>(), 0.0);
  }
  auto report = slurp(dir + "/report.md");
  EXPECT_NE(report.find("both adapter inits are in the journal"), std::string::npos);
}

// The original symptom, reproduced for real on the tiny data: with init = random, λ = 1 and a
// small budget (Adam, lr 1e-3, 30 steps) the penalty dominates and W cannot reach the anchor;
// with init = anchor the same λ starts at the anchor and the diagnostic stays silent.
TEST(Sweep, AnchorNeverReachedFiresForRandomInitOnly) {
  auto out = fresh_dir("unreached");
  auto r = run(bin() + " run " + tiny_config() + " --set run.output_dir=" + out +
               " --set finetune.lr=0.001 --set 'sweep.lambdas=[0,1]' --set 'sweep.baselines=[\"pretrained\"]'"
               " --set 'adapter.init=[\"random\",\"anchor\"]'");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto report = slurp(out + "/tiny/report.md");
  const auto at = report.find("the adapter never reached its anchor");
  ASSERT_NE(at, std::string::npos) << report;
  const auto finding = report.substr(at, report.find('\n', at) - at);
  EXPECT_NE(finding.find("λ = 1 \\[init=random\\]: penalty"), std::string::npos) << finding;  // markdown escapes [
  EXPECT_EQ(finding.find("init=anchor\\]: penalty"), std::string::npos) << finding;
  EXPECT_NE(finding.find("Measured in this run at λ = 1: init = anchor"), std::string::npos) << finding;
  // The headline leads "At a glance" and the console summary.
  EXPECT_NE(report.find("the pretrained model alone (λ→∞"), std::string::npos);
  EXPECT_NE(r.output.find("the pretrained model alone (λ→∞"), std::string::npos) << r.output;
  // curves.csv has the distance per epoch for anchored trials.
  EXPECT_NE(slurp(out + "/tiny/curves.csv").find("penalty_share,anchor_dist"), std::string::npos);
}

// The README's first command, run twice: the second run shows the results instead of failing;
// on an interrupted sweep it says how to resume.
TEST(Sweep, LauncherRerunIsSafeAndFriendly) {
  auto out = fresh_dir("rerun");
  const std::string cmd = source_dir() + "/launcher/sweep " + tiny_config() + " --set run.output_dir=" + out +
                          " --quiet --no-report --set run.seeds=[1]";
  ASSERT_EQ(run(cmd).code, 0);
  auto again = run(cmd);
  EXPECT_EQ(again.code, 0) << again.output;
  EXPECT_NE(again.output.find("already holds this finished sweep (5 of 5 trials done, 0 to run)"), std::string::npos)
      << again.output;
  EXPECT_NE(again.output.find("scratch (B only)"), std::string::npos) << "the results table";
  EXPECT_EQ(trial_ids(out + "/tiny").size(), 5u) << "nothing ran again";
  // Lose the last trial line: now it is an interrupted sweep.
  auto text = slurp(out + "/tiny/results.jsonl");
  text.erase(text.rfind("{\"", text.size() - 2));
  std::ofstream(out + "/tiny/results.jsonl", std::ios::trunc) << text;
  auto interrupted = run(cmd);
  EXPECT_EQ(interrupted.code, 3) << interrupted.output;
  EXPECT_NE(interrupted.output.find("interrupted sweep (4 of 5 trials done, 1 to run"), std::string::npos)
      << interrupted.output;
  EXPECT_NE(interrupted.output.find("--resume"), std::string::npos);
}

// The dry run, validate and launcher/sweep say what `run` would do: a config changed beyond
// added seeds and λ is refused by all of them with run's own words, never shown the old results.
TEST(Sweep, DryRunValidateAndLauncherAgreeWithRunOnAChangedConfig) {
  auto out = fresh_dir("agree");
  const std::string base = tiny_config() + " --set run.output_dir=" + out + " --set run.seeds=[1]";
  ASSERT_EQ(run(bin() + " run " + base + " --quiet --no-report").code, 0);
  const std::string changed = base + " --set 'penalty.mode=\"decoupled\"'";
  const auto real = run(bin() + " run " + changed + " --resume --quiet");
  ASSERT_EQ(real.code, 2) << real.output;
  const std::string words = "the config changed in penalty.mode";
  ASSERT_NE(real.output.find(words), std::string::npos) << real.output;
  for (const std::string& cmd : {bin() + " run " + changed + " --dry-run", bin() + " run " + changed + " --dry-run --resume",
                                 bin() + " validate " + changed, source_dir() + "/launcher/sweep " + changed}) {
    const auto r = run(cmd);
    EXPECT_EQ(r.code, 2) << cmd << "\n" << r.output;
    EXPECT_NE(r.output.find(words), std::string::npos) << cmd << "\n" << r.output;
    EXPECT_EQ(r.output.find("trials done"), std::string::npos) << cmd << "\n" << r.output;
    EXPECT_EQ(r.output.find("already holds"), std::string::npos) << cmd << "\n" << r.output;
  }
  // The unchanged config: all three count the finished trials.
  for (const std::string& cmd : {bin() + " run " + base + " --dry-run", bin() + " validate " + base}) {
    const auto r = run(cmd);
    EXPECT_EQ(r.code, 0) << cmd << "\n" << r.output;
    EXPECT_NE(r.output.find("5 of 5 trials done, 0 to run"), std::string::npos) << cmd << "\n" << r.output;
  }
  EXPECT_EQ(trial_ids(out + "/tiny").size(), 5u) << "nothing ran again";
}

// ---------- shards (run --shard i/n) and merge ----------

TEST(Shard, TrialsArePartitionedAndEachShardPretrainsAtMostOneSeedWhenSeedsAreFew) {
  for (int64_t seeds = 1; seeds <= 5; ++seeds)
    for (int64_t shards = 1; shards <= 7; ++shards)
      for (int64_t per_seed : {1, 3, 9}) {
        std::map<int64_t, std::set<int64_t>> seeds_of_shard;
        std::map<int64_t, int64_t> load;
        for (int64_t s = 0; s < seeds; ++s)
          for (int64_t t = 0; t < per_seed; ++t) {
            const int64_t j = anchorsweep::trial_shard(s, t, seeds, shards);
            ASSERT_GE(j, 0);
            ASSERT_LT(j, shards);
            seeds_of_shard[j].insert(s);
            ++load[j];
          }
        // Pretrainings in all: one per seed when seeds >= shards, else one per shard in use.
        int64_t pretrainings = 0;
        for (auto& [j, ss] : seeds_of_shard) pretrainings += static_cast<int64_t>(ss.size());
        if (seeds >= shards) {
          EXPECT_EQ(pretrainings, seeds) << seeds << " seeds, " << shards << " shards";
        } else {
          for (auto& [j, ss] : seeds_of_shard) EXPECT_EQ(ss.size(), 1u) << "shard " << j << " serves several seeds";
          // Every shard gets work when each seed has at least as many trials as shards serving it.
          if (per_seed * seeds >= shards * 2) EXPECT_EQ(static_cast<int64_t>(load.size()), shards);
        }
      }
}

TEST(Shard, TwoShardsMergeIntoTheUnshardedResultsAndBadMergesAreRefused) {
  const auto out = fresh_dir("shards"), ref = fresh_dir("shards-ref");
  const std::string opts = " --set run.threads=1 --quiet";
  ASSERT_EQ(run(sweep(ref, opts)).code, 0);
  for (int i : {1, 2}) {
    auto r = run(sweep(out, opts + " --shard " + std::to_string(i) + "/2"));
    ASSERT_EQ(r.code, 0) << r.output;
  }
  const std::string s1 = out + "/tiny-shard1of2", s2 = out + "/tiny-shard2of2";
  // Two seeds on two shards: a seed each, so each shard pretrains one seed.
  EXPECT_EQ(journal_lines(s1, "pretrain").size(), 1u);
  EXPECT_EQ(journal_lines(s2, "pretrain").size(), 1u);
  EXPECT_EQ(journal_lines(s1).size() + journal_lines(s2).size(), 10u);

  auto refused = [&](const std::string& args, const std::string& says) {
    auto r = run(bin() + " merge " + args);
    EXPECT_EQ(r.code, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(says), std::string::npos) << args << "\n" << r.output;
  };
  refused(out + "/m1 " + s1 + " " + s1, "given twice");
  refused(out + "/m2 " + s1 + " " + ref + "/tiny", "not a shard");
  refused(s2 + " " + s1, "not empty");
  ASSERT_EQ(run(sweep(out, opts + " --shard 2/2 --set run.name=other --set sweep.lambdas=[0,1]")).code, 0);
  refused(out + "/m3 " + s1 + " " + out + "/other-shard2of2", "differs");
  auto bad = run(sweep(out, "--shard 3/2"));
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.output.find("run.shard: must be \"i/n\""), std::string::npos) << bad.output;

  // The merge: into the unsharded run directory, so --resume with the same config accepts it.
  auto m = run(bin() + " merge " + out + "/tiny " + s1 + " " + s2);
  ASSERT_EQ(m.code, 0) << m.output;
  EXPECT_NE(m.output.find("merged 2 of 2 shard(s)"), std::string::npos) << m.output;
  EXPECT_EQ(m.output.find("WARNING"), std::string::npos) << m.output;
  EXPECT_EQ(metric_columns(out + "/tiny/results.csv"), metric_columns(ref + "/tiny/results.csv"));
  auto resumed = run(sweep(out, "--set run.threads=1 --resume"));
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("10 trials already done, 0 to run"), std::string::npos) << resumed.output;
}

TEST(Shard, AMissingShardIsAGapThatResumeFills) {
  const auto out = fresh_dir("shards-gap"), ref = fresh_dir("shards-gap-ref");
  const std::string opts = " --set run.threads=1 --quiet";
  ASSERT_EQ(run(sweep(ref, opts)).code, 0);
  ASSERT_EQ(run(sweep(out, opts + " --shard 1/3")).code, 0);
  ASSERT_EQ(run(sweep(out, opts + " --shard 3/3")).code, 0);
  auto m = run(bin() + " merge " + out + "/tiny " + out + "/tiny-shard1of3 " + out + "/tiny-shard3of3");
  ASSERT_EQ(m.code, 0) << m.output;
  EXPECT_NE(m.output.find("WARNING: shard 2/3 is missing"), std::string::npos) << m.output;
  EXPECT_NE(m.output.find("planned trial(s) have no result"), std::string::npos) << m.output;
  auto resumed = run(sweep(out, opts + " --resume"));
  ASSERT_EQ(resumed.code, 0) << resumed.output;
  EXPECT_EQ(metric_columns(out + "/tiny/results.csv"), metric_columns(ref + "/tiny/results.csv"));
}

// ---------- the command line a person expects ----------

TEST(Cli, VersionNamesTheBuildAndItsLibraries) {
  const auto r = run(bin() + " --version");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("anchorsweep 0.2.0\ncommit: ", 0), 0u) << r.output;
  for (const char* line : {"\nLibTorch: 1", "\nMPI: ", "\nCUDA: ", "\nNCCL: "})
    EXPECT_NE(r.output.find(line), std::string::npos) << line << " missing:\n" << r.output;
  EXPECT_EQ(r.output.find("commit: \n"), std::string::npos) << "an empty commit";
}

TEST(Cli, TestHooksAreHiddenFromHelp) {
  const auto r = run(bin() + " run --help");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* hidden : {"--fail-trial", "--delay-ms", "--delay-rank", "--hold-while", "--hold-task"})
    EXPECT_EQ(r.output.find(hidden), std::string::npos) << hidden << " shown in --help";
  for (const char* shown : {"--dry-run", "--resume", "--status-every", "--simulate-ms", "--log-format",
                            "ANCHORSWEEP_NO_CUDA_GRAPHS=1", "ANCHORSWEEP_TF32=0", "ANCHORSWEEP_GRADIENT_BUCKET_BYTES=N"})
    EXPECT_NE(r.output.find(shown), std::string::npos) << shown << " missing from --help";
}

TEST(Cli, UnknownKeyGetsTheClosestKnownKey) {
  const auto r = run(bin() + " validate " + tiny_config() + " --set pretrain.lr_decya=0.5");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("pretrain.lr_decya: unknown key (did you mean pretrain.lr_decay?)"), std::string::npos) << r.output;
}

TEST(Cli, ReportOutWorksForOneRun) {
  auto out = fresh_dir("report-one");
  ASSERT_EQ(run(bin() + " run " + tiny_config() + " --set run.output_dir=" + out + " --set run.seeds=[1] --quiet --no-report").code, 0);
  const auto r = run(bin() + " report " + out + "/tiny --out " + out + "/agg");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("aggregated report of 1 run: "), std::string::npos) << r.output;
  const auto md = slurp(out + "/agg/report.md");
  EXPECT_NE(md.find("# anchorsweep: run tiny"), std::string::npos) << md.substr(0, 300);
  EXPECT_NE(md.find("One run: nothing to compare it with."), std::string::npos);
}

// ---------- the lock on file systems that cannot lock ----------

namespace {

std::string flock_shim() {
  const char* s = std::getenv("ANCHORSWEEP_FLOCK_SHIM");
  return s ? s : "";
}

}  // namespace

// flock failing with ENOLCK (NFSv3 without lockd) or ENOSYS (Lustre, noflock) is not "another
// sweep": the message names the errno and the path and the way on; run.lock = "none" proceeds.
TEST(Lock, AFileSystemThatCannotLockIsNamedAndRunLockNoneProceeds) {
  ASSERT_FALSE(flock_shim().empty()) << "ANCHORSWEEP_FLOCK_SHIM (set by ctest)";
  auto out = fresh_dir("nolock");
  for (const auto& [err, name] : {std::pair{"37", "ENOLCK"}, std::pair{"38", "ENOSYS"}}) {
    const auto r = run("LD_PRELOAD=" + flock_shim() + " FLOCK_FAILS_ERRNO=" + err + " " + sweep(out));
    EXPECT_EQ(r.code, 2) << r.output;
    EXPECT_NE(r.output.find("/tiny/lock: this file system cannot lock (flock: " + std::string(name)), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("set run.lock = \"none\""), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("another sweep"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(out + "/tiny/config.toml")) << "refused before anything was written";
  }
  const auto none = run("LD_PRELOAD=" + flock_shim() + " " + sweep(out, "--set run.lock=\\\"none\\\""));
  ASSERT_EQ(none.code, 0) << none.output;
  EXPECT_NE(none.output.find("run.lock = \"none\": nothing keeps a second sweep off"), std::string::npos) << none.output;
  // The dry run says what run would: refused with flock there, accepted with "none".
  const auto dry = run("LD_PRELOAD=" + flock_shim() + " " + bin() + " run " + tiny_config() + " --set run.output_dir=" + out +
                       " --dry-run --resume");
  EXPECT_EQ(dry.code, 2) << dry.output;
  EXPECT_NE(dry.output.find("this file system cannot lock"), std::string::npos) << dry.output;
  EXPECT_EQ(run(bin() + " run " + tiny_config() + " --set run.output_dir=" + out + " --dry-run --resume").code, 0)
      << "run.lock is how, not what: switching it back is no config change";
}

// A held lock names its owner as the owner wrote it: host and pid, for a sweep on another node.
TEST(Lock, AHeldLockNamesItsOwnersHostAndPid) {
  auto out = fresh_dir("lock-owner");
  ASSERT_EQ(run(sweep(out)).code, 0);
  std::ofstream(out + "/tiny/lock", std::ios::trunc) << "node7 pid 4242\n";
  int fd = ::open((out + "/tiny/lock").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  const auto r = run(sweep(out, "--resume"));
  ::close(fd);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("another sweep is using this run directory (lock held by node7 pid 4242)"), std::string::npos) << r.output;
}

TEST(Lock, NodeLocalNfsLocksAreWarnedAbout) {
  const std::string mounts =
      "/dev/sda1 / ext4 rw,relatime 0 0\n"
      "server:/export /mnt/nfs nfs4 rw,relatime,vers=4.2,local_lock=flock,addr=10.0.0.1 0 0\n"
      "server:/other /mnt/shared nfs rw,vers=3,local_lock=none 0 0\n"
      "lustre@tcp:/fs /lustre lustre rw,flock 0 0\n";
  using anchorsweep::lock_scope_warning;
  const std::string w = lock_scope_warning(mounts, "/mnt/nfs/runs/demo");
  EXPECT_NE(w.find("NFS mount (/mnt/nfs) with local_lock=flock"), std::string::npos) << w;
  EXPECT_NE(w.find("local to this node"), std::string::npos) << w;
  EXPECT_EQ(lock_scope_warning(mounts, "/mnt/shared/runs/demo"), "") << "local_lock=none: the server locks";
  EXPECT_EQ(lock_scope_warning(mounts, "/lustre/runs/demo"), "");
  EXPECT_EQ(lock_scope_warning(mounts, "/mnt/nfsother/runs"), "") << "a prefix of the name is not the mount";
  EXPECT_EQ(lock_scope_warning(mounts, "/home/me/runs"), "");
}

// ---------- the start-up re-exec, read back from run.json ----------

namespace {

nlohmann::json run_json(const std::string& dir) { return nlohmann::json::parse(slurp(dir + "/run.json")); }

}  // namespace

// 1000 ranks on this node's CPUs: tune_cpu_libraries asks libgomp not to spin (OMP_WAIT_POLICY =
// PASSIVE, which libgomp reads only at load: hence the re-exec). run.json says what took effect,
// for rank 0 and for every rank; when the re-exec fails, it says so and claims nothing.
TEST(Reexec, RunJsonRecordsWhatTookEffect) {
  const std::string env = "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u ANCHORSWEEP_KEEP_OMP_WAIT MPI_LOCALNRANKS=1000 ";
  auto out = fresh_dir("reexec");
  ASSERT_EQ(run(env + sweep(out, "--quiet")).code, 0);
  auto j = run_json(out + "/tiny");
  EXPECT_EQ(j["omp_wait_policy"].get<std::string>().rfind("PASSIVE (1000 ranks share ", 0), 0u) << j["omp_wait_policy"];
  ASSERT_EQ(j["rank_placement"].size(), 1u);
  EXPECT_EQ(j["rank_placement"][0]["omp_wait_policy"], j["omp_wait_policy"]);
  EXPECT_EQ(j["rank_placement"][0]["blas_kernels"], j["blas_kernels"]);
  EXPECT_FALSE(j["blas_kernels"].get<std::string>().empty());

  auto failed = fresh_dir("reexec-failed");
  ASSERT_EQ(run(env + "ANCHORSWEEP_TEST_EXEC=/nonexistent/anchorsweep " + sweep(failed, "--quiet")).code, 0);
  j = run_json(failed + "/tiny");
  EXPECT_EQ(j["omp_wait_policy"].get<std::string>().rfind("libgomp default (wanted PASSIVE (1000 ranks share ", 0), 0u)
      << j["omp_wait_policy"];
  EXPECT_NE(j["omp_wait_policy"].get<std::string>().find("the re-exec failed (No such file or directory)"), std::string::npos);
}

// A user's OPENBLAS_CORETYPE is left alone and recorded as the kernels OpenBLAS really runs.
TEST(Reexec, TheUsersBlasKernelsAreRecordedAsTheyRun) {
  auto out = fresh_dir("blas-user");
  ASSERT_EQ(run("OPENBLAS_CORETYPE=Haswell " + sweep(out, "--quiet")).code, 0);
  const std::string kernels = run_json(out + "/tiny")["blas_kernels"];
  if (kernels == "not OpenBLAS") GTEST_SKIP() << "LibTorch's BLAS here is not OpenBLAS";
  EXPECT_EQ(kernels, "Haswell (OPENBLAS_CORETYPE set by the user)");
}

// Fewer seeds than shards: both shards pretrain seed 1. On other BLAS kernels their encoders
// differ in the last bits, and merge refuses to put trials of two models into one run.
TEST(Shard, MergeRefusesOneSeedPretrainedIntoTwoEncoders) {
  const auto out = fresh_dir("shards-blas");
  const std::string opts = " --set run.threads=1 --set run.seeds=[1] --quiet --no-report";
  ASSERT_EQ(run("OPENBLAS_CORETYPE=Haswell " + sweep(out, "--shard 1/2" + opts)).code, 0);
  ASSERT_EQ(run("OPENBLAS_CORETYPE=Sandybridge " + sweep(out, "--shard 2/2" + opts)).code, 0);
  const auto kernels = [&](int i) {
    return nlohmann::json::parse(slurp(out + "/tiny-shard" + std::to_string(i) + "of2/run.json"))["blas_kernels"].get<std::string>();
  };
  if (kernels(1) == "not OpenBLAS") GTEST_SKIP() << "LibTorch's BLAS here is not OpenBLAS";
  ASSERT_NE(kernels(1), kernels(2));
  const auto r = run(bin() + " merge " + out + "/merged " + out + "/tiny-shard1of2 " + out + "/tiny-shard2of2");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("seed 1 was pretrained by " + out + "/tiny-shard1of2 and by " + out + "/tiny-shard2of2 into different encoders"),
            std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out + "/merged/results.jsonl")) << "nothing written";
  // The same kernels on both: the same encoder, and the merge goes through.
  const auto same = fresh_dir("shards-same");
  for (int i : {1, 2})
    ASSERT_EQ(run("OPENBLAS_CORETYPE=Haswell " + sweep(same, "--shard " + std::to_string(i) + "/2" + opts)).code, 0);
  const auto ok = run(bin() + " merge " + same + "/merged " + same + "/tiny-shard1of2 " + same + "/tiny-shard2of2");
  EXPECT_EQ(ok.code, 0) << ok.output;
}

// merge holds each shard's lock shared: a shard whose sweep still runs is refused; the merged
// directory appears whole, by a rename, with no temporary left beside it.
TEST(Shard, MergeRefusesARunningShardAndAppearsWhole) {
  const auto out = fresh_dir("shards-lock");
  const std::string opts = " --set run.threads=1 --set run.seeds=[1,2] --quiet --no-report";
  for (int i : {1, 2}) ASSERT_EQ(run(sweep(out, "--shard " + std::to_string(i) + "/2" + opts)).code, 0);
  const std::string shard1 = out + "/tiny-shard1of2", shard2 = out + "/tiny-shard2of2";
  std::ofstream(shard2 + "/lock", std::ios::trunc) << "node3 pid 77\n";
  int fd = ::open((shard2 + "/lock").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);  // as its sweep would
  const auto busy = run(bin() + " merge " + out + "/merged " + shard1 + " " + shard2);
  ::close(fd);
  EXPECT_EQ(busy.code, 2) << busy.output;
  EXPECT_NE(busy.output.find(shard2 + ": a sweep is still running in this shard (lock held by node3 pid 77)"), std::string::npos)
      << busy.output;
  EXPECT_FALSE(fs::exists(out + "/merged"));
  const auto ok = run(bin() + " merge " + out + "/merged " + shard1 + " " + shard2);
  ASSERT_EQ(ok.code, 0) << ok.output;
  EXPECT_TRUE(fs::exists(out + "/merged/results.jsonl"));
  for (const auto& name : anchorsweep::list_dir(out)) EXPECT_EQ(name.find(".merging-"), std::string::npos) << name << " left behind";
}

// merge on shards as a cluster leaves them: a trial journaled by two shards (a rerun), a shard
// journal whose last line a kill tore, and a shard that ran on other data.
TEST(Shard, MergeHandlesDuplicatesATornShardJournalAndRefusesOtherData) {
  const auto out = fresh_dir("shards-messy");
  const std::string opts = " --set run.threads=1 --quiet --no-report";
  for (int i : {1, 2}) ASSERT_EQ(run(sweep(out, "--shard " + std::to_string(i) + "/2" + opts)).code, 0);
  const std::string s1 = out + "/tiny-shard1of2", s2 = out + "/tiny-shard2of2";
  // Shard 2 also holds one of shard 1's trials; shard 1's journal ends in a torn line.
  const auto trials1 = journal_lines(s1, "trial");
  ASSERT_FALSE(trials1.empty());
  const std::string dup_id = trials1.front()["id"];
  std::ofstream(s2 + "/results.jsonl", std::ios::app) << trials1.front().dump() << "\n";
  std::ofstream(s1 + "/results.jsonl", std::ios::app) << "{\"type\":\"trial\",\"seed\":1,\"ki";
  const auto m = run(bin() + " merge " + out + "/tiny " + s1 + " " + s2);
  ASSERT_EQ(m.code, 0) << m.output;
  EXPECT_NE(m.output.find("duplicate: " + dup_id + ": in " + s1 + " and " + s2 + "; kept the first"), std::string::npos) << m.output;
  EXPECT_EQ(journal_lines(out + "/tiny", "trial").size(), 10u) << "every trial once";
  // Another data set: run.json's data fingerprints differ.
  auto facts = nlohmann::json::parse(slurp(s2 + "/run.json"));
  facts["data_files"]["b_test"] = {{"path", "b_test.json"}, {"size", 1}, {"fnv1a", "0"}};
  std::ofstream(s2 + "/run.json", std::ios::trunc) << facts.dump(2);
  const auto other = run(bin() + " merge " + out + "/again " + s1 + " " + s2);
  EXPECT_EQ(other.code, 2) << other.output;
  EXPECT_NE(other.output.find(s2 + ": ran on other data files than " + s1), std::string::npos) << other.output;
  // The same data, but on a GPU: CPU and GPU results are not merged into one run.
  facts["data_files"] = nlohmann::json::parse(slurp(s1 + "/run.json"))["data_files"];
  facts["devices"] = {"cuda:0 (NVIDIA H100 80GB HBM3)"};
  std::ofstream(s2 + "/run.json", std::ios::trunc) << facts.dump(2);
  const auto gpu = run(bin() + " merge " + out + "/again " + s1 + " " + s2);
  EXPECT_EQ(gpu.code, 2) << gpu.output;
  EXPECT_NE(gpu.output.find(s2 + " ran on cuda, " + s1 + " on cpu"), std::string::npos) << gpu.output;
}

// pretrain.length_buckets pads every batch to a bucket's width and the last one to batch_size:
// other dropout draws, so other numbers, but the same training within seed noise (A-dev micro-F1
// over 3 seeds); the exact padding and masking are checked in model_test (Buckets.*).
TEST(Buckets, BucketedPretrainingMovesF1OnlyWithinSeedNoise) {
  const auto out = fresh_dir("buckets");
  const std::string seeds = " --set 'run.seeds=[1,2,3]' --quiet";
  auto plain = run(sweep(out, "--set run.name=\\\"plain\\\"" + seeds));
  ASSERT_EQ(plain.code, 0) << plain.output;
  auto bucketed = run(sweep(out, "--set run.name=\\\"bucketed\\\" --set pretrain.length_buckets=3" + seeds));
  ASSERT_EQ(bucketed.code, 0) << bucketed.output;
  auto stats = [&](const std::string& name) {
    std::vector<double> f1;
    for (const auto& j : journal_lines(out + "/" + name, "pretrain")) f1.push_back(j["a_dev_micro_f1"].get<double>());
    double mean = 0, var = 0;
    for (double v : f1) mean += v / f1.size();
    for (double v : f1) var += (v - mean) * (v - mean) / (f1.size() - 1);
    return std::make_tuple(f1.size(), mean, std::sqrt(var));
  };
  const auto [n0, m0, s0] = stats("plain");
  const auto [n1, m1, s1] = stats("bucketed");
  ASSERT_EQ(n0, 3u);
  ASSERT_EQ(n1, 3u);
  EXPECT_GT(m1, 0.1) << "bucketed pretraining learns";
  EXPECT_LE(std::fabs(m0 - m1), 2 * std::max(s0, s1))
      << "A-dev micro-F1 " << m0 << " ± " << s0 << " without buckets, " << m1 << " ± " << s1 << " with 3";
  EXPECT_NE(slurp(out + "/bucketed/config.toml").find("length_buckets = 3"), std::string::npos);
  EXPECT_EQ(slurp(out + "/plain/config.toml").find("length_buckets"), std::string::npos)
      << "written only when set: older run directories still compare equal on resume";
}
