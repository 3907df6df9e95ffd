// Diagnostics: the loss parts and distances behind each lambda, and the checks that tell the
// causes of "every lambda gives the same F1" apart.
#include "report/content.hpp"
#include "report/format.hpp"

namespace anchorsweep {

void add_diagnostics(Document& d, const ReportInputs& in) {
  const bool several = has_several_inits(in.groups);
  d.heading(2, "Diagnostics");
  d.paragraph("Each anchored trial logs the cross-entropy (CE) and the penalty λ·||W − A||_F² at its "
              "first and last training step, and the adapter's distance to the anchor A = [I | 0] "
              "before and after finetuning. Means over seeds:");
  Table t;
  t.header = {"setting", "seeds", "CE first", "penalty first", "share first", "CE last",
              "penalty last", "share last", "||W_init − A||_F", "||W_final − A||_F"};
  for (const PenaltyRow& r : penalty_table(in.groups))
    t.rows.push_back({group_label(r.key, several), std::to_string(r.n), fmt_sig(r.ce_first, 4),
                      fmt_sig(r.penalty_first, 4), fmt_sig(r.share_first, 3), fmt_sig(r.ce_last, 4),
                      fmt_sig(r.penalty_last, 4), fmt_sig(r.share_last, 3), fmt_sig(r.w_dist_init, 4),
                      fmt_sig(r.w_dist_final, 4)});
  if (t.rows.empty()) d.paragraph("No anchored trial has finished.");
  else d.table(t);

  d.heading(3, "Checks");
  d.paragraph("Identical weights across λ mean the penalty never reached the gradient; different "
              "weights with identical predictions mean the penalty is real but too weak to change "
              "any decision; a penalty above half the loss over training (or far above the CE at the "
              "start) means the anchor's pull, not B, drives training; and if W then stays far from "
              "the anchor, the budget could never reach it: the adapter spent finetuning on the pull.");
  for (const Finding& f : in.findings) d.callout(f.level, f.title, f.text);

  const InitComparison c = compare_inits(in.groups);
  if (c.inits.size() < 2) return;
  d.heading(3, "Adapter init compared (mean test micro-F1, %)");
  Table ct;
  ct.header = {"λ"};
  for (AdapterInit i : c.inits) ct.header.push_back(std::string("init=") + name_of(i));
  for (size_t li = 0; li < c.lambdas.size(); ++li) {
    std::vector<std::string> row = {fmt_lambda(c.lambdas[li])};
    for (const Stat& s : c.test_f1[li]) row.push_back(pct_mean_std(s));
    ct.rows.push_back(row);
  }
  d.table(ct);
}

}  // namespace anchorsweep
