// A baseline that looks broken: one that predicts almost only one label, or scores near zero.
// Then "every λ is above scratch by 50 points" says nothing about λ, and the report says so.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "report/diagnostics.hpp"

namespace anchorsweep {

struct BrokenBaseline {
  int64_t top_label = -1;      // the label it predicts most on B test (all its seeds together)
  double top_share = 0;        // of its predictions on B test
  double gold_share = 0;       // of the gold labels on B test, for that label
  double dev_micro_f1 = 0;     // mean over seeds, a fraction
};

// Thresholds: a mean dev micro-F1 under 5 points, or one label taking ≥ 95% of the predictions
// where the gold has it under 90%.
inline constexpr double kNearZeroF1 = 0.05, kOneLabelShare = 0.95, kOneLabelGoldBelow = 0.90;

// The verdict for one baseline group; nullopt when it looks healthy (or has no ok trial).
std::optional<BrokenBaseline> broken_baseline(const Group& g);

// WARNING naming each broken baseline, what it predicts and what to change; OK otherwise.
// `labels` names the label indices (run.json); an index is printed where it is empty.
Finding check_baselines(const std::vector<Group>& groups, const std::vector<std::string>& labels);

}  // namespace anchorsweep
