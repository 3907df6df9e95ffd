#include "report/headline.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "report/baseline_check.hpp"
#include "report/format.hpp"
#include "report/paired.hpp"

namespace anchorsweep {

namespace {

std::map<int64_t, double> by_seed(const Group& g, EvalSplit split) {
  std::map<int64_t, double> out;
  for (const TrialResult* t : g.ok) {
    auto it = t->metrics.find(split);
    if (it != t->metrics.end()) out[t->key.seed] = it->second.micro_f1;
  }
  return out;
}

double split_mean(const Group& g, EvalSplit split) { return split_stat(g, split, &Scores::micro_f1).mean; }

// "scratch on B (0.97)", with a pointer to the diagnostic when the baseline looks broken: a
// margin over a model that predicts one label says nothing about λ.
std::string baseline_name(const Group& g, const std::string& name, const std::string& tag, EvalSplit split) {
  return name + " (" + tag + fmt_pct(split_mean(g, split)) + (broken_baseline(g) ? "; it looks broken: see Diagnostics" : "") + ")";
}

std::string signed_points(double v) { return (v < 0 ? "−" : "+") + fmt_pct(std::abs(v)); }

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// "over 3 seeds", or "over 2–3 seeds" where failures left some comparisons with fewer.
std::string seeds_phrase(size_t lo, size_t hi) {
  const std::string n = lo == hi ? std::to_string(lo) : std::to_string(lo) + "–" + std::to_string(hi);
  return n + (hi == 1 ? " seed" : " seeds");
}

}  // namespace

std::string compare_to_reference(const std::vector<const Group*>& adapters, const Group& reference,
                                 const std::string& name, EvalSplit split) {
  const auto ref = by_seed(reference, split);
  std::vector<std::string> above, below, same;
  std::vector<double> above_d, below_d;
  size_t lo = SIZE_MAX, hi = 0;
  for (const Group* g : adapters) {
    const PairedDiff p = paired_difference(by_seed(*g, split), ref);
    lo = std::min(lo, p.n);
    hi = std::max(hi, p.n);
    const std::string lam = fmt_lambda(g->key.lambda);
    const std::string with_interval = lam + " (" + signed_points(p.mean) + " ± " + fmt_pct(p.half_width) + ")";
    if (!p.distinguishable()) {
      same.push_back(lam);
    } else if (p.mean > 0) {
      above.push_back(with_interval);
      above_d.push_back(p.mean);
    } else {
      below.push_back(with_interval);
      below_d.push_back(-p.mean);
    }
  }
  const std::string noise = "paired over " + seeds_phrase(lo, hi);
  auto span = [](const std::vector<double>& v) {
    const double a = *std::min_element(v.begin(), v.end()), b = *std::max_element(v.begin(), v.end());
    return fmt_pct(a) == fmt_pct(b) ? fmt_pct(a) : fmt_pct(a) + " to " + fmt_pct(b);
  };
  const size_t n = adapters.size();
  if (below.size() == n && n > 1) return "every λ is below " + name + " beyond seed noise (by " + span(below_d) + " points, " + noise + ")";
  if (above.size() == n && n > 1) return "every λ is above " + name + " beyond seed noise (by " + span(above_d) + " points, " + noise + ")";
  if (same.size() == n) return "no λ is distinguishable from " + name + ", " + noise;
  std::vector<std::string> parts;
  if (!above.empty()) parts.push_back("λ = " + join(above, ", ") + " above " + name);
  if (!below.empty()) parts.push_back("λ = " + join(below, ", ") + (above.empty() ? " below " + name : " below it"));
  if (!same.empty()) parts.push_back("λ = " + join(same, ", ") + " not distinguishable from it");
  return join(parts, "; ") + " (points, ± the 95% interval, " + noise + ")";
}

std::vector<std::string> headline(const std::vector<Group>& groups) {
  const EvalSplit split = kHeadlineSplit;
  const Group *pretrained = nullptr, *scratch = nullptr;
  std::map<std::optional<AdapterInit>, std::vector<const Group*>> by_init;
  size_t max_seeds = 0;
  for (const Group& g : groups) {
    const size_t n = split_stat(g, split, &Scores::micro_f1).n;
    if (n == 0) continue;
    max_seeds = std::max(max_seeds, n);
    if (g.key.kind == TrialKind::pretrained) pretrained = &g;
    else if (g.key.kind == TrialKind::scratch) scratch = &g;
    else if (g.key.kind == TrialKind::anchored) by_init[g.key.init].push_back(&g);
  }
  std::vector<std::string> out;
  if (by_init.empty() || (!pretrained && !scratch)) return out;
  if (max_seeds < 2) {
    out.push_back("One seed: nothing is ranked. A difference between two settings cannot be told from seed noise "
                  "without several seeds (run.seeds = [1, 2, 3] or more); the tables give each value as measured.");
    return out;
  }
  const std::string where = "On B dev micro-F1 (%; dev is the split λ is chosen on, test reports the chosen setting): ";
  for (const auto& [init, adapters] : by_init) {
    std::vector<std::string> parts;
    if (pretrained)
      parts.push_back(compare_to_reference(adapters, *pretrained, baseline_name(*pretrained, "the pretrained model alone", "λ→∞, ", split), split));
    if (scratch)
      parts.push_back(compare_to_reference(adapters, *scratch, baseline_name(*scratch, "scratch on B", "", split), split));
    out.push_back((by_init.size() > 1 ? "[init=" + name_or_empty(init) + "] " : "") + where + join(parts, "; ") + ".");
  }
  return out;
}

}  // namespace anchorsweep
