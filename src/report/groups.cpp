#include "report/groups.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <tuple>

#include "report/format.hpp"

namespace anchorsweep {

bool group_less(const GroupKey& a, const GroupKey& b) {
  return std::make_tuple(a.kind, a.lambda, a.init) < std::make_tuple(b.kind, b.lambda, b.init);
}

GroupKey group_of(const TrialResult& t) {
  return GroupKey{t.key.kind, t.key.kind == TrialKind::anchored ? t.key.lambda : 0.0, t.init};
}

bool trial_less(const TrialResult& a, const TrialResult& b) {
  GroupKey ga = group_of(a), gb = group_of(b);
  if (group_less(ga, gb)) return true;
  if (group_less(gb, ga)) return false;
  return a.key.seed < b.key.seed;
}

std::vector<Group> group_trials(const std::vector<TrialResult>& trials) {
  std::vector<const TrialResult*> sorted;
  for (const auto& t : trials) sorted.push_back(&t);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const TrialResult* a, const TrialResult* b) { return trial_less(*a, *b); });
  std::vector<Group> out;
  for (const TrialResult* t : sorted) {
    GroupKey k = group_of(*t);
    if (out.empty() || !(out.back().key == k)) out.push_back(Group{k, {}, {}});
    (t->status == Status::ok ? out.back().ok : out.back().failed).push_back(t);
  }
  return out;
}

std::string group_label(const GroupKey& k, bool with_init) {
  std::string s;
  if (k.kind == TrialKind::anchored) s = "λ = " + fmt_lambda(k.lambda);
  else if (k.kind == TrialKind::pretrained) s = "pretrained (λ→∞)";
  else s = "scratch (B only)";
  if (with_init && k.kind != TrialKind::scratch) s += init_suffix(k.init);
  return s;
}

std::string init_suffix(const std::optional<AdapterInit>& init) {
  return init ? std::string(" [init=") + name_of(*init) + "]" : "";
}

Stat describe(const std::vector<double>& xs) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Stat s{xs.size(), nan, nan, nan, nan};
  if (xs.empty()) return s;
  // Sum the offsets from the first value: identical values give exactly that value and std 0.
  double offsets = 0;
  s.min = s.max = xs[0];
  for (double x : xs) {
    offsets += x - xs[0];
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
  }
  s.mean = xs[0] + offsets / xs.size();
  double ss = 0;
  for (double x : xs) ss += (x - s.mean) * (x - s.mean);
  s.std = xs.size() > 1 ? std::sqrt(ss / (xs.size() - 1)) : 0.0;
  return s;
}

std::vector<double> split_values(const Group& g, EvalSplit split, double Scores::*field) {
  std::vector<double> out;
  for (const TrialResult* t : g.ok) {
    auto it = t->metrics.find(split);
    if (it != t->metrics.end()) out.push_back(it->second.*field);
  }
  return out;
}

Stat split_stat(const Group& g, EvalSplit split, double Scores::*field) {
  return describe(split_values(g, split, field));
}

std::vector<EvalSplit> group_splits(const Group& g) {
  std::set<EvalSplit> seen;  // in the enum's order
  for (const TrialResult* t : g.ok)
    for (const auto& [split, s] : t->metrics) seen.insert(split);
  return {seen.begin(), seen.end()};
}

bool has_several_inits(const std::vector<Group>& groups) {
  std::set<std::optional<AdapterInit>> inits;
  for (const auto& g : groups)
    if (g.key.kind == TrialKind::anchored) inits.insert(g.key.init);
  return inits.size() > 1;
}

}  // namespace anchorsweep
