// anchorsweep report RUN_DIR, or report RUN_DIR... --out DIR: one run's report, or several compared.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "common/errors.hpp"
#include "report/compare.hpp"
#include "report/report.hpp"
#include "report/summary_table.hpp"

namespace anchorsweep::cli {

Command add_report_command(CLI::App& app) {
  struct Options {
    std::vector<std::string> run_dirs;
    std::string compare_out;
  };
  auto o = std::make_shared<Options>();
  auto* sub = app.add_subcommand("report", "Write results.csv, summary.csv and report.md/.html for RUN_DIR and print its summary "
                                           "table; with several RUN_DIRs and --out DIR, one report comparing them.");
  sub->add_option("run_dir", o->run_dirs, "a run directory, e.g. runs/demo; or several, with --out")->required();
  sub->add_option("--out", o->compare_out, "write one aggregated report of the RUN_DIRs (one or more) to this directory: "
                                           "report.md/.html, compare.csv, plots/");
  return {sub, [o] {
            if (o->run_dirs.size() > 1 || !o->compare_out.empty()) {
              if (o->compare_out.empty()) throw InputError("report: several run directories need --out DIR for the aggregated report");
              const auto paths = write_comparison(o->run_dirs, o->compare_out);
              for (const auto& w : paths.warnings) std::cout << "note: " << w << "\n";
              std::cout << "aggregated report of " << o->run_dirs.size() << (o->run_dirs.size() == 1 ? " run: " : " runs: ") << paths.report_md << "\n        "
                        << paths.report_html << "\n        " << paths.table_csv << std::endl;
              return 0;
            }
            const std::string& run_dir = o->run_dirs.front();
            const auto paths = write_report(run_dir);
            for (const auto& w : paths.console_lines) std::cout << w << "\n";
            std::cout << "report: " << paths.report_md << "\n        " << paths.report_html << "\n"
                      << summary_table(run_dir) << std::flush;
            return 0;
          }};
}

}  // namespace anchorsweep::cli
