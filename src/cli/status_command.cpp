// anchorsweep status RUN_DIR [--watch]: how far a sweep is and whether it is alive.
#include <unistd.h>  // isatty

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "cli/command.hpp"
#include "common/files.hpp"
#include "rundir/run_status.hpp"
#include "sweep/plan.hpp"

namespace anchorsweep::cli {

Command add_status_command(CLI::App& app) {
  struct Options {
    std::string run_dir;
    bool watch = false;
    double interval_s = 2;
    LogFormat log_format = LogFormat::text;
  };
  auto o = std::make_shared<Options>();
  auto* sub = app.add_subcommand("status", "Say how far the sweep in RUN_DIR is and whether it is alive: done / total, failed, "
                                           "what each busy rank runs, throughput and ETA (also after it ended or was killed).");
  sub->add_option("RUN_DIR", o->run_dir, "a run directory (runs/<name>)")->required();
  sub->add_flag("--watch", o->watch, "print it again every --interval seconds until the sweep is no longer running");
  sub->add_option("--interval", o->interval_s, "seconds between two prints with --watch (default 2)")->check(CLI::PositiveNumber);
  sub->add_option("--log-format", o->log_format, "text for people, or one JSON object a print")
      ->transform(CLI::CheckedTransformer(names_map<LogFormat>()));
  return {sub, [o] {
            const std::string host = local_host();
            // The total is what the run's resolved config plans (needs its data files readable).
            const auto planned_total = [dir = o->run_dir] { return planned_trial_count(dir); };
            while (true) {
              const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
              const RunStatus st = inspect_run(o->run_dir, now, host, planned_total);
              if (o->log_format == LogFormat::json)
                std::cout << to_json(st).dump() << std::endl;
              else
                std::cout << (o->watch && ::isatty(1) ? "\033[H\033[2J" : "") << format_status(st) << std::flush;
              if (!o->watch || (st.state != RunState::running && st.state != RunState::stalled)) return 0;
              std::this_thread::sleep_for(std::chrono::duration<double>(o->interval_s));
            }
          }};
}

}  // namespace anchorsweep::cli
