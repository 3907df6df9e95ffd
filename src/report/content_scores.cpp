// Scores: micro-F1 against lambda (figure + table), full score tables per split, best vs last
// epoch, and the learning curves.
#include <cmath>
#include <map>

#include "report/content.hpp"
#include "report/format.hpp"

namespace anchorsweep {

namespace {

std::map<std::pair<std::optional<AdapterInit>, double>, const PenaltyRow*> index_rows(const std::vector<PenaltyRow>& rows) {
  std::map<std::pair<std::optional<AdapterInit>, double>, const PenaltyRow*> out;
  for (const auto& r : rows) out[{r.key.init, r.key.lambda}] = &r;
  return out;
}

void f1_vs_lambda(Document& d, const ReportInputs& in, bool several) {
  d.heading(2, "micro-F1 against λ");
  add_figure(d, in, "f1_vs_lambda");
  const auto rows = penalty_table(in.groups);
  const auto by_key = index_rows(rows);
  Table t;
  t.header = {"setting", "seeds", "dev micro-F1", "test micro-F1", "Δ dev vs λ = 0",
              "penalty share first → last step", "||W − A||_F init → final"};
  for (const Group& g : in.groups) {
    std::vector<std::string> r = {group_label(g.key, several), seeds_cell(g),
                                  pct_mean_std(split_stat(g, EvalSplit::dev, &Scores::micro_f1)),
                                  pct_mean_std(split_stat(g, EvalSplit::test, &Scores::micro_f1)), "", "", ""};
    if (g.key.kind == TrialKind::anchored) {
      const Group* zero = zero_group(in.groups, g.key.init);
      const Stat dv = split_stat(g, EvalSplit::dev, &Scores::micro_f1);
      if (zero && zero != &g && dv.n) {
        const Stat z = split_stat(*zero, EvalSplit::dev, &Scores::micro_f1);
        if (z.n) r[4] = (dv.mean < z.mean ? "−" : "+") + fmt_pct(std::abs(dv.mean - z.mean));
      }
      if (auto it = by_key.find({g.key.init, g.key.lambda}); it != by_key.end()) {
        const PenaltyRow& p = *it->second;
        r[5] = fmt_sig(p.share_first, 3) + " → " + fmt_sig(p.share_last, 3);
        r[6] = fmt_sig(p.w_dist_init, 3) + " → " + fmt_sig(p.w_dist_final, 3);
      }
    }
    t.rows.push_back(r);
  }
  d.paragraph("micro-F1 in % (negative label excluded), mean ± sample std over seeds. Δ in percentage "
              "points. The penalty share is λ·||W − A||² / (CE + λ·||W − A||²), mean over seeds.");
  d.table(t);
}

void score_tables(Document& d, const ReportInputs& in, bool several) {
  d.heading(2, "Scores per setting");
  d.paragraph("All scores in %: mean ± sample std over seeds (min–max). Micro scores exclude the "
              "negative label; macro-F1 averages the positive classes. \"best epoch\" is the mean "
              "epoch with the best B-dev micro-F1 (0 for the frozen pretrained baseline).");
  const std::pair<EvalSplit, const char*> splits[] = {{EvalSplit::dev, "B dev (best epoch)"},
                                                  {EvalSplit::test, "B test (at the best dev epoch)"}};
  for (const auto& [split, title] : splits) {
    d.heading(3, title);
    Table t;
    t.header = {"setting", "seeds", "micro-F1", "micro-P", "micro-R", "macro-F1", "best epoch"};
    for (const Group& g : in.groups) {
      std::vector<double> epochs;
      for (const TrialResult* tr : g.ok)
        if (tr->metrics.count(split)) epochs.push_back(static_cast<double>(tr->best_epoch));
      const Stat e = describe(epochs);
      t.rows.push_back({group_label(g.key, several), seeds_cell(g),
                        pct_full(split_stat(g, split, &Scores::micro_f1)),
                        pct_full(split_stat(g, split, &Scores::micro_p)),
                        pct_full(split_stat(g, split, &Scores::micro_r)),
                        pct_mean_std(split_stat(g, split, &Scores::macro_f1)),
                        e.n ? fmt_sig(e.mean, 3) : "–"});
    }
    d.table(t);
  }

  bool has_last = false;
  for (const auto& tr : in.journal.trials) has_last |= tr.metrics.count(EvalSplit::dev_last) > 0;
  if (!has_last) return;
  d.heading(3, "Best epoch against last epoch (micro-F1)");
  Table t;
  t.header = {"setting", "dev at best epoch", "dev at last epoch", "test at best epoch", "test at last epoch"};
  for (const Group& g : in.groups)
    t.rows.push_back({group_label(g.key, several), pct_mean_std(split_stat(g, EvalSplit::dev, &Scores::micro_f1)),
                      pct_mean_std(split_stat(g, EvalSplit::dev_last, &Scores::micro_f1)),
                      pct_mean_std(split_stat(g, EvalSplit::test, &Scores::micro_f1)),
                      pct_mean_std(split_stat(g, EvalSplit::test_last, &Scores::micro_f1))});
  d.table(t);
}

}  // namespace

void add_scores(Document& d, const ReportInputs& in) {
  const bool several = has_several_inits(in.groups);
  f1_vs_lambda(d, in, several);
  score_tables(d, in, several);
  d.heading(2, "Learning curves");
  d.paragraph("Left: B-dev micro-F1 per epoch, mean over seeds, one line per λ (colour and "
              "marker change with λ: blue = smallest, through purple and red, to orange = largest) and the "
              "scratch baseline. Middle: the penalty's share of the mean "
              "training loss per epoch; a share near 1 means the model is mostly pulled to the anchor. "
              "Right: the adapter's distance to the anchor ||W − A||_F after each epoch; a line that "
              "stays high while the share stays near 1 is an adapter chasing an anchor it cannot reach.");
  add_figure(d, in, "curves");
}

}  // namespace anchorsweep
