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

// λ's own effect: λ = 0 as measured, the best λ and λ > 0 against λ = 0, each paired by seed
// (report/headline.hpp) so that nothing within seed noise reads as a ranking.
void lambda_effect(std::vector<std::string>& items, const std::string& pre,
                   const std::vector<const Group*>& gs, const Group* zero) {
  if (zero) items.push_back(pre + "λ = 0 (no penalty): " + dev_test(*zero) + ".");
  if (gs.size() >= 2) {
    bool all_same = true;
    for (const Group* g : gs) all_same = all_same && dev_mean(*g) == dev_mean(*gs.front());
    if (all_same) {
      items.push_back(pre + "every λ gives exactly the same mean dev micro-F1 (" +
                      fmt_pct(dev_mean(*gs.front())) + "): λ does nothing here; see Diagnostics for why.");
      return;
    }
  }
  size_t seeds = 0;
  for (const Group* g : gs) seeds = std::max(seeds, split_stat(*g, EvalSplit::dev, &Scores::micro_f1).n);
  if (seeds < 2) {
    items.push_back(pre + "one seed: the λ values are not ranked (a difference needs several seeds to be told from seed noise).");
    return;
  }
  const Group* best = *std::max_element(gs.begin(), gs.end(), [](const Group* a, const Group* b) {
    return dev_mean(*a) < dev_mean(*b);
  });
  std::vector<const Group*> others;
  for (const Group* g : gs)
    if (g != best) others.push_back(g);
  std::string line = pre + "highest mean dev micro-F1: λ = " + fmt_lambda(best->key.lambda) + ": " + dev_test(*best);
  if (!others.empty())
    line += "; the other λ against it: " +
            compare_to_reference(others, *best, "λ = " + fmt_lambda(best->key.lambda), EvalSplit::dev);
  items.push_back(line + ".");
  if (!zero) return;
  std::vector<const Group*> positive;
  for (const Group* g : gs)
    if (g->key.lambda > 0) positive.push_back(g);
  if (!positive.empty())
    items.push_back(pre + "λ > 0 against λ = 0 on dev: " + compare_to_reference(positive, *zero, "λ = 0", EvalSplit::dev) + ".");
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
