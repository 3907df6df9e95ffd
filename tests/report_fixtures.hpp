// Journals, trials and CSV helpers shared by the report tests (report_test.cpp and
// report_diagnostics_test.cpp, one binary).
#pragma once

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

namespace anchorsweep::report_testing {

namespace fs = anchorsweep::testing::fs;
using nlohmann::json;

// ---------- fixtures ----------

inline Scores make_scores(double f1, double p, double r) {
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
inline TrialResult make_trial(int64_t seed, TrialKind kind, double lambda, const std::string& init = "random") {
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
  t.test_gold_counts = {50, 20, 15, 15};
  t.test_pred_counts = {60, 20, 10, 10};
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

inline TrialResult make_failed(int64_t seed, double lambda) {
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

inline PretrainRecord make_pretrain(int64_t seed) {
  PretrainRecord p;
  p.seed = seed;
  p.host = "node1";
  p.device = "cpu";
  p.wall_s = 120;
  p.best_epoch = 7;
  p.epochs = 10;
  p.a_dev_micro_f1 = 0.6 + 0.01 * seed;
  p.examples_per_s = 1234.5;
  p.step = seed == 1 ? "cuda graphs (4 widths captured, 96 steps replayed)" : "eager: ANCHORSWEEP_NO_CUDA_GRAPHS is set";
  return p;
}

const std::vector<double> kLambdas = {0, 0.01, 1};

// The clean sweep: 2 seeds x {0, 0.01, 1} + baselines, pretrain records, one failed trial.
inline std::vector<TrialResult> clean_trials(const std::string& init = "random") {
  std::vector<TrialResult> ts;
  for (int64_t seed : {1, 2}) {
    for (double l : kLambdas) ts.push_back(make_trial(seed, TrialKind::anchored, l, init));
    ts.push_back(make_trial(seed, TrialKind::pretrained, 0, init == "random" ? "anchor" : init));
    ts.push_back(make_trial(seed, TrialKind::scratch, 0));
  }
  return ts;
}

inline std::string journal_text(const std::vector<TrialResult>& trials, bool torn_tail = true) {
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

inline const char* kRunJson = R"({"labels":["no_relation","per:title","org:founded_by","per:age"],
  "negative_label":"no_relation","ranks":2,"hosts":["node1","node2"],"devices":["cpu","cpu"],
  "versions":{"libtorch":"1.13.1","mpi":"Open MPI 4.1.4"},"started":"2024-05-01T10:00:00Z",
  "finished":null,"wall_s":null,"config_hash":"abc123","command":"anchorsweep sweep demo.toml"})";

inline const char* kConfig = "[run]\nname = \"demo\"\nseeds = [1, 2]\n\n[sweep]\nlambdas = [0, 0.01, 1]\n";

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

inline bool have_gnuplot() {
  const char* env = std::getenv("ANCHORSWEEP_GNUPLOT");
  if (env) return ::access(env, X_OK) == 0;
  return std::system("command -v gnuplot >/dev/null 2>&1") == 0;
}

// ---------- a tiny CSV reader (RFC 4180 quotes, no embedded newlines needed) ----------

using Row = std::map<std::string, std::string>;

inline std::vector<std::string> split_csv_line(const std::string& line) {
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

inline std::vector<Row> read_csv(const std::string& text, std::vector<std::string>* header_out = nullptr) {
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

inline double num(const std::string& s) { return std::strtod(s.c_str(), nullptr); }

inline bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

inline bool any_warning(const ReportPaths& p, const std::string& needle) {
  for (const auto& w : p.warnings)
    if (contains(w, needle)) return true;
  return false;
}

inline std::string pct(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", 100 * v);
  return buf;
}


}  // namespace anchorsweep::report_testing
