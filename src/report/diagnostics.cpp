#include "report/diagnostics.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "report/format.hpp"

namespace anchorsweep {

namespace {

std::vector<const Group*> anchored(const std::vector<Group>& groups) {
  std::vector<const Group*> out;
  for (const auto& g : groups)
    if (g.key.kind == "anchored") out.push_back(&g);
  return out;
}

// Anchored ok trials of one seed and init, by lambda.
using SeedSet = std::map<std::pair<int64_t, std::string>, std::vector<const TrialResult*>>;
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
  std::set<std::string> inits;
  std::string describe() const {
    std::string s;
    for (const auto& [lams, sd] : seeds)
      s += (s.empty() ? "" : "; ") + seed_list(sd) + ": λ = " + lambda_list(lams);
    return s;
  }
};

std::string init_suffix(const std::set<std::string>& inits) {
  std::string s;
  for (const auto& i : inits)
    if (!i.empty()) s += (s.empty() ? "" : ", ") + i;
  return s.empty() ? "" : " [init=" + s + "]";
}

double mean_of(const std::vector<const TrialResult*>& ts, double Diagnostics::*f) {
  double sum = 0;
  for (const TrialResult* t : ts) sum += t->diag.*f;
  return ts.empty() ? 0 : sum / ts.size();
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
    return {"WARNING", title,
            occ.describe() + init_suffix(occ.inits) +
                " left bit-identical adapter weights (same weights_hash): the weight never reached "
                "the loss (penalty not added / not differentiated), so every λ trains the same model"};
  if (!checked)
    return {"N/A", title, "needs two or more λ values of one seed with a weights_hash"};
  return {"OK", title, "every λ of every seed ends with its own adapter weights: the penalty reaches the weights"};
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
    return {"NOTE", title,
            occ.describe() + init_suffix(occ.inits) +
                " end with different adapter weights but exactly the same dev and test predictions: "
                "the lambda values are too small to matter on this data (seen on real spam data at "
                "lambda = 0, 0.01, 0.05); try a wider grid (e.g. decades up to λ = 10 or 100)"};
  if (!checked) return {"N/A", title, "needs two or more λ values of one seed with prediction hashes"};
  return {"OK", title, "the smallest λ of each seed predicts differently from every other λ"};
}

Finding check_penalty_dominance(const std::vector<Group>& groups) {
  const std::string title = "penalty dwarfs the cross-entropy at the start";
  std::map<std::string, std::vector<std::string>> hits;  // init -> "λ (×ratio, n/m seeds)"
  std::map<std::string, std::vector<double>> dist;       // init -> w_dist_init of the hits
  bool checked = false;
  for (const Group* g : anchored(groups)) {
    std::vector<double> ratios;
    for (const TrialResult* t : g->ok) {
      const Diagnostics& d = t->diag;
      if (d.ce_first > 0 || d.penalty_first > 0) checked = true;
      if (d.penalty_first > 10 * d.ce_first && d.penalty_first > 0) {
        ratios.push_back(d.ce_first > 0 ? d.penalty_first / d.ce_first : INFINITY);
        dist[g->key.init].push_back(d.w_dist_init);
      }
    }
    if (ratios.empty()) continue;
    hits[g->key.init].push_back(fmt_lambda(g->key.lambda) + " (penalty = " +
                                fmt_sig(describe(ratios).mean, 3) + "× CE, " +
                                std::to_string(ratios.size()) + "/" + std::to_string(g->ok.size()) +
                                " seeds)");
  }
  if (hits.empty()) {
    if (!checked) return {"N/A", title, "the journal has no first-step loss parts (diag.ce_first / penalty_first)"};
    return {"OK", title, "for every λ the first-step penalty is at most 10× the cross-entropy"};
  }
  std::string text;
  for (const auto& [init, items] : hits) {
    std::string lams;
    for (const auto& s : items) lams += (lams.empty() ? "" : ", ") + s;
    const double w = describe(dist[init]).mean;
    text += (text.empty() ? "" : " | ") + std::string("at the first step λ·||W − A||² > 10 × cross-entropy for λ = ") +
            lams + (init.empty() ? "" : " [init=" + init + "]") + ": ";
    if (init == "random")
      text += "with init=random the adapter starts far from the anchor (||W_init − A||_F = " +
              fmt_sig(w, 3) + ", squared " + fmt_sig(w * w, 3) +
              "), so the penalty dominates the loss and drags W to the anchor before it learns B; "
              "use adapter.init = \"anchor\" (W starts at A, penalty 0) or a smaller λ";
    else
      text += "the penalty dominates the loss (||W_init − A||_F = " + fmt_sig(w, 3) +
              ") and drags W to the anchor before it learns B; use a smaller λ";
  }
  return {"WARNING", title, text};
}

InitComparison compare_inits(const std::vector<Group>& groups) {
  InitComparison c;
  std::set<std::string> inits;
  std::set<double> lams;
  for (const Group* g : anchored(groups)) {
    inits.insert(g->key.init);
    lams.insert(g->key.lambda);
  }
  c.inits.assign(inits.begin(), inits.end());
  c.lambdas.assign(lams.begin(), lams.end());
  for (double l : c.lambdas) {
    std::vector<Stat> row;
    for (const auto& init : c.inits) {
      Stat s;
      for (const Group* g : anchored(groups))
        if (g->key.lambda == l && g->key.init == init) s = split_stat(*g, "test", &Scores::micro_f1);
      row.push_back(s);
    }
    c.test_f1.push_back(row);
  }
  return c;
}

Finding check_inits(const std::vector<Group>& groups) {
  const std::string title = "adapter init compared";
  InitComparison c = compare_inits(groups);
  if (c.inits.size() < 2) return {"N/A", title, "only one adapter init in the journal"};
  std::string text = "both adapter inits are in the journal; mean test micro-F1 (%) per λ, init = ";
  for (size_t i = 0; i < c.inits.size(); ++i) text += (i ? " vs " : "") + c.inits[i];
  text += ":";
  for (size_t li = 0; li < c.lambdas.size(); ++li) {
    text += (li ? ";" : "") + std::string(" λ = ") + fmt_lambda(c.lambdas[li]) + ": ";
    for (size_t i = 0; i < c.inits.size(); ++i) text += (i ? " vs " : "") + fmt_pct(c.test_f1[li][i].mean);
  }
  return {"NOTE", title, text};
}

Finding check_divergence(const std::vector<Group>& groups) {
  const std::string title = "training diverged";
  std::vector<const TrialResult*> bad;
  for (const auto& g : groups)
    for (const auto* t : g.failed)
      if (t->status == Status::diverged) bad.push_back(t);
  if (bad.empty()) return {"OK", title, "every loss and weight stayed finite"};
  std::set<double> lams;
  for (const auto* t : bad)
    if (t->key.kind == "anchored") lams.insert(t->key.lambda);
  std::string text = std::to_string(bad.size()) + " trial(s) diverged and are left out of every table (first: " +
                     bad.front()->key.id() + ", " + bad.front()->error + ")";
  if (!lams.empty())
    text += ". At λ = " + lambda_list(lams) + " the penalty's gradient 2λ(W − A) is large: with SGD one step " +
            "multiplies W − A by (1 − 2·lr·λ), which grows without bound once lr·λ > 1, so lower finetune.lr, " +
            "use Adam (its step is bounded by lr), or try penalty.mode = \"decoupled\"";
  else
    text += "; lower the learning rate or set grad_clip";
  return {"WARNING", title, text};
}

std::vector<Finding> diagnose(const std::vector<Group>& groups) {
  return {check_divergence(groups), check_identical_weights(groups), check_same_predictions(groups),
          check_penalty_dominance(groups), check_inits(groups)};
}

}  // namespace anchorsweep
