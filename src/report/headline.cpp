#include "report/headline.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "report/format.hpp"

namespace anchorsweep {

namespace {

double test_mean(const Group& g) { return split_stat(g, EvalSplit::test, &Scores::micro_f1).mean; }

// "every λ is below X, by a to b points" / "every λ is above" / "λ = ... above (up to); ... below".
std::string against(const std::vector<const Group*>& adapters, double reference, const std::string& name) {
  std::vector<std::pair<double, double>> diff;  // (λ, points)
  for (const Group* g : adapters) diff.emplace_back(g->key.lambda, 100 * (test_mean(*g) - reference));
  auto points = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return std::string(buf);
  };
  auto span = [&](const std::vector<double>& v) {
    const double lo = *std::min_element(v.begin(), v.end()), hi = *std::max_element(v.begin(), v.end());
    return points(lo) == points(hi) ? points(lo) : points(lo) + " to " + points(hi);
  };
  std::vector<double> below, above;
  std::string below_l, above_l;
  for (const auto& [lam, d] : diff) {
    if (d < 0) {
      below.push_back(-d);
      below_l += (below_l.empty() ? "" : ", ") + fmt_lambda(lam);
    } else {
      above.push_back(d);
      above_l += (above_l.empty() ? "" : ", ") + fmt_lambda(lam);
    }
  }
  if (above.empty()) return "every λ is below " + name + ", by " + span(below) + " points";
  if (below.empty()) return "every λ is at or above " + name + ", by " + span(above) + " points";
  return "λ = " + above_l + " at or above " + name + " (by " + span(above) + " points), λ = " + below_l +
         " below (by " + span(below) + ")";
}

}  // namespace

std::vector<std::string> headline(const std::vector<Group>& groups) {
  const Group *pretrained = nullptr, *scratch = nullptr;
  std::map<std::optional<AdapterInit>, std::vector<const Group*>> by_init;
  for (const Group& g : groups) {
    if (split_stat(g, EvalSplit::test, &Scores::micro_f1).n == 0) continue;
    if (g.key.kind == TrialKind::pretrained) pretrained = &g;
    else if (g.key.kind == TrialKind::scratch) scratch = &g;
    else if (g.key.kind == TrialKind::anchored) by_init[g.key.init].push_back(&g);
  }
  std::vector<std::string> out;
  for (const auto& [init, adapters] : by_init) {
    std::string s;
    if (pretrained)
      s = against(adapters, test_mean(*pretrained), "the pretrained model alone (λ→∞, " + fmt_pct(test_mean(*pretrained)) + ")");
    if (scratch)
      s += (s.empty() ? "" : "; ") + against(adapters, test_mean(*scratch), "scratch on B (" + fmt_pct(test_mean(*scratch)) + ")");
    if (s.empty()) continue;
    out.push_back((by_init.size() > 1 ? "[init=" + name_or_empty(init) + "] " : "") + s + " (mean test micro-F1 %).");
  }
  return out;
}

}  // namespace anchorsweep
