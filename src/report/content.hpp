// The report's content, built from the journal, run.json, config.toml, the diagnostics and the
// figures. Each section lives in its own file (content_*.cpp).
#pragma once

#include <string>
#include <vector>

#include "report/diagnostics.hpp"
#include "report/document.hpp"
#include "report/groups.hpp"
#include "rundir/journal.hpp"
#include "rundir/run_facts.hpp"
#include "report/plots.hpp"

namespace anchorsweep {

struct ReportInputs {
  std::string run_dir;
  RunResults journal;
  RunInfo run;
  bool has_config = false;
  std::string config_toml;
  std::vector<Group> groups;          // points into journal.trials
  std::vector<Finding> findings;
  std::vector<Figure> figures;        // f1_vs_lambda, curves (drawn or with an error)
  std::vector<std::string> input_warnings;  // torn journal line, unreadable run.json, ...
};

Document build_report(const ReportInputs& in);

void add_glance(Document& d, const ReportInputs& in);        // content_glance.cpp
void add_scores(Document& d, const ReportInputs& in);        // content_scores.cpp
void add_per_class(Document& d, const ReportInputs& in);     // content_per_class.cpp
void add_diagnostics(Document& d, const ReportInputs& in);   // content_diagnostics.cpp
void add_run_facts(Document& d, const ReportInputs& in);     // content_run.cpp

// Helpers shared by the sections (content.cpp). Scores are printed as percentages.
std::string pct_mean_std(const Stat& s);       // "22.10 ± 0.50"
std::string pct_full(const Stat& s);           // "22.10 ± 0.50 (21.60–22.60)"
std::string seeds_cell(const Group& g);        // "2" or "2 (+1 failed)"
const Figure* find_figure(const ReportInputs& in, const std::string& name);
void add_figure(Document& d, const ReportInputs& in, const std::string& name);
// The anchored group with lambda 0 and the given init, or nullptr.
const Group* zero_group(const std::vector<Group>& groups, const std::optional<AdapterInit>& init);

}  // namespace anchorsweep
