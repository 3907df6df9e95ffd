// Tests for the report module: journal (de)serialisation, the CSV tables, report.md/html and
// each diagnostic (fires on a journal crafted for it, silent on a clean one).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "common/files.hpp"
#include "posix_fs.hpp"
#include "config/config.hpp"
#include "report/compare.hpp"
#include "report/diagnostics.hpp"
#include "report/headline.hpp"
#include "report/report.hpp"
#include "report/summary_table.hpp"
#include "common/trial_result.hpp"
#include "rundir/journal.hpp"

namespace anchorsweep {
namespace {

namespace fs = anchorsweep::testing::fs;
using nlohmann::json;

// ---------- fixtures ----------

Scores make_scores(double f1, double p, double r) {
  Scores s;
  s.micro_f1 = f1;
  s.micro_p = p;
  s.micro_r = r;
  s.macro_f1 = f1 / 2;
  s.accuracy = 0.8 + f1 / 10;
  s.n = 300;
  return s;
}

// A finished trial whose numbers depend on (seed, kind, lambda) so every row is distinct.
TrialResult make_trial(int64_t seed, TrialKind kind, double lambda, const std::string& init = "random") {
  TrialResult t;
  t.key.seed = seed;
  t.key.kind = kind;
  t.key.lambda = kind == TrialKind::anchored ? lambda : 0;
  if (kind != TrialKind::scratch) t.init = parse_name<AdapterInit>(init);
  t.host = "node" + std::to_string(seed);
  t.device = "cpu";
  t.rank = seed;
  t.threads = 4;
  t.wall_s = 10.5 + seed;
  t.task = t.key.id();
  t.epochs = 5;
  t.best_epoch = kind == TrialKind::pretrained ? 0 : 2 + seed;
  const double base = kind == TrialKind::pretrained ? 0.22 : kind == TrialKind::scratch ? 0.15 : 0.21 - 0.05 * std::log10(1 + 100 * lambda);
  const double f1 = base + 0.01 * seed + (init == "anchor" ? 0.013 : 0.0);
  t.metrics[EvalSplit::dev] = make_scores(f1, f1 + 0.05, f1 - 0.03);
  t.metrics[EvalSplit::test] = make_scores(f1 - 0.02, f1 + 0.01, f1 - 0.04);
  if (kind != TrialKind::pretrained) {
    t.metrics[EvalSplit::dev_last] = make_scores(f1 - 0.01, f1, f1 - 0.02);
    t.metrics[EvalSplit::test_last] = make_scores(f1 - 0.03, f1, f1 - 0.05);
  }
  t.per_class_test_f1 = {0.9, f1, f1 / 2, 0.0};
  for (int e = 1; e <= 5; ++e) {
    EpochPoint p;
    p.epoch = e;
    p.train_ce = 1.5 / e;
    p.train_loss = p.train_ce + (kind == TrialKind::anchored ? lambda * 0.09 / e : 0.0);
    p.dev_micro_f1 = f1 * e / 5;
    p.test_micro_f1 = (f1 - 0.02) * e / 5;
    p.lr = 1e-3;
    t.curve.push_back(p);
  }
  if (kind == TrialKind::anchored) {
    Diagnostics& d = t.diag;
    const double w0 = init == "anchor" ? 0.0 : 0.3;
    d.ce_first = 1.5;
    d.penalty_first = lambda * w0 * w0;
    d.penalty_share_first = d.penalty_first / (d.ce_first + d.penalty_first);
    d.ce_last = 0.4;
    d.penalty_last = lambda * 0.01;
    d.penalty_share_last = d.penalty_last / (d.ce_last + d.penalty_last);
    d.w_dist_init = w0;
    d.w_dist_final = 0.1 + 0.5 / (1 + lambda);
    d.weights_hash = fnv1a_hex("w" + t.key.id() + init);
    d.pred_hash_dev = fnv1a_hex("pd" + t.key.id() + init);
    d.pred_hash_test = fnv1a_hex("pt" + t.key.id() + init);
  }
  return t;
}

TrialResult make_failed(int64_t seed, double lambda) {
  TrialResult t;
  t.key = TrialKey{seed, TrialKind::anchored, lambda};
  t.status = Status::failed;
  t.error = "CUDA out of memory, \"tried\" 2 GiB";
  t.init = AdapterInit::random;
  t.host = "node9";
  t.rank = 3;
  t.wall_s = 1.25;
  return t;
}

PretrainRecord make_pretrain(int64_t seed) {
  PretrainRecord p;
  p.seed = seed;
  p.host = "node1";
  p.device = "cpu";
  p.wall_s = 120;
  p.best_epoch = 7;
  p.epochs = 10;
  p.a_dev_micro_f1 = 0.6 + 0.01 * seed;
  p.examples_per_s = 1234.5;
  return p;
}

const std::vector<double> kLambdas = {0, 0.01, 1};

// The clean sweep: 2 seeds x {0, 0.01, 1} + baselines, pretrain records, one failed trial.
std::vector<TrialResult> clean_trials(const std::string& init = "random") {
  std::vector<TrialResult> ts;
  for (int64_t seed : {1, 2}) {
    for (double l : kLambdas) ts.push_back(make_trial(seed, TrialKind::anchored, l, init));
    ts.push_back(make_trial(seed, TrialKind::pretrained, 0, init == "random" ? "anchor" : init));
    ts.push_back(make_trial(seed, TrialKind::scratch, 0));
  }
  return ts;
}

std::string journal_text(const std::vector<TrialResult>& trials, bool torn_tail = true) {
  std::string s;
  for (int64_t seed : {1, 2}) s += to_json(make_pretrain(seed)).dump() + "\n";
  // An earlier attempt of s1-lam0.01 that a resume reran: the later line must win.
  TrialResult stale = make_trial(1, TrialKind::anchored, 0.01);
  stale.metrics[EvalSplit::dev].micro_f1 = 0.999;
  s += to_json(stale).dump() + "\n";
  for (const auto& t : trials) s += to_json(t).dump() + "\n";
  s += to_json(make_failed(3, 1)).dump() + "\n";
  if (torn_tail) s += R"({"type":"trial","seed":2,"kind":"anch)";
  return s;
}

const char* kRunJson = R"({"labels":["no_relation","per:title","org:founded_by","per:age"],
  "negative_label":"no_relation","ranks":2,"hosts":["node1","node2"],"devices":["cpu","cpu"],
  "versions":{"libtorch":"1.13.1","mpi":"Open MPI 4.1.4"},"started":"2024-05-01T10:00:00Z",
  "finished":null,"wall_s":null,"config_hash":"abc123","command":"anchorsweep sweep demo.toml"})";

const char* kConfig = "[run]\nname = \"demo\"\nseeds = [1, 2]\n\n[sweep]\nlambdas = [0, 0.01, 1]\n";

class RunDir {
 public:
  explicit RunDir(const std::string& name) {
    path_ = "/tmp/report_test_" + std::to_string(::getpid()) + "_" + name;
    fs::remove_all(path_);
    make_dirs(path_);
  }
  ~RunDir() {
    if (!std::getenv("KEEP_REPORT_TEST")) fs::remove_all(path_);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  std::string read(const std::string& name) const { return read_file(file(name)); }
  void write(const std::string& name, const std::string& text) const { write_file_atomic(file(name), text); }
  void setup(const std::vector<TrialResult>& trials, bool torn_tail = true) const {
    write("results.jsonl", journal_text(trials, torn_tail));
    write("run.json", kRunJson);
    write("config.toml", kConfig);
  }

 private:
  std::string path_;
};

bool have_gnuplot() {
  const char* env = std::getenv("ANCHORSWEEP_GNUPLOT");
  if (env) return ::access(env, X_OK) == 0;
  return std::system("command -v gnuplot >/dev/null 2>&1") == 0;
}

// ---------- a tiny CSV reader (RFC 4180 quotes, no embedded newlines needed) ----------

using Row = std::map<std::string, std::string>;

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') cells.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else cells.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  return cells;
}

std::vector<Row> read_csv(const std::string& text, std::vector<std::string>* header_out = nullptr) {
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  const auto header = split_csv_line(line);
  if (header_out) *header_out = header;
  std::vector<Row> rows;
  while (std::getline(in, line)) {
    auto cells = split_csv_line(line);
    EXPECT_EQ(cells.size(), header.size()) << line;
    Row r;
    for (size_t i = 0; i < header.size() && i < cells.size(); ++i) r[header[i]] = cells[i];
    rows.push_back(r);
  }
  return rows;
}

double num(const std::string& s) { return std::strtod(s.c_str(), nullptr); }

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

bool any_warning(const ReportPaths& p, const std::string& needle) {
  for (const auto& w : p.warnings)
    if (contains(w, needle)) return true;
  return false;
}

std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", 100 * v);
  return buf;
}

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
  const json j = json::parse(to_json(a).dump());
  EXPECT_EQ(j.at("type"), "pretrain");
  const PretrainRecord b = pretrain_from_json(j);
  EXPECT_EQ(b.seed, 3);
  EXPECT_EQ(b.a_dev_micro_f1, a.a_dev_micro_f1);
  EXPECT_EQ(b.examples_per_s, a.examples_per_s);
  EXPECT_EQ(b.best_epoch, a.best_epoch);
  EXPECT_EQ(b.host, a.host);
  expect_curve_eq(b.curve, a.curve);
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
  EXPECT_EQ(lines[0].rfind("every λ is below the pretrained model alone (λ→∞, ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("; λ = 0, 0.01 at or above scratch on B ("), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("λ = 1 below (by "), std::string::npos) << lines[0];
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
  EXPECT_TRUE(contains(refusal({a.path()}, out.path()), "two or more"));
  EXPECT_TRUE(contains(refusal({a.path(), b.path()}, a.path()), "one of the runs"));
  EXPECT_FALSE(file_exists(a.path() + "/report.md")) << "a refused comparison wrote into a run";
}

}  // namespace
}  // namespace anchorsweep
