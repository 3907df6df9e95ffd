// Per-class F1 on B test: the best lambda against lambda = 0 (and the baselines).
#include <algorithm>
#include <cmath>

#include "report/content.hpp"
#include "report/format.hpp"

namespace anchorsweep {

namespace {

constexpr int64_t kFewExamples = 5;

// Mean over the group's seeds of per-class test F1 for class c; NaN when no seed has it.
Stat class_stat(const Group& g, size_t c) {
  std::vector<double> xs;
  for (const TrialResult* t : g.ok)
    if (c < t->per_class_test_f1.size()) xs.push_back(t->per_class_test_f1[c]);
  return describe(xs);
}

// Gold count of class c in B test (the same in every trial); -1 when the journal has none (before 0.2).
int64_t support(const std::vector<const Group*>& cols, size_t c) {
  for (const Group* g : cols)
    for (const TrialResult* t : g->ok)
      if (c < t->test_gold_counts.size()) return t->test_gold_counts[c];
  return -1;
}

bool has_per_class(const Group& g) {
  for (const TrialResult* t : g.ok)
    if (!t->per_class_test_f1.empty()) return true;
  return false;
}

}  // namespace

void add_per_class(Document& d, const ReportInputs& in) {
  d.heading(2, "Per-class F1 on B test");
  const Group* best = nullptr;
  for (const Group& g : in.groups) {
    if (g.key.kind != TrialKind::anchored || !has_per_class(g)) continue;
    const double m = split_stat(g, EvalSplit::dev, &Scores::micro_f1).mean;
    if (!best || m > split_stat(*best, EvalSplit::dev, &Scores::micro_f1).mean) best = &g;
  }
  if (!best) {
    d.paragraph("No anchored trial reports per-class F1.");
    return;
  }
  const bool several = has_several_inits(in.groups);
  std::vector<const Group*> cols = {best};
  const Group* zero = zero_group(in.groups, best->key.init);
  if (zero && zero != best && has_per_class(*zero)) cols.push_back(zero);
  for (const Group& g : in.groups)
    if (g.key.kind != TrialKind::anchored && has_per_class(g)) cols.push_back(&g);

  size_t n_classes = in.run.labels.size();
  for (const Group* g : cols)
    for (const TrialResult* t : g->ok) n_classes = std::max(n_classes, t->per_class_test_f1.size());

  Table t;
  t.header = {"class", "support (test)"};
  for (const Group* g : cols) t.header.push_back(group_label(g->key, several) + (g == best ? " (best)" : ""));
  const bool delta = cols.size() > 1 && cols[1] == zero;
  if (delta) t.header.push_back("Δ best − λ = 0");
  // A class with a handful of test examples moves its F1 by tens of points per example: its
  // numbers are shown in brackets and no Δ is given; a class absent from test is left out.
  size_t absent = 0, few = 0;
  for (size_t c = 0; c < n_classes; ++c) {
    const std::string name = c < in.run.labels.size() ? in.run.labels[c] : "class " + std::to_string(c);
    if (!in.run.negative_label.empty() && name == in.run.negative_label) continue;
    const int64_t n = support(cols, c);
    if (n == 0) {
      ++absent;
      continue;
    }
    const bool too_few = n > 0 && n < kFewExamples;
    few += too_few;
    std::vector<std::string> row = {name, n < 0 ? "–" : std::to_string(n) + (too_few ? " (few)" : "")};
    for (const Group* g : cols) row.push_back(too_few ? "(" + fmt_pct(class_stat(*g, c).mean) + ")" : fmt_pct(class_stat(*g, c).mean));
    if (delta && too_few) {
      row.push_back("–");
    } else if (delta) {
      const double v = class_stat(*best, c).mean - class_stat(*zero, c).mean;
      row.push_back(std::isnan(v) ? "–" : (v < 0 ? "−" : "+") + fmt_pct(std::abs(v)));
    }
    t.rows.push_back(row);
  }
  std::string text = "One-vs-rest F1 in %, mean over seeds; the best λ has the highest mean B-dev micro-F1 "
                     "among the anchored settings" +
                     std::string(in.run.negative_label.empty() ? "." : "; the negative label (" + in.run.negative_label +
                                                                         ") is left out.") +
                     " Support is the class's gold count in B test.";
  if (few)
    text += " " + std::to_string(few) + " class(es) have fewer than " + std::to_string(kFewExamples) +
            " test examples: their F1 is in brackets and not compared (one example moves it by " +
            std::to_string(100 / kFewExamples) + " points or more).";
  if (absent) text += " " + std::to_string(absent) + " class(es) with no test example are left out.";
  d.paragraph(text);
  d.table(t);
}

}  // namespace anchorsweep
