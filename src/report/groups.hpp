// Grouping trials into settings (kind, lambda, init) and summary statistics over seeds.
#pragma once

#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "common/trial_result.hpp"

namespace anchorsweep {

// One setting of the sweep. lambda is 0 for the baselines.
struct GroupKey {
  TrialKind kind = TrialKind::anchored;
  double lambda = 0;
  std::optional<AdapterInit> init;
  bool operator==(const GroupKey& o) const {
    return kind == o.kind && lambda == o.lambda && init == o.init;
  }
};

// anchored < pretrained < scratch, then lambda, then init (none first).
bool group_less(const GroupKey& a, const GroupKey& b);
GroupKey group_of(const TrialResult& t);

// Trials sorted like the CSV rows: group, then seed.
bool trial_less(const TrialResult& a, const TrialResult& b);

struct Group {
  GroupKey key;
  std::vector<const TrialResult*> ok;      // status == Status::ok, sorted by seed
  std::vector<const TrialResult*> failed;
};

// Sorted by group_less. Pointers refer into `trials`, which must outlive the groups
// (a temporary is refused at compile time).
std::vector<Group> group_trials(const std::vector<TrialResult>& trials);
std::vector<Group> group_trials(std::vector<TrialResult>&&) = delete;

// "λ = 0.01", "pretrained (λ→∞)", "scratch (B only)"; with_init adds " [init=random]".
std::string group_label(const GroupKey& k, bool with_init);

struct Stat {
  size_t n = 0;
  // NaN when n == 0; std is the sample std (n-1), 0 when n == 1.
  double mean = std::numeric_limits<double>::quiet_NaN(), std = mean, min = mean, max = mean;
};
Stat describe(const std::vector<double>& xs);

// Values of a split's metric over the group's ok trials that have that split.
std::vector<double> split_values(const Group& g, EvalSplit split, double Scores::*field);
Stat split_stat(const Group& g, EvalSplit split, double Scores::*field);

// Splits present in any ok trial of the group, in split order (dev, test, dev_last, test_last).
std::vector<EvalSplit> group_splits(const Group& g);

// " [init=random]" for a key that names its init, else "".
std::string init_suffix(const std::optional<AdapterInit>& init);

// True when trials carry more than one adapter init among the anchored ones.
bool has_several_inits(const std::vector<Group>& groups);

}  // namespace anchorsweep
