// Tests for the report module: journal (de)serialisation, the CSV tables and report.md/html.
// The diagnostics and the aggregated report are in report_diagnostics_test.cpp.
#include "report_fixtures.hpp"

#include "report/plots.hpp"

namespace anchorsweep {
namespace {

using namespace report_testing;

// ---------- TrialResult JSON ----------

void expect_scores_eq(const Scores& a, const Scores& b) {
  EXPECT_EQ(a.micro_p, b.micro_p);
  EXPECT_EQ(a.micro_r, b.micro_r);
  EXPECT_EQ(a.micro_f1, b.micro_f1);
  EXPECT_EQ(a.macro_f1, b.macro_f1);
  EXPECT_EQ(a.accuracy, b.accuracy);
  EXPECT_EQ(a.n, b.n);
}

void expect_curve_eq(const std::vector<EpochPoint>& a, const std::vector<EpochPoint>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].epoch, b[i].epoch);
    EXPECT_EQ(a[i].train_loss, b[i].train_loss);
    EXPECT_EQ(a[i].train_ce, b[i].train_ce);
    EXPECT_EQ(a[i].dev_micro_f1, b[i].dev_micro_f1);
    EXPECT_EQ(a[i].test_micro_f1, b[i].test_micro_f1);
    EXPECT_EQ(a[i].lr, b[i].lr);
  }
}

TEST(TrialResultJson, RoundTripKeepsEveryField) {
  TrialResult a = make_trial(2, TrialKind::anchored, 0.05);
  a.status = Status::failed;
  a.error = "boom \"quoted\"\nsecond line";
  a.fused_width = 4;
  a.diag.w_dist_final = 1.0 / 3.0;
  const json j = json::parse(to_json(a).dump());
  EXPECT_EQ(j.at("type"), "trial");
  EXPECT_EQ(j.at("id"), "s2-lam0.05");
  EXPECT_EQ(j.at("lambda").get<double>(), 0.05);
  EXPECT_TRUE(j.at("metrics").contains("dev_last"));
  EXPECT_EQ(j.at("diag").at("weights_hash"), a.diag.weights_hash);

  const TrialResult b = trial_from_json(j);
  EXPECT_EQ(b.key.seed, a.key.seed);
  EXPECT_EQ(b.key.kind, a.key.kind);
  EXPECT_EQ(b.key.lambda, a.key.lambda);
  EXPECT_EQ(b.status, a.status);
  EXPECT_EQ(b.error, a.error);
  EXPECT_EQ(b.init, a.init);
  EXPECT_EQ(b.host, a.host);
  EXPECT_EQ(b.device, a.device);
  EXPECT_EQ(b.rank, a.rank);
  EXPECT_EQ(b.threads, a.threads);
  EXPECT_EQ(b.wall_s, a.wall_s);
  EXPECT_EQ(b.task, a.task);
  EXPECT_EQ(b.fused_width, a.fused_width);
  EXPECT_EQ(b.best_epoch, a.best_epoch);
  EXPECT_EQ(b.epochs, a.epochs);
  ASSERT_EQ(b.metrics.size(), a.metrics.size());
  for (const auto& [split, s] : a.metrics) expect_scores_eq(b.metrics.at(split), s);
  EXPECT_EQ(b.per_class_test_f1, a.per_class_test_f1);
  expect_curve_eq(b.curve, a.curve);
  EXPECT_EQ(b.diag.ce_first, a.diag.ce_first);
  EXPECT_EQ(b.diag.penalty_first, a.diag.penalty_first);
  EXPECT_EQ(b.diag.ce_last, a.diag.ce_last);
  EXPECT_EQ(b.diag.penalty_last, a.diag.penalty_last);
  EXPECT_EQ(b.diag.penalty_share_first, a.diag.penalty_share_first);
  EXPECT_EQ(b.diag.penalty_share_last, a.diag.penalty_share_last);
  EXPECT_EQ(b.diag.w_dist_init, a.diag.w_dist_init);
  EXPECT_EQ(b.diag.w_dist_final, a.diag.w_dist_final);
  EXPECT_EQ(b.diag.weights_hash, a.diag.weights_hash);
  EXPECT_EQ(b.diag.pred_hash_dev, a.diag.pred_hash_dev);
  EXPECT_EQ(b.diag.pred_hash_test, a.diag.pred_hash_test);
  EXPECT_EQ(to_json(b), to_json(a));
}

TEST(TrialResultJson, BaselinesHaveNullLambdaAndNanSurvives) {
  TrialResult t = make_trial(1, TrialKind::scratch, 0.5);
  t.curve[0].train_loss = std::nan("");
  const json j = json::parse(to_json(t).dump());
  EXPECT_TRUE(j.at("lambda").is_null());
  EXPECT_EQ(j.at("id"), "s1-scratch");
  const TrialResult b = trial_from_json(j);
  EXPECT_EQ(b.key.lambda, 0);
  EXPECT_TRUE(std::isnan(b.curve[0].train_loss));
}

TEST(TrialResultJson, PretrainRoundTrip) {
  PretrainRecord a = make_pretrain(3);
  a.curve = make_trial(3, TrialKind::anchored, 0).curve;
  a.encoder_hash = "0123456789abcdef";
  a.curve[0].train_accuracy = 0.75;
  a.curve[0].grad_norm = 2.5;
  const json j = json::parse(to_json(a).dump());
  EXPECT_EQ(j.at("type"), "pretrain");
  const PretrainRecord b = pretrain_from_json(j);
  EXPECT_EQ(b.seed, 3);
  EXPECT_EQ(b.a_dev_micro_f1, a.a_dev_micro_f1);
  EXPECT_EQ(b.examples_per_s, a.examples_per_s);
  EXPECT_EQ(b.best_epoch, a.best_epoch);
  EXPECT_EQ(b.host, a.host);
  EXPECT_EQ(b.encoder_hash, "0123456789abcdef");
  EXPECT_EQ(b.step, a.step);
  EXPECT_EQ(b.curve[0].train_accuracy, 0.75);
  EXPECT_EQ(b.curve[0].grad_norm, 2.5);
  EXPECT_TRUE(j.at("curve")[1].at("grad_norm").is_null()) << "not recorded: null, not 0";
  // Pretraining has no test split: its curve journals null there, never a 0 that reads as a score.
  for (const auto& p : j.at("curve")) EXPECT_TRUE(p.at("test_micro_f1").is_null()) << p.dump();
  ASSERT_EQ(b.curve.size(), a.curve.size());
  for (auto& p : a.curve) p.test_micro_f1 = std::numeric_limits<double>::quiet_NaN();
  for (size_t i = 0; i < b.curve.size(); ++i) {
    EXPECT_EQ(b.curve[i].dev_micro_f1, a.curve[i].dev_micro_f1);
    EXPECT_TRUE(std::isnan(b.curve[i].test_micro_f1));
  }
}

TEST(TrialKey, IdFormats) {
  EXPECT_EQ((TrialKey{1, TrialKind::anchored, 0.01}).id(), "s1-lam0.01");
  EXPECT_EQ((TrialKey{3, TrialKind::anchored, 0}).id(), "s3-lam0");
  EXPECT_EQ((TrialKey{1, TrialKind::anchored, 1e-5}).id(), "s1-lam1e-05");
  EXPECT_EQ((TrialKey{2, TrialKind::pretrained, 7}).id(), "s2-pretrained");
  EXPECT_EQ((TrialKey{2, TrialKind::scratch, 0}).id(), "s2-scratch");
}

// ---------- journal ----------

TEST(Journal, TornLastLineIsSkippedWithAWarning) {
  RunDir dir("torn_last");
  dir.setup(clean_trials());
  ReportPaths p;
  ASSERT_NO_THROW(p = write_report(dir.path()));
  EXPECT_TRUE(any_warning(p, "torn last line")) << "the torn tail should be reported";
  EXPECT_TRUE(contains(dir.read("report.md"), "torn last line"));
}

// The readers and the writer agree on the last line: a whole record that lacks only its newline
// counts for both (the writer ends it on resume); a torn one counts for neither (it cuts it).
TEST(Journal, ReadersAndTheWriterAgreeOnTheLastLine) {
  RunDir dir("last_line");
  std::string text = journal_text(clean_trials(), false);
  ASSERT_EQ(text.back(), '\n');
  text.pop_back();  // the last record, whole, without its newline
  dir.write("results.jsonl", text);
  const size_t before = read_results(dir.path()).trials.size();
  { Journal j(dir.path() + "/results.jsonl"); }  // what a resume opens
  EXPECT_EQ(read_results(dir.path()).trials.size(), before) << "the writer dropped a record the readers count";
  EXPECT_EQ(dir.read("results.jsonl"), text + "\n");
  dir.write("results.jsonl", text + "\n{\"type\":\"trial\",\"se");  // torn: readers skip it
  const size_t with_torn = read_results(dir.path()).trials.size();
  { Journal j(dir.path() + "/results.jsonl"); }
  EXPECT_EQ(read_results(dir.path()).trials.size(), with_torn);
  EXPECT_EQ(dir.read("results.jsonl"), text + "\n") << "the torn tail is cut";
}

TEST(Journal, TornMiddleLineIsAnError) {
  RunDir dir("torn_middle");
  std::string text = journal_text(clean_trials(), false);
  const size_t second = text.find('\n') + 1;
  text.insert(second, "{\"type\":\"trial\",\"seed\":1,\n");  // a broken line 2
  dir.write("results.jsonl", text);
  try {
    write_tables(dir.path());
    FAIL() << "a malformed line in the middle must throw";
  } catch (const InputError& e) {
    EXPECT_TRUE(contains(e.what(), "results.jsonl:2: malformed")) << e.what();
  }
}

TEST(Journal, VersionHeaderIsReadAndANewerVersionIsRefused) {
  const std::string body = journal_text(clean_trials(), false);
  // Version 0 (no header: journals written before versions) and version 1 read alike.
  const RunResults v0 = parse_results(body, "v0.jsonl");
  const RunResults v1 = parse_results(journal_header().dump() + "\n" + body, "v1.jsonl");
  EXPECT_EQ(v0.version, 0);
  EXPECT_EQ(v1.version, kJournalVersion);
  EXPECT_EQ(v1.trials.size(), v0.trials.size());
  EXPECT_FALSE(v0.trials.empty());
  try {
    parse_results("{\"type\":\"journal\",\"version\":99}\n" + body, "new.jsonl");
    FAIL() << "a journal of a newer version must be refused";
  } catch (const JournalVersionError& e) {
    EXPECT_TRUE(contains(e.what(), "new.jsonl:1: journal format version 99 is newer than this anchorsweep reads (version " +
                                       std::to_string(kJournalVersion) + ")")) << e.what();
  }
}

TEST(Journal, MissingJournalIsAnInputError) {
  RunDir dir("missing");
  EXPECT_THROW(write_report(dir.path()), InputError);
  EXPECT_THROW(write_tables(dir.path()), InputError);
}

TEST(Journal, WriteTablesWritesOnlyTheCsvs) {
  RunDir dir("tables_only");
  dir.setup(clean_trials());
  write_tables(dir.path());
  EXPECT_TRUE(file_exists(dir.file("results.csv")));
  EXPECT_TRUE(file_exists(dir.file("summary.csv")));
  EXPECT_TRUE(file_exists(dir.file("curves.csv")));
  EXPECT_FALSE(file_exists(dir.file("report.md")));
  EXPECT_FALSE(file_exists(dir.file("plots")));
}

// ---------- CSV tables ----------

TEST(ResultsCsv, OneRowPerTrialAndSplitWithJournalValues) {
  RunDir dir("results_csv");
  const auto trials = clean_trials();
  dir.setup(trials);
  const ReportPaths p = write_report(dir.path());
  std::vector<std::string> header;
  const auto rows = read_csv(read_file(p.results_csv), &header);
  EXPECT_EQ(header, (std::vector<std::string>{"trial", "seed", "kind", "lambda", "init", "split", "micro_p",
                                              "micro_r", "micro_f1", "macro_f1", "accuracy", "best_epoch",
                                              "status", "host", "rank", "device", "wall_s"}));
  // 6 anchored x 4 splits + 2 pretrained x 2 + 2 scratch x 4 + 1 failed.
  EXPECT_EQ(rows.size(), 6u * 4 + 2 * 2 + 2 * 4 + 1);

  std::map<std::string, const TrialResult*> by_id;
  for (const auto& t : trials) by_id[t.key.id()] = &t;
  size_t checked = 0;
  for (const Row& r : rows) {
    if (r.at("status") == "failed") {
      EXPECT_EQ(r.at("trial"), "s3-lam1");
      EXPECT_EQ(r.at("split"), "");
      EXPECT_EQ(r.at("micro_f1"), "");
      EXPECT_EQ(num(r.at("wall_s")), 1.25);
      continue;
    }
    const TrialResult& t = *by_id.at(r.at("trial"));
    const Scores& s = t.metrics.at(parse_name<EvalSplit>(r.at("split")).value());
    EXPECT_EQ(num(r.at("micro_f1")), s.micro_f1) << r.at("trial") << " " << r.at("split");
    EXPECT_EQ(num(r.at("micro_p")), s.micro_p);
    EXPECT_EQ(num(r.at("micro_r")), s.micro_r);
    EXPECT_EQ(num(r.at("macro_f1")), s.macro_f1);
    EXPECT_EQ(num(r.at("accuracy")), s.accuracy);
    EXPECT_EQ(std::stoll(r.at("best_epoch")), t.best_epoch);
    EXPECT_EQ(num(r.at("wall_s")), t.wall_s);
    EXPECT_EQ(r.at("host"), t.host);
    EXPECT_EQ(r.at("lambda").empty(), t.key.kind != TrialKind::anchored);
    if (t.key.kind == TrialKind::anchored) { EXPECT_EQ(num(r.at("lambda")), t.key.lambda); }
    ++checked;
  }
  EXPECT_EQ(checked, rows.size() - 1);
  // The stale first attempt of s1-lam0.01 (dev F1 0.999) lost to the later line.
  EXPECT_FALSE(contains(read_file(p.results_csv), "0.999"));
  // Sorted: anchored rows (by lambda) before pretrained before scratch.
  std::vector<std::string> kinds;
  for (const Row& r : rows) kinds.push_back(r.at("kind"));
  EXPECT_EQ(kinds.front(), "anchored");
  EXPECT_EQ(kinds.back(), "scratch");
  EXPECT_EQ(rows[0].at("trial"), "s1-lam0");
  EXPECT_EQ(rows[0].at("split"), "dev");
  EXPECT_EQ(rows[1].at("split"), "test");
}

TEST(ResultsCsv, IndependentOfFinishOrder) {
  RunDir a("order_a"), b("order_b");
  auto trials = clean_trials();
  a.setup(trials);
  std::reverse(trials.begin(), trials.end());
  b.setup(trials);
  write_tables(a.path());
  write_tables(b.path());
  EXPECT_EQ(a.read("results.csv"), b.read("results.csv"));
  EXPECT_EQ(a.read("summary.csv"), b.read("summary.csv"));
  EXPECT_EQ(a.read("curves.csv"), b.read("curves.csv"));
}

TEST(SummaryCsv, MeanAndSampleStdByHand) {
  RunDir dir("summary_csv");
  const auto trials = clean_trials();
  dir.setup(trials);
  write_tables(dir.path());
  const auto rows = read_csv(dir.read("summary.csv"));
  const double x1 = make_trial(1, TrialKind::anchored, 0.01).metrics.at(EvalSplit::dev).micro_f1;
  const double x2 = make_trial(2, TrialKind::anchored, 0.01).metrics.at(EvalSplit::dev).micro_f1;
  const double mean = (x1 + x2) / 2;
  const double sd = std::sqrt(((x1 - mean) * (x1 - mean) + (x2 - mean) * (x2 - mean)) / 1);
  bool found = false;
  for (const Row& r : rows) {
    if (r.at("kind") == "anchored" && r.at("lambda") == "0.01" && r.at("split") == "dev") {
      found = true;
      EXPECT_EQ(r.at("n_seeds"), "2");
      EXPECT_EQ(r.at("n_failed"), "0");
      EXPECT_NEAR(num(r.at("micro_f1_mean")), mean, 1e-15);
      EXPECT_NEAR(num(r.at("micro_f1_std")), sd, 1e-15);
      EXPECT_EQ(num(r.at("micro_f1_min")), std::min(x1, x2));
      EXPECT_EQ(num(r.at("micro_f1_max")), std::max(x1, x2));
      EXPECT_NEAR(num(r.at("best_epoch_mean")), 3.5, 1e-12);
    }
    if (r.at("kind") == "anchored" && r.at("lambda") == "1") { EXPECT_EQ(r.at("n_failed"), "1"); }
    if (r.at("kind") != "anchored") { EXPECT_EQ(r.at("lambda"), ""); }
  }
  EXPECT_TRUE(found);
  // 3 lambdas x 4 splits + pretrained x 2 + scratch x 4.
  EXPECT_EQ(rows.size(), 3u * 4 + 2 + 4);
}

TEST(SummaryCsv, SingleSeedHasZeroStd) {
  RunDir dir("summary_one_seed");
  dir.write("results.jsonl", to_json(make_trial(1, TrialKind::anchored, 0.1)).dump() + "\n" +
                                 to_json(make_failed(3, 1)).dump() + "\n");
  write_tables(dir.path());
  const auto rows = read_csv(dir.read("summary.csv"));
  // lambda 0.1 with one seed, plus the failed s3-lam1 group with no splits.
  ASSERT_EQ(rows.size(), 4u + 1);
  EXPECT_EQ(num(rows[0].at("micro_f1_std")), 0.0);
  EXPECT_EQ(rows.back().at("n_seeds"), "0");
  EXPECT_EQ(rows.back().at("n_failed"), "1");
}

TEST(SummaryCsv, IdenticalValuesGiveExactMeanAndZeroStd) {
  RunDir dir("summary_identical");
  std::string text;
  for (int64_t seed : {1, 2, 3}) {
    TrialResult t = make_trial(seed, TrialKind::anchored, 0.5);
    t.metrics[EvalSplit::dev].micro_r = 0.19;  // (0.19 + 0.19 + 0.19) / 3 != 0.19 in naive floating point
    text += to_json(t).dump() + "\n";
  }
  dir.write("results.jsonl", text);
  write_tables(dir.path());
  const auto rows = read_csv(dir.read("summary.csv"));
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0].at("split"), "dev");
  EXPECT_EQ(rows[0].at("micro_r_mean"), "0.19");
  EXPECT_EQ(rows[0].at("micro_r_std"), "0");
  EXPECT_NE(rows[0].at("micro_f1_std"), "0");  // the F1 values differ between seeds
}

TEST(CurvesCsv, OneRowPerEpoch) {
  RunDir dir("curves_csv");
  dir.setup(clean_trials());
  write_tables(dir.path());
  const auto rows = read_csv(dir.read("curves.csv"));
  EXPECT_EQ(rows.size(), 10u * 5);  // 10 ok trials x 5 epochs, the failed one has no curve
  EXPECT_EQ(rows[0].at("trial"), "s1-lam0");
  EXPECT_EQ(rows[0].at("epoch"), "1");
  EXPECT_EQ(num(rows[0].at("train_ce")), 1.5);
}

// ---------- report.md / report.html ----------

TEST(Report, MarkdownHoldsTheTableNumbers) {
  RunDir dir("markdown");
  dir.setup(clean_trials());
  const ReportPaths p = write_report(dir.path());
  const std::string md = read_file(p.report_md);
  for (double l : kLambdas) {
    const Scores a = make_trial(1, TrialKind::anchored, l).metrics.at(EvalSplit::test), b = make_trial(2, TrialKind::anchored, l).metrics.at(EvalSplit::test);
    const double mean = (a.micro_f1 + b.micro_f1) / 2, sd = std::abs(a.micro_f1 - b.micro_f1) / std::sqrt(2.0);
    const std::string cell = pct(mean) + " ± " + pct(sd) + " (" + pct(std::min(a.micro_f1, b.micro_f1)) + "–" +
                             pct(std::max(a.micro_f1, b.micro_f1)) + ")";
    EXPECT_TRUE(contains(md, cell)) << "lambda " << l << ": " << cell;
  }
  EXPECT_TRUE(contains(md, "pretrained (λ→∞)"));
  EXPECT_TRUE(contains(md, "scratch (B only)"));
  // Per-class table: label names from run.json, the negative label left out of the rows.
  EXPECT_TRUE(contains(md, "| per:title |"));
  EXPECT_FALSE(contains(md, "| no\\_relation |"));
  // Run facts, pretraining, failures, config.
  EXPECT_TRUE(contains(md, "1.13.1"));
  EXPECT_TRUE(contains(md, "abc123"));
  EXPECT_TRUE(contains(md, "61.00"));  // A-dev F1 of seed 1
  EXPECT_TRUE(contains(md, "Pretraining steps of seed 1: cuda graphs (4 widths captured, 96 steps replayed)."));
  EXPECT_TRUE(contains(md, "Pretraining steps of seed 2: eager: ANCHORSWEEP\\_NO\\_CUDA\\_GRAPHS is set.")) << md;
  EXPECT_TRUE(contains(md, "CUDA out of memory"));
  EXPECT_TRUE(contains(md, "lambdas = [0, 0.01, 1]"));
  ASSERT_TRUE(have_gnuplot()) << "gnuplot is a dependency: launcher/setup installs gnuplot-nox";
  EXPECT_TRUE(contains(md, "](plots/f1_vs_lambda.png)"));
  EXPECT_TRUE(contains(md, "](plots/curves.png)"));
}

TEST(Report, HtmlIsSelfContained) {
  RunDir dir("html");
  dir.setup(clean_trials());
  const ReportPaths p = write_report(dir.path());
  const std::string html = read_file(p.report_html);
  EXPECT_FALSE(contains(html, "src=\"plots/"));
  EXPECT_FALSE(contains(html, "<img"));
  EXPECT_FALSE(contains(html, "<link"));
  EXPECT_FALSE(contains(html, "<script"));
  EXPECT_TRUE(contains(html, "<style>"));
  EXPECT_TRUE(contains(html, "<details><summary>config.toml"));
  EXPECT_TRUE(contains(html, "lambdas = [0, 0.01, 1]"));
  ASSERT_TRUE(have_gnuplot()) << "gnuplot is a dependency: launcher/setup installs gnuplot-nox";
  EXPECT_TRUE(contains(html, "<svg"));
  ASSERT_EQ(p.pngs.size(), 2u);
  for (const auto& png : p.pngs) {
    const std::string bytes = read_file(png);
    ASSERT_GT(bytes.size(), 8u);
    EXPECT_EQ(bytes.substr(1, 3), "PNG") << png;
  }
  EXPECT_TRUE(file_exists(dir.file("plots/f1_vs_lambda.svg")));
}

TEST(Report, WithoutGnuplotThePlotsAreSkippedVisibly) {
  RunDir dir("no_gnuplot");
  dir.setup(clean_trials());
  const char* before = std::getenv("ANCHORSWEEP_GNUPLOT");
  const std::string saved = before ? before : "";
  ::setenv("ANCHORSWEEP_GNUPLOT", "/nonexistent/gnuplot", 1);
  const ReportPaths p = write_report(dir.path());
  if (before) ::setenv("ANCHORSWEEP_GNUPLOT", saved.c_str(), 1);
  else ::unsetenv("ANCHORSWEEP_GNUPLOT");
  EXPECT_TRUE(p.pngs.empty());
  EXPECT_TRUE(any_warning(p, "gnuplot is not installed"));
  const std::string md = read_file(p.report_md), html = read_file(p.report_html);
  EXPECT_TRUE(contains(md, "plot skipped"));
  EXPECT_TRUE(contains(html, "plot skipped"));
  EXPECT_FALSE(contains(html, "<svg"));
  EXPECT_FALSE(contains(md, "](plots/"));
}

}  // namespace
}  // namespace anchorsweep

// ---------- the plots' data: what each figure draws, checked without looking at pixels ----------

using namespace anchorsweep;
using namespace anchorsweep::report_testing;

TEST(Plots, AxesAndTicsFitTheData) {
  const F1Range r = f1_axis_range({40.0, 68.1, 55.0});
  EXPECT_EQ(r.lo, 35);
  EXPECT_EQ(r.hi, 75);
  EXPECT_EQ(f1_axis_range({1.0, 9.0}).lo, 0) << "F1 has no negative values";
  EXPECT_EQ(f1_axis_range({95.0}).hi, 100);
  EXPECT_EQ(epoch_tic_step(8), 1);
  EXPECT_EQ(epoch_tic_step(9), 2);
  EXPECT_EQ(epoch_tic_step(20), 5);
  EXPECT_EQ(epoch_tic_step(100), 20);
  // Neighbouring λ differ in colour (RGB distance) and in marker.
  for (size_t n = 2; n <= 8; ++n)
    for (size_t i = 0; i + 1 < n; ++i) {
      auto rgb = [](const std::string& c) {
        return std::vector<long>{std::stol(c.substr(1, 2), nullptr, 16), std::stol(c.substr(3, 2), nullptr, 16),
                                 std::stol(c.substr(5, 2), nullptr, 16)};
      };
      const auto a = rgb(series_colour(i, n)), b = rgb(series_colour(i + 1, n));
      double d = 0;
      for (int k = 0; k < 3; ++k) d += double(a[k] - b[k]) * double(a[k] - b[k]);
      EXPECT_GT(std::sqrt(d), 40.0) << "λ " << i << " and " << i + 1 << " of " << n;
      EXPECT_NE(series_point_type(i), series_point_type(i + 1));
    }
}

TEST(Plots, BaselinesShowEachPanelsValueAndAFarBaselineLeavesTheAxis) {
  auto trials = clean_trials();
  for (auto& t : trials)
    for (auto& [split, sc] : t.metrics) sc.micro_f1 = t.key.kind == TrialKind::scratch ? (split == EvalSplit::dev ? 0.01 : 0.02) : sc.micro_f1 + 0.4;
  RunDir dir("plot_data");
  dir.setup(trials);
  write_report(dir.path());
  std::map<std::string, std::vector<double>> base;  // label -> dev, test, drawn
  std::istringstream dat(read_file(dir.file("plots/f1_vs_lambda_baselines.dat")));
  for (std::string line; std::getline(dat, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto cells = split_csv_line(line);
    ASSERT_EQ(cells.size(), 4u) << line;
    base[cells[0]] = {num(cells[1]), num(cells[2]), num(cells[3])};
  }
  ASSERT_EQ(base.size(), 2u);
  EXPECT_NEAR(base["pretrained (λ→∞)"][0], 64.8, 1e-9);
  EXPECT_NEAR(base["pretrained (λ→∞)"][1], 62.8, 1e-9);
  EXPECT_EQ(base["pretrained (λ→∞)"][2], 1) << "drawn";
  EXPECT_EQ(base["scratch (B only)"][2], 0) << "50 points below the adapters: off the axis";
  const auto gp = read_file(dir.file("plots/f1_vs_lambda.gp"));
  // One legend serves both panels: it gives both values, never one panel's value on the other's line.
  EXPECT_TRUE(contains(gp, "title 'pretrained (λ→∞): dev 64.80, test 62.80'")) << gp;
  EXPECT_TRUE(contains(gp, "NaN with lines dt 3 lw 2 lc rgb '#2ca02c' title 'scratch (B only): dev 1.00, test 2.00 (off axis, below)'")) << gp;
  const auto at = gp.find("set yrange [");
  ASSERT_NE(at, std::string::npos) << gp;
  EXPECT_EQ(gp.substr(at, gp.find('\n', at) - at), "set yrange [45:70]") << "the adapters' band, not −10 to 100";
  // curves: epoch tics that do not run together; scratch only in the F1 panel.
  const auto curves = read_file(dir.file("plots/curves.gp"));
  EXPECT_TRUE(contains(curves, "set xtics 1\n")) << "5 epochs";
  size_t scratch_lines = 0;
  for (size_t i = curves.find("title 'scratch (B only)'"); i != std::string::npos; i = curves.find("title 'scratch (B only)'", i + 1))
    ++scratch_lines;
  EXPECT_EQ(scratch_lines, 2u) << "the F1 panel of the PNG and of the SVG, not the penalty or distance panels";
}

TEST(Report, PerClassTableShowsSupportAndSetsAsideRareClasses) {
  auto trials = clean_trials();
  for (auto& t : trials) t.test_gold_counts = {50, 20, 3, 0};  // per:title 20, org:founded_by 3, per:age none
  RunDir dir("per_class_support");
  dir.setup(trials);
  const auto md = read_file(write_report(dir.path()).report_md);
  const auto at = md.find("## Per-class F1 on B test");
  ASSERT_NE(at, std::string::npos);
  const auto section = md.substr(at, md.find("## Diagnostics") - at);
  EXPECT_TRUE(contains(section, "| class | support (test) |")) << section;
  EXPECT_TRUE(contains(section, "| per:title | 20 | ")) << section;
  EXPECT_TRUE(contains(section, "| org:founded\\_by | 3 (few) | (")) << section;
  EXPECT_TRUE(contains(section, "1 class(es) have fewer than 5 test examples")) << section;
  EXPECT_FALSE(contains(section, "| per:age |")) << "a class absent from test has no F1 to show";
  EXPECT_TRUE(contains(section, "1 class(es) with no test example are left out.")) << section;
}
