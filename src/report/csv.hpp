// The three tidy CSV tables: results.csv, summary.csv, curves.csv.
// Each loads in pandas with no options: one header row, comma separated, RFC 4180 quoting,
// numbers as the shortest text that reads back to the same double, empty cells for "none".
#pragma once

#include <string>
#include <vector>

#include "common/trial_result.hpp"

namespace anchorsweep {

// One row per trial and split; a failed trial is one row with an empty split.
std::string results_csv(const std::vector<TrialResult>& trials);

// One row per (kind, lambda, init) group and split, with mean/std/min/max over seeds.
std::string summary_csv(const std::vector<TrialResult>& trials);

// One row per trial and epoch.
std::string curves_csv(const std::vector<TrialResult>& trials);

// A CSV cell: quoted when it holds a comma, quote or line break.
std::string csv_cell(const std::string& s);

}  // namespace anchorsweep
