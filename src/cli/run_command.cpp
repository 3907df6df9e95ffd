// anchorsweep run CONFIG: the sweep itself (or, with --dry-run, its plan). Under mpirun/srun
// every rank runs this; rank 0 coordinates (sweep/sweep.hpp).
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "comm/mpi_comm.hpp"
#include "config/config.hpp"
#include "data/example.hpp"
#include "report/report.hpp"
#include "report/summary_table.hpp"
#include "sweep/memory_estimate.hpp"
#include "sweep/sweep.hpp"
#include "train/grad_buckets.hpp"

namespace anchorsweep::cli {

namespace {

struct RunOptions {
  std::string config_path, shard, fail_trial, hold_while, hold_task;
  std::vector<std::string> sets;
  LogFormat log_format = LogFormat::text;
  bool resume = false, dry_run = false, quiet = false, no_report = false;
  int64_t ranks_for_plan = 1, simulate_ms = -1, delay_ms = 0, delay_rank = -1;
  double status_every_s = 30;
};

void declare_options(CLI::App* sub, RunOptions& o) {
  sub->add_option("config", o.config_path, "TOML config file")->required();
  sub->add_option("--set", o.sets, "override a config key, e.g. --set finetune.lr=0.01 (repeatable)");
  sub->add_option("--shard", o.shard, "run part i of n of the plan (a SLURM array task: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT), "
                                      "in RUN_DIR-shard<i>of<n>; the same as --set run.shard=\"i/n\"; join the parts with merge");
  sub->add_flag("--resume", o.resume, "continue the run directory: skip finished trials, run the rest and any added seeds/λ");
  sub->add_flag("--dry-run", o.dry_run, "print the plan (tasks, fusing, ranks), each rank's memory estimate and what the run directory already holds; "
                                        "refuse (exit 2, run's message) a directory run would refuse; train nothing");
  sub->add_option("--ranks", o.ranks_for_plan, "with --dry-run: plan for this many ranks")->check(CLI::PositiveNumber);
  sub->add_flag("--quiet", o.quiet, "print nothing but errors");
  sub->add_option("--log-format", o.log_format, "progress as text lines or JSON lines")
      ->transform(CLI::CheckedTransformer(names_map<LogFormat>()));
  sub->add_option("--status-every", o.status_every_s,
                  "when stdout is not a terminal (a log file, SLURM): print the status line at most every this many seconds "
                  "(on a terminal it is one line redrawn in place)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_flag("--no-report", o.no_report, "skip report.md/report.html at the end (CSV files are still written)");
  sub->add_option("--simulate-ms", o.simulate_ms, "benchmark: replace every task's training by a sleep of this many ms");
  // Test hooks: hidden from --help (an empty group), documented in docs/testing.md.
  sub->add_option("--delay-ms", o.delay_ms, "test: sleep this long before each task (on every rank, or on --delay-rank only)")->group("");
  sub->add_option("--delay-rank", o.delay_rank, "test: the one rank --delay-ms slows down (default: all)")->group("");
  sub->add_option("--fail-trial", o.fail_trial, "test: make the task carrying this trial id (e.g. s1-lam0.1) fail")->group("");
  sub->add_option("--hold-while", o.hold_while, "test: while FILE exists, hold each pretrain/scratch task at its epoch "
                                                "boundaries (after the checkpoint) until a stop signal")->group("");
  sub->add_option("--hold-task", o.hold_task, "test: --hold-while holds only this task id (e.g. pretrain-s3)")->group("");
}

// --dry-run: the plan, what the run directory holds and each rank's memory; nothing trained.
int dry_run(const RunOptions& o) {
  const auto cfg = load_config(o.config_path, o.sets);
  const std::string directory = describe_run_directory(cfg, o.resume);  // throws where `run` would refuse
  std::cout << describe_plan(cfg, o.ranks_for_plan) << directory << describe_store_reuse(cfg, o.ranks_for_plan);
  const Corpus corpus = load_corpus(cfg.data);
  std::cout << estimate_memory(cfg, corpus).text();
  if (corpus.truncated > 0)
    std::cout << corpus.truncated << " sentence(s) will be cut to data.max_tokens = " << cfg.data.max_tokens << "\n";
  return 0;
}

// The sweep's options: what rank 0 writes at the end, and the test hooks.
SweepOptions sweep_options(const RunOptions& o, bool quiet, int argc, char** argv) {
  SweepOptions options;
  options.resume = o.resume;
  options.quiet = quiet;
  options.log_format = o.log_format;
  options.status_every_s = o.status_every_s;
  options.refresh_tables = [](const std::string& dir) { write_tables(dir); };
  if (!o.no_report) {
    options.finish = [](const std::string& dir) {
      const auto paths = write_report(dir);
      std::string text;
      for (const auto& w : paths.console_lines) text += w + "\n";
      text += "report: " + paths.report_md + "\n        " + paths.report_html + "\n";
      return text + summary_table(dir);
    };
  } else {
    options.finish = [](const std::string& dir) { return summary_table(dir); };
  }
  for (int i = 0; i < argc; ++i) options.command_line += (i ? " " : "") + std::string(argv[i]);
  options.hooks.simulate_ms = o.simulate_ms;
  options.hooks.delay_ms = o.delay_ms;
  options.hooks.fail_trial = o.fail_trial;
  options.hooks.hold_while = o.hold_while;
  options.hooks.hold_task = o.hold_task;
  options.delay_rank = o.delay_rank;
  return options;
}

}  // namespace

Command add_run_command(CLI::App& app, int* argc, char*** argv) {
  auto o = std::make_shared<RunOptions>();
  auto* sub = app.add_subcommand("run", "Run (or resume) the sweep of CONFIG. Under mpirun/srun the grid is spread over the ranks.");
  declare_options(sub, *o);
  sub->footer(
      std::string("Environment (docs/performance.md):\n"
                  "  ANCHORSWEEP_NO_CUDA_GRAPHS=1          pretrain without CUDA graphs (the journal's \"step\" says how it ran)\n"
                  "  ANCHORSWEEP_TF32=0                    full float on a GPU: TF32 off for cuDNN and cuBLAS\n"
                  "  ANCHORSWEEP_GRADIENT_BUCKET_BYTES=N   a pretraining group's gradient bucket size (default ") +
      std::to_string(GradientBuckets::kDefaultBucketBytes) + ")");
  return {sub, [o, argc, argv] {
            if (!o->shard.empty()) o->sets.push_back("run.shard=\"" + o->shard + "\"");
            if (o->dry_run) return dry_run(*o);
            std::unique_ptr<comm::MpiComm> mpi;
            if (comm::launched_with_ranks()) mpi = std::make_unique<comm::MpiComm>(argc, argv);
            install_stop_handlers();
            const SweepOptions options = sweep_options(*o, o->quiet || (mpi && mpi->rank() != 0), *argc, *argv);
            return run_sweep(o->config_path, o->sets, options, mpi.get());
          }};
}

}  // namespace anchorsweep::cli
