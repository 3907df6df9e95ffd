#include "report/groups.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <tuple>

#include "report/format.hpp"

namespace anchorsweep {

int kind_rank(const std::string& kind) {
  if (kind == "anchored") return 0;
  if (kind == "pretrained") return 1;
  if (kind == "scratch") return 2;
  return 3;
}

bool group_less(const GroupKey& a, const GroupKey& b) {
  return std::make_tuple(kind_rank(a.kind), a.kind, a.lambda, a.init) <
         std::make_tuple(kind_rank(b.kind), b.kind, b.lambda, b.init);
}

GroupKey group_of(const TrialResult& t) {
  return GroupKey{t.key.kind, t.key.kind == "anchored" ? t.key.lambda : 0.0, t.init};
}

static int split_rank(const std::string& s) {
  static const char* order[] = {"dev", "test", "dev_last", "test_last"};
  for (int i = 0; i < 4; ++i)
    if (s == order[i]) return i;
  return 4;
}

bool split_less(const std::string& a, const std::string& b) {
  return std::make_pair(split_rank(a), a) < std::make_pair(split_rank(b), b);
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
  if (k.kind == "anchored") s = "λ = " + fmt_lambda(k.lambda);
  else if (k.kind == "pretrained") s = "pretrained (λ→∞)";
  else if (k.kind == "scratch") s = "scratch (B only)";
  else s = k.kind;
  if (with_init && k.kind != "scratch" && !k.init.empty()) s += " [init=" + k.init + "]";
  return s;
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

std::vector<double> split_values(const Group& g, const std::string& split, double Scores::*field) {
  std::vector<double> out;
  for (const TrialResult* t : g.ok) {
    auto it = t->metrics.find(split);
    if (it != t->metrics.end()) out.push_back(it->second.*field);
  }
  return out;
}

Stat split_stat(const Group& g, const std::string& split, double Scores::*field) {
  return describe(split_values(g, split, field));
}

std::vector<std::string> group_splits(const Group& g) {
  std::set<std::string> seen;
  for (const TrialResult* t : g.ok)
    for (const auto& [split, s] : t->metrics) seen.insert(split);
  std::vector<std::string> out(seen.begin(), seen.end());
  std::sort(out.begin(), out.end(), split_less);
  return out;
}

bool has_several_inits(const std::vector<Group>& groups) {
  std::set<std::string> inits;
  for (const auto& g : groups)
    if (g.key.kind == "anchored") inits.insert(g.key.init);
  return inits.size() > 1;
}

}  // namespace anchorsweep
