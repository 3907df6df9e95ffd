// Diagnostics computed from the journal: why does lambda move (or not move) micro-F1?
//
//  - a trial whose loss or weights went non-finite          -> WARNING (lr·λ too large for SGD)
//  - identical adapter weights across lambdas of a seed   -> WARNING (penalty never reached the loss)
//  - different weights but identical predictions          -> NOTE (lambda grid too small to matter)
//  - penalty above half the loss over training (or > 10x CE at the first step) -> WARNING
//  - ... while ||W_final − A|| stays above half of ||W_init − A||   -> WARNING (anchor out of reach:
//    the optimizer's movement bound, the remedies, the measured init difference when present)
//  - both adapter inits in the journal                    -> NOTE (test F1 of each per lambda)
#pragma once

#include <string>
#include <vector>

#include "report/document.hpp"
#include "report/groups.hpp"

namespace anchorsweep {

struct Finding {
  Level level = Level::ok;
  std::string title;  // a few words
  std::string text;   // one line, self-contained
  std::string line() const { return std::string(name_of(level)) + ": " + title + ": " + text; }
};

// Means over the ok seeds of one anchored group.
struct PenaltyRow {
  GroupKey key;
  size_t n = 0;
  double ce_first = 0, penalty_first = 0, share_first = 0;
  double ce_last = 0, penalty_last = 0, share_last = 0;
  double w_dist_init = 0, w_dist_final = 0;
};
std::vector<PenaltyRow> penalty_table(const std::vector<Group>& groups);

Finding check_divergence(const std::vector<Group>& groups);  // a non-finite loss or weight
Finding check_identical_weights(const std::vector<Group>& groups);
Finding check_same_predictions(const std::vector<Group>& groups);
Finding check_penalty_dominance(const std::vector<Group>& groups);  // over the whole run
Finding check_anchor_unreached(const std::vector<Group>& groups);   // penalty dominant, W still far

// Mean test micro-F1 per lambda for each adapter init (anchored trials).
struct InitComparison {
  std::vector<AdapterInit> inits;            // sorted: anchor, random
  std::vector<double> lambdas;               // sorted
  std::vector<std::vector<Stat>> test_f1;    // [lambda][init]
};
InitComparison compare_inits(const std::vector<Group>& groups);
Finding check_inits(const std::vector<Group>& groups);

// Every check above, in report order.
std::vector<Finding> diagnose(const std::vector<Group>& groups);

}  // namespace anchorsweep
