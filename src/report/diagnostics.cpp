#include "report/diagnostics.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "report/format.hpp"

namespace anchorsweep {

namespace {

std::vector<const Group*> anchored(const std::vector<Group>& groups) {
  std::vector<const Group*> out;
  for (const auto& g : groups)
    if (g.key.kind == TrialKind::anchored) out.push_back(&g);
  return out;
}

// Anchored ok trials of one seed and init, by lambda.
using SeedSet = std::map<std::pair<int64_t, std::optional<AdapterInit>>, std::vector<const TrialResult*>>;
SeedSet by_seed_and_init(const std::vector<Group>& groups) {
  SeedSet out;
  for (const Group* g : anchored(groups))
    for (const TrialResult* t : g->ok) out[{t->key.seed, t->init}].push_back(t);
  return out;
}

std::string lambda_list(const std::set<double>& lams) {
  std::string s;
  for (double l : lams) s += (s.empty() ? "" : ", ") + fmt_lambda(l);
  return s;
}

std::string seed_list(const std::set<int64_t>& seeds) {
  std::string s;
  for (auto v : seeds) s += (s.empty() ? "" : ", ") + std::to_string(v);
  return (seeds.size() > 1 ? "seeds " : "seed ") + s;
}

// "λ = a, b, c" -> seeds and inits where it happened.
struct Occurrences {
  std::map<std::set<double>, std::set<int64_t>> seeds;
  std::set<std::optional<AdapterInit>> inits;
  std::string describe() const {
    std::string s;
    for (const auto& [lams, sd] : seeds)
      s += (s.empty() ? "" : "; ") + seed_list(sd) + ": λ = " + lambda_list(lams);
    return s;
  }
};

std::string inits_suffix(const std::set<std::optional<AdapterInit>>& inits) {
  std::string s;
  for (const auto& i : inits)  // anchor, random
    if (i) s += (s.empty() ? "" : ", ") + std::string(name_of(*i));
  return s.empty() ? "" : " [init=" + s + "]";
}

double mean_over(const std::vector<const TrialResult*>& ts, const std::function<double(const TrialResult&)>& f) {
  double sum = 0;
  for (const TrialResult* t : ts) sum += f(*t);
  return ts.empty() ? NAN : sum / ts.size();
}

double mean_of(const std::vector<const TrialResult*>& ts, double Diagnostics::*f) {
  return ts.empty() ? 0 : mean_over(ts, [f](const TrialResult& t) { return t.diag.*f; });
}

}  // namespace

std::vector<PenaltyRow> penalty_table(const std::vector<Group>& groups) {
  std::vector<PenaltyRow> out;
  for (const Group* g : anchored(groups)) {
    if (g->ok.empty()) continue;
    PenaltyRow r;
    r.key = g->key;
    r.n = g->ok.size();
    r.ce_first = mean_of(g->ok, &Diagnostics::ce_first);
    r.penalty_first = mean_of(g->ok, &Diagnostics::penalty_first);
    r.share_first = mean_of(g->ok, &Diagnostics::penalty_share_first);
    r.ce_last = mean_of(g->ok, &Diagnostics::ce_last);
    r.penalty_last = mean_of(g->ok, &Diagnostics::penalty_last);
    r.share_last = mean_of(g->ok, &Diagnostics::penalty_share_last);
    r.w_dist_init = mean_of(g->ok, &Diagnostics::w_dist_init);
    r.w_dist_final = mean_of(g->ok, &Diagnostics::w_dist_final);
    out.push_back(r);
  }
  return out;
}

Finding check_identical_weights(const std::vector<Group>& groups) {
  const std::string title = "identical adapter weights across λ";
  Occurrences occ;
  bool checked = false;
  for (const auto& [seed_init, trials] : by_seed_and_init(groups)) {
    std::map<std::string, std::set<double>> lams_by_hash;
    for (const TrialResult* t : trials)
      if (!t->diag.weights_hash.empty()) lams_by_hash[t->diag.weights_hash].insert(t->key.lambda);
    size_t n_lams = 0;
    for (const auto& [h, lams] : lams_by_hash) n_lams += lams.size();
    if (n_lams >= 2) checked = true;
    for (const auto& [h, lams] : lams_by_hash) {
      if (lams.size() < 2) continue;
      occ.seeds[lams].insert(seed_init.first);
      occ.inits.insert(seed_init.second);
    }
  }
  if (!occ.seeds.empty())
    return {Level::warning, title,
            occ.describe() + inits_suffix(occ.inits) +
                " left bit-identical adapter weights (same weights_hash): the weight never reached "
                "the loss (penalty not added / not differentiated), so every λ trains the same model"};
  if (!checked)
    return {Level::na, "not checked: " + title, "needs two or more λ values of one seed with a weights_hash"};
  return {Level::ok, "adapter weights differ across λ", "every λ of every seed ends with its own adapter weights: the penalty reaches the weights"};
}

Finding check_same_predictions(const std::vector<Group>& groups) {
  const std::string title = "different weights, identical predictions";
  Occurrences occ;
  bool checked = false;
  for (const auto& [seed_init, trials] : by_seed_and_init(groups)) {
    struct Same {
      std::set<double> lams;
      std::set<std::string> weights;
    };
    std::map<std::pair<std::string, std::string>, Same> by_preds;
    std::set<double> all_lams;
    for (const TrialResult* t : trials) {
      if (t->diag.pred_hash_dev.empty() || t->diag.pred_hash_test.empty()) continue;
      auto& s = by_preds[{t->diag.pred_hash_dev, t->diag.pred_hash_test}];
      s.lams.insert(t->key.lambda);
      s.weights.insert(t->diag.weights_hash);
      all_lams.insert(t->key.lambda);
    }
    if (all_lams.size() >= 2) checked = true;
    for (const auto& [preds, s] : by_preds) {
      // Only the low end of the grid: several large lambdas pinned at the anchor agreeing is
      // expected, but the smallest lambda agreeing with others means the penalty is negligible.
      if (s.lams.size() < 2 || s.weights.size() < 2 || *s.lams.begin() != *all_lams.begin()) continue;
      occ.seeds[s.lams].insert(seed_init.first);
      occ.inits.insert(seed_init.second);
    }
  }
  if (!occ.seeds.empty())
    return {Level::note, title,
            occ.describe() + inits_suffix(occ.inits) +
                " end with different adapter weights but exactly the same dev and test predictions: "
                "in this run these λ values are too small to change any decision; try a wider grid "
                "(e.g. decades up to λ = 10 or 100)"};
  if (!checked) return {Level::na, "not checked: " + title, "needs two or more λ values of one seed with prediction hashes"};
  return {Level::ok, "predictions differ across λ", "the smallest λ of each seed predicts differently from every other λ"};
}

namespace {

// The penalty's share of the training loss, averaged over the epochs: (loss − CE) / loss of each
// epoch's mean. Falls back to the first and last step when the trial has no curve.
double share_over_training(const TrialResult& t) {
  double sum = 0;
  int n = 0;
  for (const EpochPoint& p : t.curve)
    if (p.train_loss > 0 && std::isfinite(p.train_loss) && std::isfinite(p.train_ce)) {
      sum += (p.train_loss - p.train_ce) / p.train_loss;
      ++n;
    }
  if (n) return sum / n;
  return (t.diag.penalty_share_first + t.diag.penalty_share_last) / 2;
}

// ||W − A|| at the middle epoch (NaN when the curve does not record it).
double mid_distance(const TrialResult& t) {
  if (t.curve.empty()) return NAN;
  return t.curve[(t.curve.size() - 1) / 2].anchor_dist;
}

struct PullRow {
  const Group* group = nullptr;
  double share_first = 0, share_mean = 0, share_last = 0, ratio_first = 0;
  double dist_init = 0, dist_mid = NAN, dist_final = 0;
  int64_t steps = 0;
  double lr = 0;
  std::optional<Optimizer> optimizer;
};


// Means over the ok seeds of every anchored λ > 0.
std::vector<PullRow> pull_rows(const std::vector<Group>& groups) {
  std::vector<PullRow> out;
  for (const Group* g : anchored(groups)) {
    if (g->ok.empty() || g->key.lambda <= 0) continue;
    PullRow r;
    r.group = g;
    r.share_first = mean_of(g->ok, &Diagnostics::penalty_share_first);
    r.share_last = mean_of(g->ok, &Diagnostics::penalty_share_last);
    r.share_mean = mean_over(g->ok, share_over_training);
    r.ratio_first = mean_over(g->ok, [](const TrialResult& t) {
      return t.diag.ce_first > 0 ? t.diag.penalty_first / t.diag.ce_first : (t.diag.penalty_first > 0 ? INFINITY : 0);
    });
    r.dist_init = mean_of(g->ok, &Diagnostics::w_dist_init);
    r.dist_final = mean_of(g->ok, &Diagnostics::w_dist_final);
    r.dist_mid = mean_over(g->ok, mid_distance);
    r.steps = g->ok.front()->diag.steps;
    r.lr = g->ok.front()->diag.lr;
    r.optimizer = g->ok.front()->diag.optimizer;
    out.push_back(r);
  }
  return out;
}

std::string label(const PullRow& r) {
  return "λ = " + fmt_lambda(r.group->key.lambda) + init_suffix(r.group->key.init);
}

}  // namespace

Finding check_penalty_dominance(const std::vector<Group>& groups) {
  const std::string title = "the anchor's pull, not B, drives training";
  std::string text;
  bool checked = false;
  for (const PullRow& r : pull_rows(groups)) {
    checked = checked || r.share_first > 0 || r.share_mean > 0;
    // The whole run, not one step: a penalty above half the loss on average over the epochs, or
    // one that starts at more than 10x the cross-entropy.
    if (!(r.share_mean > 0.5 || r.ratio_first > 10)) continue;
    text += (text.empty() ? "" : " | ") + label(r) + ": penalty share of the loss " + fmt_sig(r.share_first, 2) +
            " at the first step (" + fmt_sig(r.ratio_first, 3) + "× the cross-entropy), " + fmt_sig(r.share_mean, 2) +
            " on average over the epochs, " + fmt_sig(r.share_last, 2) + " at the last step; ||W − A||_F " +
            fmt_sig(r.dist_init, 3) + (std::isfinite(r.dist_mid) ? " → " + fmt_sig(r.dist_mid, 3) + " (mid-training)" : "") +
            " → " + fmt_sig(r.dist_final, 3);
  }
  if (text.empty()) {
    if (!checked) return {Level::na, "not checked: " + title, "the journal has no loss parts for any λ > 0"};
    return {Level::ok, "B, not the anchor's pull, drives training", "for every λ > 0 the cross-entropy outweighs the penalty over training"};
  }
  return {Level::warning, title,
          text + ". The optimizer spends these steps pulling W towards the anchor rather than fitting B "
                 "(curves.csv and the curves plot show both per epoch)"};
}

Finding check_anchor_unreached(const std::vector<Group>& groups) {
  const std::string title = "the adapter never reached its anchor";
  std::vector<const PullRow*> hits;
  const auto rows = pull_rows(groups);
  for (const PullRow& r : rows)
    if (r.share_mean > 0.5 && r.dist_init > 0 && r.dist_final > 0.5 * r.dist_init) hits.push_back(&r);
  if (hits.empty()) {
    if (rows.empty()) return {Level::na, "not checked: " + title, "needs anchored trials with λ > 0"};
    return {Level::ok, "the adapter reached its anchor where the penalty dominated", "wherever the penalty dominated, W got within half its starting distance of the anchor"};
  }
  std::string text;
  for (const PullRow* r : hits)
    text += (text.empty() ? "" : "; ") + label(*r) + ": penalty " + fmt_sig(100 * r->share_mean, 2) +
            "% of the loss over training, yet ||W − A||_F only went " + fmt_sig(r->dist_init, 3) + " → " +
            fmt_sig(r->dist_final, 3) + " (" + fmt_sig(100 * r->dist_final / r->dist_init, 2) + "% left)";
  const PullRow& r = *hits.front();
  const double lam = r.group->key.lambda;
  std::string bound;
  if (r.optimizer == Optimizer::sgd) {
    // SGD on the penalty alone: W − A ← (1 − 2·lr·λ)(W − A) per step.
    const double factor = std::pow(std::fabs(1 - 2 * r.lr * lam), static_cast<double>(r.steps));
    bound = "With SGD the penalty's own gradient shrinks W − A by a factor |1 − 2·lr·λ| per step: (1 − 2·" +
            fmt_sig(r.lr, 3) + "·" + fmt_lambda(lam) + ")^" + std::to_string(r.steps) + " = " + fmt_sig(factor, 3) +
            " over the budget, so the anchor is " + (factor > 0.5 ? "out of reach" : "reachable only as the cross-entropy allows");
  } else {
    // Adam normalises each entry's step to about lr, whatever the gradient's size.
    bound = "With Adam each entry of W moves at most about lr per step: lr × steps = " + fmt_sig(r.lr, 3) + " × " +
            std::to_string(r.steps) + " = " + fmt_sig(r.lr * static_cast<double>(r.steps), 3) +
            " per entry over the whole finetuning, while the anchor's diagonal entries start about 1 away from a "
            "random init";
  }
  text += ". The adapter spends its budget chasing an anchor it cannot reach. " + bound +
          ". Remedies: adapter.init = \"anchor\" (W starts at A: the penalty starts at 0 and only resists "
          "departures, so λ trades fit against staying put as intended); penalty.mode = \"decoupled\" (the pull "
          "W ← W − lr·λ·(W − A) acts outside Adam's normalisation, shrinking the distance by (1 − lr·λ) per step); "
          "or more finetune steps or a larger lr (lr × steps must exceed the distance per entry)";
  // Measured, when the journal holds both inits.
  const InitComparison c = compare_inits(groups);
  if (c.inits.size() >= 2) {
    const auto li = std::find(c.lambdas.begin(), c.lambdas.end(), lam) - c.lambdas.begin();
    const auto ri = std::find(c.inits.begin(), c.inits.end(), AdapterInit::random) - c.inits.begin();
    const auto ai = std::find(c.inits.begin(), c.inits.end(), AdapterInit::anchor) - c.inits.begin();
    if (li < static_cast<long>(c.lambdas.size()) && ri < static_cast<long>(c.inits.size()) &&
        ai < static_cast<long>(c.inits.size()) && c.test_f1[li][ri].n && c.test_f1[li][ai].n) {
      const double d = c.test_f1[li][ai].mean - c.test_f1[li][ri].mean;
      text += ". Measured in this run at λ = " + fmt_lambda(lam) + ": init = anchor " + fmt_pct(c.test_f1[li][ai].mean) +
              " vs init = random " + fmt_pct(c.test_f1[li][ri].mean) + " test micro-F1 (" + (d >= 0 ? "+" : "−") +
              fmt_pct(std::fabs(d)) + " points)";
    }
  }
  return {Level::warning, title, text};
}

InitComparison compare_inits(const std::vector<Group>& groups) {
  InitComparison c;
  std::set<double> lams;
  for (const Group* g : anchored(groups)) {
    if (g->key.init && std::find(c.inits.begin(), c.inits.end(), *g->key.init) == c.inits.end())
      c.inits.push_back(*g->key.init);
    lams.insert(g->key.lambda);
  }
  std::sort(c.inits.begin(), c.inits.end());  // anchor, random
  c.lambdas.assign(lams.begin(), lams.end());
  for (double l : c.lambdas) {
    std::vector<Stat> row;
    for (const auto& init : c.inits) {
      Stat s;
      for (const Group* g : anchored(groups))
        if (g->key.lambda == l && g->key.init == init) s = split_stat(*g, EvalSplit::test, &Scores::micro_f1);
      row.push_back(s);
    }
    c.test_f1.push_back(row);
  }
  return c;
}

Finding check_inits(const std::vector<Group>& groups) {
  const std::string title = "adapter init compared";
  InitComparison c = compare_inits(groups);
  if (c.inits.size() < 2) return {Level::na, "not compared: adapter inits", "only one adapter init in the journal"};
  std::string text = "both adapter inits are in the journal; mean test micro-F1 (%) per λ, init = ";
  for (size_t i = 0; i < c.inits.size(); ++i) text += (i ? " vs " : "") + std::string(name_of(c.inits[i]));
  text += ":";
  for (size_t li = 0; li < c.lambdas.size(); ++li) {
    text += (li ? ";" : "") + std::string(" λ = ") + fmt_lambda(c.lambdas[li]) + ": ";
    for (size_t i = 0; i < c.inits.size(); ++i) text += (i ? " vs " : "") + fmt_pct(c.test_f1[li][i].mean);
  }
  return {Level::note, title, text};
}

Finding check_divergence(const std::vector<Group>& groups) {
  const std::string title = "training diverged";
  std::vector<const TrialResult*> bad;
  for (const auto& g : groups)
    for (const auto* t : g.failed)
      if (t->status == Status::diverged) bad.push_back(t);
  if (bad.empty()) return {Level::ok, "no divergence", "every loss and weight stayed finite"};
  std::set<double> lams;
  for (const auto* t : bad)
    if (t->key.kind == TrialKind::anchored) lams.insert(t->key.lambda);
  std::string text = std::to_string(bad.size()) + " trial(s) diverged and are left out of every table (first: " +
                     bad.front()->key.id() + ", " + bad.front()->error + ")";
  if (!lams.empty())
    text += ". At λ = " + lambda_list(lams) + " the penalty's gradient 2λ(W − A) is large: with SGD one step " +
            "multiplies W − A by (1 − 2·lr·λ), which grows without bound once lr·λ > 1, so lower finetune.lr, " +
            "use Adam (its step is bounded by lr), or try penalty.mode = \"decoupled\"";
  else
    text += "; lower the learning rate or set grad_clip";
  return {Level::warning, title, text};
}

std::vector<Finding> diagnose(const std::vector<Group>& groups) {
  return {check_divergence(groups), check_identical_weights(groups), check_same_predictions(groups),
          check_penalty_dominance(groups), check_anchor_unreached(groups), check_inits(groups)};
}

}  // namespace anchorsweep
