// write_report / write_tables: read the run directory, write the CSVs, plots and the report.
#include "report/report.hpp"

#include "report/baseline_check.hpp"

#include "common/files.hpp"
#include "report/content.hpp"
#include "report/csv.hpp"
#include "report/gnuplot.hpp"

namespace anchorsweep {

namespace {

struct Tables {
  std::string results, summary, curves;
};

Tables write_csvs(const std::string& run_dir, const RunResults& j) {
  Tables t{run_dir + "/results.csv", run_dir + "/summary.csv", run_dir + "/curves.csv"};
  write_file_atomic(t.results, results_csv(j.trials));
  write_file_atomic(t.summary, summary_csv(j.trials));
  write_file_atomic(t.curves, curves_csv(j.trials));
  return t;
}

}  // namespace

void write_tables(const std::string& run_dir) { write_csvs(run_dir, read_results(run_dir)); }

ReportPaths write_report(const std::string& run_dir) {
  ReportInputs in;
  in.run_dir = run_dir;
  in.journal = read_results(run_dir);
  in.run = read_run_info(run_dir);
  const std::string config_path = run_dir + "/config.toml";
  in.has_config = file_exists(config_path);
  if (in.has_config) in.config_toml = read_file(config_path);
  in.input_warnings = in.journal.warnings;
  in.input_warnings.insert(in.input_warnings.end(), in.run.warnings.begin(), in.run.warnings.end());

  ReportPaths out;
  const Tables t = write_csvs(run_dir, in.journal);
  out.results_csv = t.results;
  out.summary_csv = t.summary;
  out.curves_csv = t.curves;

  in.groups = group_trials(in.journal.trials);
  in.findings = diagnose(in.groups);
  in.findings.push_back(check_baselines(in.groups, in.run.labels));

  make_dirs(run_dir + "/plots");
  const std::string gnuplot = find_gnuplot();
  in.figures.push_back(plot_f1_vs_lambda(run_dir, in.groups, gnuplot));
  in.figures.push_back(plot_curves(run_dir, in.groups, gnuplot));

  const Document doc = build_report(in);
  out.report_md = run_dir + "/report.md";
  out.report_html = run_dir + "/report.html";
  write_file_atomic(out.report_md, render_markdown(doc));
  write_file_atomic(out.report_html, render_html(doc));

  out.warnings = in.input_warnings;
  for (const Figure& f : in.figures) {
    if (f.drawn()) out.pngs.push_back(f.png_path);
    else out.warnings.push_back("NOTE: plot " + f.name + " skipped: " + f.error);
  }
  size_t failed = 0;
  for (const auto& tr : in.journal.trials) failed += tr.status != Status::ok;
  if (failed) out.warnings.push_back("WARNING: " + std::to_string(failed) + " trial(s) failed; see report");
  out.console_lines = out.warnings;  // input and plot problems are short already
  for (const Finding& f : in.findings)
    if (f.level == Level::warning || f.level == Level::note) {
      out.warnings.push_back(f.line());
      out.console_lines.push_back(std::string(name_of(f.level)) + ": " + f.title + " (report.md, Diagnostics)");
    }
  return out;
}

}  // namespace anchorsweep
