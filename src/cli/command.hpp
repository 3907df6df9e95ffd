// The command line: one file per subcommand. Each add_*_command declares its subcommand's
// options on the CLI11 app and returns what runs it once the line is parsed; main.cpp picks
// the one given. Errors are thrown (InputError: exit 2) and turned into exit codes by main.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace anchorsweep::cli {

struct Command {
  CLI::App* sub = nullptr;      // the subcommand; `*sub` is true when it was given
  std::function<int()> run;     // its exit code
};

// `argc`/`argv` reach MPI_Init (run under mpirun/srun) and the run's recorded command line.
Command add_run_command(CLI::App& app, int* argc, char*** argv);
Command add_validate_command(CLI::App& app);
Command add_score_command(CLI::App& app);
Command add_status_command(CLI::App& app);
Command add_merge_command(CLI::App& app);
Command add_report_command(CLI::App& app);
Command add_keys_command(CLI::App& app);
Command add_store_command(CLI::App& app);

}  // namespace anchorsweep::cli
