// Tests for the report's diagnostics (each fires on a journal crafted for it and stays silent
// on a clean one), its headline, and the aggregated report over several runs.
#include "report_fixtures.hpp"

#include <tuple>

#include "report/paired.hpp"

namespace anchorsweep {
namespace {

using namespace report_testing;

// ---------- diagnostics ----------

ReportPaths report_for(const std::string& name, const std::vector<TrialResult>& trials) {
  RunDir dir(name);
  dir.setup(trials);
  return write_report(dir.path());
}

TEST(Diagnostics, CleanJournalFiresNothing) {
  const ReportPaths p = report_for("diag_clean", clean_trials());
  EXPECT_FALSE(any_warning(p, "identical adapter weights"));
  EXPECT_FALSE(any_warning(p, "too small to change any decision"));
  EXPECT_FALSE(any_warning(p, "the anchor's pull"));
  EXPECT_FALSE(any_warning(p, "never reached its anchor"));
  EXPECT_FALSE(any_warning(p, "both adapter inits"));
}

TEST(Diagnostics, IdenticalWeightsAcrossLambdasWarns) {
  auto trials = clean_trials();
  for (auto& t : trials)
    if (t.key.seed == 1 && t.key.kind == TrialKind::anchored) t.diag.weights_hash = "00000000deadbeef";
  const ReportPaths p = report_for("diag_same_weights", trials);
  ASSERT_TRUE(any_warning(p, "WARNING: identical adapter weights"));
  EXPECT_TRUE(any_warning(p, "never reached the loss"));
  EXPECT_TRUE(any_warning(p, "seed 1: λ = 0, 0.01, 1"));
  EXPECT_FALSE(any_warning(p, "too small to change any decision"));  // that's the other cause
}

TEST(Diagnostics, DifferentWeightsSamePredictionsNotes) {
  auto trials = clean_trials();
  for (auto& t : trials)
    if (t.key.kind == TrialKind::anchored) {
      t.diag.pred_hash_dev = "dev-s" + std::to_string(t.key.seed);
      t.diag.pred_hash_test = "test-s" + std::to_string(t.key.seed);
    }
  const ReportPaths p = report_for("diag_same_preds", trials);
  ASSERT_TRUE(any_warning(p, "NOTE: different weights, identical predictions"));
  EXPECT_TRUE(any_warning(p, "too small to change any decision"));
  EXPECT_FALSE(any_warning(p, "spam")) << "the note speaks of this run only";
  EXPECT_TRUE(any_warning(p, "seeds 1, 2: λ = 0, 0.01, 1"));
  EXPECT_FALSE(any_warning(p, "identical adapter weights"));
}

TEST(Diagnostics, OnlyLargeLambdasAgreeingIsNotTheTooSmallNote) {
  auto trials = clean_trials();
  for (auto& t : trials)
    if (t.key.kind == TrialKind::anchored && t.key.lambda > 0) {
      t.diag.pred_hash_dev = "pinned";
      t.diag.pred_hash_test = "pinned";
    }
  const ReportPaths p = report_for("diag_pinned", trials);
  EXPECT_FALSE(any_warning(p, "too small to change any decision"));
  // The check ran and passed, not merely found nothing to look at.
  const Finding f = check_same_predictions(group_trials(trials));
  EXPECT_EQ(f.level, Level::ok) << f.line();
  EXPECT_TRUE(contains(f.text, "the smallest λ of each seed predicts differently")) << f.line();
}

TEST(Diagnostics, PenaltyDominanceWarns) {
  auto trials = clean_trials();
  for (auto& t : trials)
    if (t.key.kind == TrialKind::anchored && t.key.lambda == 1) {
      t.diag.w_dist_init = 4.0;
      t.diag.penalty_first = 16.0;  // > 10 x ce_first (1.5)
    }
  const ReportPaths p = report_for("diag_dominance", trials);
  ASSERT_TRUE(any_warning(p, "WARNING: the anchor's pull, not B, drives training"));
  EXPECT_TRUE(any_warning(p, "λ = 1 [init=random]: penalty share of the loss"));
  EXPECT_TRUE(any_warning(p, "(10.7× the cross-entropy)"));
  EXPECT_FALSE(any_warning(p, "λ = 0.01 [init=random]: penalty share"));
  // W moved well towards the anchor (4 -> 0.35): not the "never reached" case.
  EXPECT_FALSE(any_warning(p, "never reached its anchor"));
}

// The original symptom, crafted: at λ = 1 the penalty is 89% of the loss from the first epoch
// to the last (8.4x the CE at the start, under the old 10x threshold), and ||W − A|| only goes
// 5.02 -> 3.93 with Adam, lr 1e-3, 100 steps.
std::vector<TrialResult> unreached_trials(const std::string& init = "random") {
  auto trials = clean_trials(init);
  for (auto& t : trials)
    if (t.key.kind == TrialKind::anchored && t.key.lambda == 1) {
      Diagnostics& d = t.diag;
      d.ce_first = 3.0;
      d.penalty_first = 25.2;  // 8.4x
      d.penalty_share_first = d.penalty_first / (d.ce_first + d.penalty_first);
      d.ce_last = 1.9;
      d.penalty_last = 15.4;
      d.penalty_share_last = d.penalty_last / (d.ce_last + d.penalty_last);
      d.w_dist_init = 5.02;
      d.w_dist_final = 3.93;
      d.steps = 100;
      d.lr = 1e-3;
      d.optimizer = Optimizer::adam;
      for (auto& p : t.curve) {
        p.train_ce = 2.0;
        p.train_loss = 2.0 / 0.11;  // share 0.89
        p.anchor_dist = 5.02 - 0.2 * p.epoch;
      }
      // The worse F1 the original saw.
      t.metrics[EvalSplit::test].micro_f1 = 0.05 + 0.01 * t.key.seed;
    }
  return trials;
}

TEST(Diagnostics, AnchorNeverReachedWarnsWithTheBoundAndRemedies) {
  RunDir dir("diag_unreached");
  dir.setup(unreached_trials());
  write_tables(dir.path());
  const ReportPaths p = write_report(dir.path());
  ASSERT_TRUE(any_warning(p, "WARNING: the adapter never reached its anchor"));
  EXPECT_TRUE(any_warning(p, "λ = 1 [init=random]: penalty 89% of the loss over training"));
  EXPECT_TRUE(any_warning(p, "5.02 → 3.93 (78% left)"));
  EXPECT_TRUE(any_warning(p, "lr × steps = 0.001 × 100 = 0.1 per entry"));
  EXPECT_TRUE(any_warning(p, "adapter.init = \"anchor\""));
  EXPECT_TRUE(any_warning(p, "penalty.mode = \"decoupled\""));
  EXPECT_TRUE(any_warning(p, "more finetune steps or a larger lr"));
  // The whole-run check fires too, though the first step is only 8.4x the CE.
  EXPECT_TRUE(any_warning(p, "WARNING: the anchor's pull, not B, drives training"));
  EXPECT_TRUE(any_warning(p, "0.89 on average over the epochs"));
  EXPECT_FALSE(any_warning(p, "Measured in this run")) << "one init only: nothing measured to cite";
  // Per-epoch distance in curves.csv.
  bool dist = false;
  for (const Row& r : read_csv(read_file(dir.path() + "/curves.csv")))
    if (r.at("lambda") == "1" && r.at("epoch") == "1") dist = std::fabs(std::stod(r.at("anchor_dist")) - 4.82) < 1e-9;
  EXPECT_TRUE(dist);
}

TEST(Diagnostics, AnchorReachedStaysSilent) {
  auto trials = unreached_trials();
  for (auto& t : trials)
    if (t.key.kind == TrialKind::anchored && t.key.lambda == 1) t.diag.w_dist_final = 1.2;  // under half of 5.02
  const ReportPaths p = report_for("diag_reached", trials);
  EXPECT_FALSE(any_warning(p, "never reached its anchor"));
  EXPECT_TRUE(any_warning(p, "the anchor's pull, not B, drives training"));  // the share is still high
}

TEST(Diagnostics, AnchorNeverReachedCitesTheMeasuredInitDifference) {
  auto trials = unreached_trials("random");
  for (const auto& t : clean_trials("anchor"))
    if (t.key.kind == TrialKind::anchored) trials.push_back(t);
  const ReportPaths p = report_for("diag_unreached_inits", trials);
  ASSERT_TRUE(any_warning(p, "never reached its anchor"));
  EXPECT_TRUE(any_warning(p, "Measured in this run at λ = 1: init = anchor"));
  EXPECT_FALSE(any_warning(p, "λ = 1 [init=anchor]: penalty 89%")) << "the anchor init started at A";
}

TEST(Headline, AtAGlanceAndTheConsoleSayWhereAdaptersStand) {
  RunDir dir("headline");
  dir.setup(unreached_trials());
  const ReportPaths p = write_report(dir.path());
  // Pretrained is above every anchored λ here; scratch is below λ = 0 and 0.01, above λ = 1.
  const RunResults results = read_results(dir.path());  // groups point into it: keep it alive
  const auto groups = group_trials(results.trials);
  const auto lines = headline(groups);
  ASSERT_EQ(lines.size(), 1u);
  // On dev, with the reason; the fixture's differences are the same for every seed: beyond noise.
  EXPECT_EQ(lines[0].rfind("On B dev micro-F1 (%; dev is the split λ is chosen on, test reports the chosen setting): "
                           "every λ is below the pretrained model alone (λ→∞, ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("beyond seed noise (by 2.30 to 12.32 points, paired over 2 seeds)"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("; λ = 0 (+6.00 ± 0.00), 0.01 (+4.49 ± 0.00) above scratch on B ("), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("λ = 1 (−4.02 ± 0.00) below it"), std::string::npos) << lines[0];
  const auto md = read_file(p.report_md);
  const auto glance = md.substr(md.find("At a glance"));
  EXPECT_NE(glance.find(lines[0]), std::string::npos) << lines[0] << "\n---\n" << glance;
  EXPECT_NE(summary_table(dir.path()).find(lines[0]), std::string::npos) << lines[0];
  EXPECT_EQ(summary_table(dir.path()).find("pretrained (λ→∞) [init="), std::string::npos)
      << "the baseline has no adapter init";
}

TEST(Diagnostics, BothInitsAreCompared) {
  auto trials = clean_trials("random");
  for (const auto& t : clean_trials("anchor"))
    if (t.key.kind == TrialKind::anchored) trials.push_back(t);
  RunDir dir("diag_inits");
  dir.setup(trials);
  const ReportPaths p = write_report(dir.path());
  ASSERT_TRUE(any_warning(p, "NOTE: adapter init compared"));
  // Mean test F1 of lambda 0 for each init, as printed.
  auto mean_test = [](double l, const std::string& init) {
    return (make_trial(1, TrialKind::anchored, l, init).metrics.at(EvalSplit::test).micro_f1 +
            make_trial(2, TrialKind::anchored, l, init).metrics.at(EvalSplit::test).micro_f1) / 2;
  };
  EXPECT_TRUE(any_warning(p, "λ = 0: " + pct(mean_test(0, "anchor")) + " vs " + pct(mean_test(0, "random"))));
  // Grouped by init: summary.csv has both inits for lambda 0.01.
  size_t groups = 0;
  for (const Row& r : read_csv(read_file(p.summary_csv)))
    if (r.at("kind") == "anchored" && r.at("lambda") == "0.01" && r.at("split") == "dev") ++groups;
  EXPECT_EQ(groups, 2u);
  // Both inits live side by side: neither overwrote the other in results.csv.
  EXPECT_EQ(read_csv(read_file(p.results_csv)).size(), 12u * 4 + 2 * 2 + 2 * 4 + 1);
  EXPECT_TRUE(contains(read_file(p.report_md), "init=anchor"));
}


// ---------- several runs, one report ----------

std::vector<TrialResult> sweep_trials(const std::vector<double>& lambdas, const std::string& init) {
  std::vector<TrialResult> out;
  for (int64_t seed : {1, 2}) {
    for (double l : lambdas) out.push_back(make_trial(seed, TrialKind::anchored, l, init));
    out.push_back(make_trial(seed, TrialKind::pretrained, 0, init));
    out.push_back(make_trial(seed, TrialKind::scratch, 0));
  }
  return out;
}

// A run directory of these trials alone (no stale or failed lines).
void setup_run(const RunDir& d, const std::vector<TrialResult>& trials) {
  d.setup(trials);
  std::string j;
  for (int64_t seed : {1, 2}) j += to_json(make_pretrain(seed)).dump() + "\n";
  for (const auto& t : trials) j += to_json(t).dump() + "\n";
  d.write("results.jsonl", j);
}

double mean_f1(const std::string& split_name, double lambda, const std::string& init) {
  const EvalSplit split = parse_name<EvalSplit>(split_name).value();
  return (make_trial(1, TrialKind::anchored, lambda, init).metrics.at(split).micro_f1 +
          make_trial(2, TrialKind::anchored, lambda, init).metrics.at(split).micro_f1) / 2;
}

// The text of a report.md section, from its heading to the next one.
std::string section(const std::string& md, const std::string& heading) {
  const size_t at = md.find("## " + heading);
  if (at == std::string::npos) return "";
  const size_t end = md.find("\n## ", at + 3);
  return md.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

std::string line_containing(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.find(needle) != std::string::npos) return line;
  return "";
}

TEST(Compare, TwoRunsGiveOneReportWithBestLambdaSharedLambdasAndConfigDifferences) {
  RunDir a("cmp_loss"), b("cmp_decoupled"), out("cmp_out");
  setup_run(a, sweep_trials({0, 0.01, 1}, "random"));
  setup_run(b, sweep_trials({0.01, 0.1}, "anchor"));
  a.write("config.toml", std::string(kConfig) + "\n[penalty]\nmode = \"loss\"\n");
  b.write("config.toml", std::string(kConfig) + "\n[penalty]\nmode = \"decoupled\"\n[adapter]\ninit = \"anchor\"\n");

  const ComparisonPaths p = write_comparison({a.path(), b.path()}, out.path());
  const std::string md = read_file(p.report_md);
  EXPECT_TRUE(contains(read_file(p.report_html), "<table>"));

  // Runs at a glance: each run's best λ on dev (F1 falls with λ here), test read there.
  const std::string glance = section(md, "Runs at a glance");
  const std::string row_b = line_containing(glance, "cmp\\_decoupled |");
  ASSERT_FALSE(row_b.empty()) << glance;
  EXPECT_TRUE(contains(row_b, "| decoupled |")) << row_b;
  EXPECT_TRUE(contains(row_b, "| 0.01 | " + pct(mean_f1("dev", 0.01, "anchor")))) << row_b;
  EXPECT_TRUE(contains(row_b, pct(mean_f1("test", 0.01, "anchor")))) << row_b;
  const std::string row_loss = line_containing(glance, "cmp\\_loss |");
  EXPECT_TRUE(contains(row_loss, "| 0 | " + pct(mean_f1("dev", 0, "random")))) << row_loss;

  // Only λ = 0.01 occurs in both runs.
  const std::string shared = section(md, "Micro-F1 at shared λ values");
  EXPECT_TRUE(contains(shared, "| 0.01 | " + pct(mean_f1("dev", 0.01, "random")))) << shared;
  EXPECT_FALSE(contains(shared, "| 1 |")) << shared;
  EXPECT_FALSE(contains(shared, "| 0.1 |")) << shared;

  // What was varied: the penalty mode and the init, nothing else.
  const std::string diffs = section(md, "What differs between the runs' configs");
  EXPECT_TRUE(contains(diffs, "penalty.mode")) << diffs;
  EXPECT_TRUE(contains(diffs, "adapter.init")) << diffs;
  EXPECT_FALSE(contains(diffs, "run.seeds")) << diffs;

  // compare.csv: 3 + 2 anchored settings and 2 baselines per run, dev and test each.
  const auto rows = read_csv(read_file(p.table_csv));
  EXPECT_EQ(rows.size(), (3u + 2u + 2u * 2u) * 2u);
  bool seen = false;
  for (const Row& r : rows)
    if (r.at("kind") == "anchored" && r.at("lambda") == "0.1" && r.at("split") == "test") {
      seen = true;
      EXPECT_NEAR(num(r.at("micro_f1_mean")), mean_f1("test", 0.1, "anchor"), 1e-12);
      EXPECT_EQ(r.at("init"), "anchor");
    }
  EXPECT_TRUE(seen);
  ASSERT_TRUE(have_gnuplot()) << "gnuplot is a dependency: launcher/setup installs gnuplot-nox";
  EXPECT_EQ(p.pngs.size(), 1u);
}

TEST(Compare, RunsOnOtherLabelsOrAnotherNegativeLabelAreRefused) {
  RunDir a("cmp_ref_a"), b("cmp_ref_b"), out("cmp_ref_out");
  setup_run(a, sweep_trials({0, 1}, "random"));
  setup_run(b, sweep_trials({0, 1}, "random"));
  auto refusal = [&](const std::vector<std::string>& dirs, const std::string& to) {
    try {
      write_comparison(dirs, to);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_TRUE(refusal({a.path(), b.path()}, out.path()).empty());
  std::string other = kRunJson;
  other.replace(other.find("per:age"), 7, "per:origin");
  b.write("run.json", other);
  EXPECT_TRUE(contains(refusal({a.path(), b.path()}, out.path()), "different label sets")) << refusal({a.path(), b.path()}, out.path());
  std::string neg = kRunJson;
  const std::string from = "\"negative_label\":\"no_relation\"";
  neg.replace(neg.find(from), from.size(), "\"negative_label\":\"per:title\"");
  b.write("run.json", neg);
  EXPECT_TRUE(contains(refusal({a.path(), b.path()}, out.path()), "negative label")) << refusal({a.path(), b.path()}, out.path());
  EXPECT_TRUE(contains(refusal({}, out.path()), "at least one run directory"));
  EXPECT_EQ(refusal({a.path()}, out.path()), "") << "one run is an aggregated report of one";
  EXPECT_TRUE(contains(refusal({a.path(), b.path()}, a.path()), "one of the runs"));
  EXPECT_FALSE(file_exists(a.path() + "/report.md")) << "a refused comparison wrote into a run";
}

}  // namespace
}  // namespace anchorsweep

using namespace anchorsweep;

// ---------- the noise rule: paired differences over seeds ----------

TEST(Paired, IntervalOverSeedsDecidesWhatIsDistinguishable) {
  EXPECT_DOUBLE_EQ(t_quantile_975(1), 12.706);
  EXPECT_DOUBLE_EQ(t_quantile_975(2), 4.303);
  EXPECT_NEAR(t_quantile_975(60), 2.000, 0.002);
  // The same shift on every seed: no noise left after pairing, however large the spread of seeds.
  const auto shifted = paired_difference({{1, 0.50}, {2, 0.70}, {3, 0.30}}, {{1, 0.45}, {2, 0.65}, {3, 0.25}});
  EXPECT_EQ(shifted.n, 3u);
  EXPECT_NEAR(shifted.mean, 0.05, 1e-12);
  EXPECT_NEAR(shifted.half_width, 0.0, 1e-12);
  EXPECT_TRUE(shifted.distinguishable());
  // d = +0.05, −0.05, +0.02: mean 0.0067, sd 0.0513, half width 4.303 · 0.0513 / √3 = 0.127.
  const auto noisy = paired_difference({{1, 0.50}, {2, 0.70}, {3, 0.40}}, {{1, 0.45}, {2, 0.75}, {3, 0.38}});
  EXPECT_NEAR(noisy.mean, 0.02 / 3, 1e-12);
  EXPECT_NEAR(noisy.half_width, 4.303 * 0.051316 / std::sqrt(3.0), 1e-4);
  EXPECT_FALSE(noisy.distinguishable());
  // Seeds only one side has are left out; one seed left is no evidence at all.
  const auto one = paired_difference({{1, 0.9}, {2, 0.8}}, {{1, 0.1}, {3, 0.2}});
  EXPECT_EQ(one.n, 1u);
  EXPECT_FALSE(one.distinguishable());
}

namespace {

// 3 seeds: λ = 0.01 beats pretrained on seeds 1 and 3 and loses on seed 2 (noise); λ = 1 is
// 5 points below on every seed.
std::vector<TrialResult> noisy_trials() {
  std::vector<TrialResult> ts;
  const double pretrained[] = {0.50, 0.60, 0.40}, small[] = {0.53, 0.55, 0.43}, large[] = {0.45, 0.55, 0.35};
  for (int64_t s = 1; s <= 3; ++s) {
    for (auto [kind, lambda, f1] : {std::tuple{TrialKind::pretrained, 0.0, pretrained[s - 1]},
                                    std::tuple{TrialKind::anchored, 0.01, small[s - 1]},
                                    std::tuple{TrialKind::anchored, 1.0, large[s - 1]}}) {
      auto t = make_trial(s, kind, lambda);
      t.metrics[EvalSplit::dev].micro_f1 = f1;
      ts.push_back(t);
    }
  }
  return ts;
}

}  // namespace

TEST(Headline, DifferencesWithinSeedNoiseAreNotRanked) {
  const auto trials = noisy_trials();
  const auto lines = headline(group_trials(trials));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("λ = 1 (−5.00 ± 0.00) below the pretrained model alone (λ→∞, 50.00)"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("λ = 0.01 not distinguishable from it"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("paired over 3 seeds"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].find("0.01 (+"), std::string::npos) << "λ = 0.01 ranked within noise: " << lines[0];
}

TEST(Headline, OneSeedRanksNothing) {
  std::vector<TrialResult> one;
  for (const auto& t : noisy_trials())
    if (t.key.seed == 1) one.push_back(t);
  const auto lines = headline(group_trials(one));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("One seed: nothing is ranked.", 0), 0u) << lines[0];
  EXPECT_EQ(lines[0].find("below"), std::string::npos) << lines[0];
  EXPECT_EQ(lines[0].find("above"), std::string::npos) << lines[0];
  // "At a glance" names no best λ either.
  RunDir dir("headline_one_seed");
  dir.setup(one);
  const auto md = read_file(write_report(dir.path()).report_md);
  const auto glance = md.substr(md.find("At a glance"), md.find("## micro-F1") - md.find("At a glance"));
  EXPECT_NE(glance.find("one seed: the λ values are not ranked"), std::string::npos) << glance;
  EXPECT_EQ(glance.find("highest mean dev"), std::string::npos) << glance;
}

// ---------- baselines that look broken ----------

TEST(Diagnostics, ScratchPredictingOneLabelIsFlaggedWithWhatToChange) {
  auto trials = clean_trials();
  const ReportPaths healthy = report_for("baseline_ok", trials);
  EXPECT_FALSE(any_warning(healthy, "a baseline looks broken"));
  for (auto& t : trials)
    if (t.key.kind == TrialKind::scratch) {
      t.test_pred_counts = {99, 1, 0, 0};  // gold: 50 of 100 are no_relation
      t.metrics[EvalSplit::dev].micro_f1 = 0.2;  // not near zero: the share alone must fire
    }
  const ReportPaths broken = report_for("baseline_one_label", trials);
  EXPECT_TRUE(any_warning(broken, "scratch (B only) scores 20.00% dev micro-F1 and predicts \"no_relation\" for 99.00% of B test (gold: 50.00%)"));
  EXPECT_TRUE(any_warning(broken, "more epochs (pretrain.epochs) or a larger pretrain.lr"));
  EXPECT_FALSE(any_warning(broken, "pretrained (λ→∞) scores"));
  const auto lines = headline(group_trials(trials));
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines[0].find("scratch on B (20.00; it looks broken: see Diagnostics)"), std::string::npos) << lines[0];
  // Near zero F1 fires too, whatever the predictions.
  for (auto& t : trials)
    if (t.key.kind == TrialKind::scratch) {
      t.test_pred_counts = {60, 20, 10, 10};
      t.metrics[EvalSplit::dev].micro_f1 = 0.01;
    }
  EXPECT_TRUE(any_warning(report_for("baseline_zero", trials), "scratch (B only) scores 1.00% dev micro-F1"));
}
