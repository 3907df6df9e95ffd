// anchorsweep: the command line. Each subcommand lives in src/cli/ and hands off to one stage's
// entry point; here they are put together and the exit codes decided.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "comm/versions.hpp"
#include "common/errors.hpp"
#include "sweep/placement.hpp"
#include "sweep/sweep.hpp"  // the exit codes

using namespace anchorsweep;

int main(int argc, char** argv) {
  // Before anything loads OpenMP: a dry run trains nothing, so it skips the CPU sample.
  if (argc > 1 && std::string(argv[1]) == "run" &&
      std::none_of(argv + 2, argv + argc, [](const char* a) { return std::string(a) == "--dry-run"; }))
    tune_cpu_libraries(argv);
  CLI::App app{"anchorsweep: sweep the anchored-adapter transfer experiment over a λ grid, seeds and MPI ranks.\n"
               "Exit codes: 0 ok, 1 some trial failed, 2 bad input, 3 stopped early (rerun with --resume)."};
  app.set_version_flag("--version", [] { return comm::version_text(); },
                       "print the version, the git commit built from, and the LibTorch, MPI, CUDA and NCCL versions");
  app.require_subcommand(1);
  const std::vector<cli::Command> commands = {
      cli::add_run_command(app, &argc, &argv), cli::add_validate_command(app), cli::add_score_command(app),
      cli::add_status_command(app),            cli::add_merge_command(app),    cli::add_report_command(app),
      cli::add_keys_command(app),              cli::add_store_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitBadInput;
  }
  try {
    for (const auto& c : commands)
      if (*c.sub) return c.run();
    return kExitBadInput;  // require_subcommand(1) makes this unreachable
  } catch (const InputError& e) {
    std::cerr << "anchorsweep: " << e.what() << std::endl;
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "anchorsweep: error: " << e.what() << std::endl;
    return 1;
  }
}
