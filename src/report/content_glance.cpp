// "At a glance": how lambda moves micro-F1, against lambda = 0 and the baselines, and the
// diagnostics that fired (the "why").
#include <algorithm>
#include <cmath>
#include <map>

#include "report/content.hpp"
#include "report/format.hpp"
#include "report/headline.hpp"

namespace anchorsweep {

namespace {

std::string dev_test(const Group& g) {
  return "dev " + pct_mean_std(split_stat(g, EvalSplit::dev, &Scores::micro_f1)) + ", test " +
         pct_mean_std(split_stat(g, EvalSplit::test, &Scores::micro_f1)) + " (micro-F1 %, " +
         std::to_string(g.ok.size()) + (g.ok.size() == 1 ? " seed)" : " seeds)");
}

double dev_mean(const Group& g) { return split_stat(g, EvalSplit::dev, &Scores::micro_f1).mean; }

std::string points(double v) {  // signed difference in percentage points
  return (v < 0 ? "−" : "+") + fmt_pct(std::abs(v));
}

void lambda_effect(std::vector<std::string>& items, const std::string& pre,
                   const std::vector<const Group*>& gs, const Group* zero) {
  if (zero) items.push_back(pre + "λ = 0 (no penalty): " + dev_test(*zero) + ".");
  const Group* best = *std::max_element(gs.begin(), gs.end(), [](const Group* a, const Group* b) {
    return dev_mean(*a) < dev_mean(*b);
  });
  items.push_back(pre + "best λ by mean dev micro-F1: λ = " + fmt_lambda(best->key.lambda) + ": " +
                  dev_test(*best) + ".");
  if (gs.size() >= 2) {
    bool all_same = true;
    for (const Group* g : gs) all_same = all_same && dev_mean(*g) == dev_mean(*gs.front());
    if (all_same) {
      items.push_back(pre + "every λ gives exactly the same mean dev micro-F1 (" +
                      fmt_pct(dev_mean(*gs.front())) + "): λ does nothing here; see Diagnostics for why.");
      return;
    }
  }
  if (!zero) return;
  std::vector<double> deltas;
  for (const Group* g : gs)
    if (g->key.lambda > 0) deltas.push_back(dev_mean(*g) - dev_mean(*zero));
  if (deltas.empty()) return;
  const double lo = *std::min_element(deltas.begin(), deltas.end());
  const double hi = *std::max_element(deltas.begin(), deltas.end());
  const auto below = std::count_if(deltas.begin(), deltas.end(), [](double v) { return v < 0; });
  std::string s = pre;
  if (below == static_cast<long>(deltas.size()))
    s += "every λ > 0 lowers mean dev micro-F1 against λ = 0, by " + fmt_pct(-hi) + " to " + fmt_pct(-lo) +
         " points.";
  else if (below == 0 && lo > 0)
    s += "every λ > 0 raises mean dev micro-F1 against λ = 0, by " + fmt_pct(lo) + " to " + fmt_pct(hi) +
         " points.";
  else
    s += "λ > 0 moves mean dev micro-F1 against λ = 0 by " + points(lo) + " to " + points(hi) +
         " points (" + std::to_string(below) + " of " + std::to_string(deltas.size()) + " lower).";
  items.push_back(s);
}

}  // namespace

void add_glance(Document& d, const ReportInputs& in) {
  d.heading(2, "At a glance");
  for (const auto& w : in.input_warnings) d.callout(Level::note, "input", w);

  std::map<std::optional<AdapterInit>, std::vector<const Group*>> by_init;
  for (const Group& g : in.groups)
    if (g.key.kind == TrialKind::anchored && split_stat(g, EvalSplit::dev, &Scores::micro_f1).n > 0) by_init[g.key.init].push_back(&g);

  std::vector<std::string> items = headline(in.groups);  // against λ → ∞ and scratch first
  for (const auto& [init, gs] : by_init)
    lambda_effect(items, by_init.size() > 1 ? "[init=" + name_or_empty(init) + "] " : "", gs, zero_group(in.groups, init));
  if (by_init.empty()) items.push_back("no anchored trial has finished yet.");
  for (const Group& g : in.groups)
    if (g.key.kind != TrialKind::anchored && !g.ok.empty())
      items.push_back(group_label(g.key, false) + ": " + dev_test(g) + ".");

  size_t failed = 0;
  for (const auto& t : in.journal.trials) failed += t.status != Status::ok;
  if (failed)
    items.push_back(std::to_string(failed) + " of " + std::to_string(in.journal.trials.size()) +
                    " trials failed (see Run facts); they are left out of every mean.");
  d.bullets(items);

  bool any = false;
  for (const auto& f : in.findings)
    if (f.level == Level::warning || f.level == Level::note) {
      d.callout(f.level, f.title, f.text);
      any = true;
    }
  if (!any) d.paragraph("No diagnostic fired (see Diagnostics for the checks that ran).");
}

}  // namespace anchorsweep
