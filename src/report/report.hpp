// report/: reads a run directory (never the live sweep) and writes the tables, plots and the report.
//
// Inputs in RUN_DIR: config.toml, run.json, results.jsonl.
// Outputs: results.csv, summary.csv, curves.csv, report.md, report.html, plots/*.png (+ .svg).
#pragma once

#include <string>
#include <vector>

namespace anchorsweep {

struct ReportPaths {
  std::string results_csv, summary_csv, curves_csv, report_md, report_html;
  std::vector<std::string> pngs;
  std::vector<std::string> warnings;  // diagnostics worth printing on the console too, in full
  // The same, one short line each for the console: level, title and where to read the rest.
  std::vector<std::string> console_lines;
};

// Rebuild every output from the journal. Plots are skipped (with a note in the report) when
// gnuplot is not installed. Throws InputError when RUN_DIR has no results.jsonl.
ReportPaths write_report(const std::string& run_dir);

// Only the CSV files (cheap; the sweep refreshes them after every finished trial).
void write_tables(const std::string& run_dir);

}  // namespace anchorsweep
