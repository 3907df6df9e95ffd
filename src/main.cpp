// anchorsweep: the command line. Each subcommand hands off to one stage's entry point.
#include <CLI/CLI.hpp>

#include <unistd.h>  // isatty

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

#include "comm/mpi_comm.hpp"
#include "common/files.hpp"
#include "config/config.hpp"
#include "data/example.hpp"
#include "data/feature_files.hpp"
#include "report/compare.hpp"
#include "report/report.hpp"
#include "report/summary_table.hpp"
#include "sweep/memory_estimate.hpp"
#include "sweep/merge.hpp"
#include "sweep/placement.hpp"
#include "sweep/run_status.hpp"
#include "sweep/sweep.hpp"
#include "train/metrics.hpp"

using namespace anchorsweep;

int main(int argc, char** argv) {
  // Before anything loads OpenMP: a dry run trains nothing, so it skips the CPU sample.
  if (argc > 1 && std::string(argv[1]) == "run" &&
      std::none_of(argv + 2, argv + argc, [](const char* a) { return std::string(a) == "--dry-run"; }))
    tune_cpu_libraries(argv);
  CLI::App app{"anchorsweep: sweep the anchored-adapter transfer experiment over a λ grid, seeds and MPI ranks.\n"
               "Exit codes: 0 ok, 1 some trial failed, 2 bad input, 3 stopped early (rerun with --resume)."};
  app.require_subcommand(1);
  std::string config_path, run_dir, gold, pred, negative = "no_relation", fail_trial;
  LogFormat log_format = LogFormat::text;
  std::vector<std::string> sets;
  bool resume = false, dry_run = false, quiet = false, no_report = false;
  int64_t ranks_for_plan = 1, simulate_ms = -1, delay_ms = 0, delay_rank = -1;

  auto* run = app.add_subcommand("run", "Run (or resume) the sweep of CONFIG. Under mpirun/srun the grid is spread over the ranks.");
  run->add_option("config", config_path, "TOML config file")->required();
  run->add_option("--set", sets, "override a config key, e.g. --set finetune.lr=0.01 (repeatable)");
  std::string shard;
  run->add_option("--shard", shard, "run part i of n of the plan (a SLURM array task: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT), "
                                    "in RUN_DIR-shard<i>of<n>; the same as --set run.shard=\"i/n\"; join the parts with merge");
  run->add_flag("--resume", resume, "continue the run directory: skip finished trials, run the rest and any added seeds/λ");
  run->add_flag("--dry-run", dry_run, "print the plan (tasks, fusing, ranks), each rank's memory estimate and what the run directory already holds; train nothing");
  run->add_option("--ranks", ranks_for_plan, "with --dry-run: plan for this many ranks")->check(CLI::PositiveNumber);
  run->add_flag("--quiet", quiet, "print nothing but errors");
  run->add_option("--log-format", log_format, "progress as text lines or JSON lines")
      ->transform(CLI::CheckedTransformer(names_map<LogFormat>()));
  run->add_flag("--no-report", no_report, "skip report.md/report.html at the end (CSV files are still written)");
  run->add_option("--simulate-ms", simulate_ms, "benchmark: replace every task's training by a sleep of this many ms");
  // Test hooks: hidden from --help (an empty group), documented in docs/testing.md.
  std::string hold_while, hold_task;
  run->add_option("--delay-ms", delay_ms, "test: sleep this long before each task (on every rank, or on --delay-rank only)")->group("");
  run->add_option("--delay-rank", delay_rank, "test: the one rank --delay-ms slows down (default: all)")->group("");
  run->add_option("--fail-trial", fail_trial, "test: make the task carrying this trial id (e.g. s1-lam0.1) fail")->group("");
  run->add_option("--hold-while", hold_while, "test: while FILE exists, hold each pretrain/scratch task at its epoch "
                                              "boundaries (after the checkpoint) until a stop signal")->group("");
  run->add_option("--hold-task", hold_task, "test: --hold-while holds only this task id (e.g. pretrain-s3)")->group("");

  auto* validate = app.add_subcommand("validate", "Check CONFIG (and its data files) without training.");
  validate->add_option("config", config_path, "TOML config file")->required();
  validate->add_option("--set", sets, "override a config key (repeatable)");

  auto* score_cmd = app.add_subcommand("score", "Score predictions like the official TACRED scorer: micro P/R/F1, negative label excluded.");
  score_cmd->add_option("--gold", gold, "file with one gold label per line")->required();
  score_cmd->add_option("--pred", pred, "file with one predicted label per line")->required();
  score_cmd->add_option("--negative", negative, "the negative label (default no_relation)");

  auto* status_cmd = app.add_subcommand("status", "Say how far the sweep in RUN_DIR is and whether it is alive: done / total, failed, "
                                                  "what each busy rank runs, throughput and ETA (also after it ended or was killed).");
  bool watch = false;
  double interval_s = 2;
  status_cmd->add_option("RUN_DIR", run_dir, "a run directory (runs/<name>)")->required();
  status_cmd->add_flag("--watch", watch, "print it again every --interval seconds until the sweep is no longer running");
  status_cmd->add_option("--interval", interval_s, "seconds between two prints with --watch (default 2)")->check(CLI::PositiveNumber);
  status_cmd->add_option("--log-format", log_format, "text for people, or one JSON object a print")
      ->transform(CLI::CheckedTransformer(names_map<LogFormat>()));
  auto* merge_cmd = app.add_subcommand("merge", "Join the shard directories of one sweep (run --shard i/n, e.g. a SLURM job array) into one "
                                                "run directory OUT, write its report, and list duplicates, missing shards and gaps.");
  std::string merge_out;
  std::vector<std::string> shard_dirs;
  merge_cmd->add_option("OUT", merge_out, "the merged run directory to write (new or empty); use the unsharded run's "
                                          "directory (runs/<name>) to --resume it with the same config")->required();
  merge_cmd->add_option("RUN_DIR", shard_dirs, "shard directories, e.g. runs/demo-shard1of3 runs/demo-shard2of3 ...")->required();
  auto* report_cmd = app.add_subcommand("report", "Write results.csv, summary.csv and report.md/.html for RUN_DIR and print its summary "
                                                  "table; with several RUN_DIRs and --out DIR, one report comparing them.");
  std::vector<std::string> run_dirs;
  std::string compare_out;
  report_cmd->add_option("run_dir", run_dirs, "a run directory, e.g. runs/demo; or several, with --out")->required();
  report_cmd->add_option("--out", compare_out, "write one aggregated report of the RUN_DIRs (two or more) to this directory: "
                                               "report.md/.html, compare.csv, plots/");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitBadInput;
  }
  if (!shard.empty()) sets.push_back("run.shard=\"" + shard + "\"");

  try {
    if (*score_cmd) {
      auto s = score_files(gold, pred, negative);
      std::printf("Precision (micro): %.3f%%\n   Recall (micro): %.3f%%\n       F1 (micro): %.3f%%\n",
                  100 * s.micro_p, 100 * s.micro_r, 100 * s.micro_f1);
      return 0;
    }
    if (*status_cmd) {
      const std::string host = local_host();
      while (true) {
        const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
        const RunStatus st = inspect_run(run_dir, now, host);
        if (log_format == LogFormat::json)
          std::cout << to_json(st).dump() << std::endl;
        else
          std::cout << (watch && ::isatty(1) ? "\033[H\033[2J" : "") << format_status(st) << std::flush;
        if (!watch || (st.state != RunState::running && st.state != RunState::stalled)) return 0;
        std::this_thread::sleep_for(std::chrono::duration<double>(interval_s));
      }
    }
    if (*merge_cmd) {
      const MergeResult m = merge_shards(merge_out, shard_dirs);
      std::cout << "merged " << m.shards << " of " << m.shard_count << " shard(s) into " << m.out_dir << ": " << m.trials
                << " trials; checkpoints: " << m.linked << " linked, " << m.copied << " copied\n";
      for (const auto& d : m.duplicates) std::cout << "duplicate: " << d << "\n";
      for (const auto& s : m.missing_shards) std::cout << "WARNING: shard " << s << " is missing\n";
      if (!m.gaps.empty()) {
        std::cout << "WARNING: " << m.gaps.size() << " planned trial(s) have no result:";
        for (size_t i = 0; i < m.gaps.size() && i < 10; ++i) std::cout << " " << m.gaps[i];
        std::cout << (m.gaps.size() > 10 ? " ..." : "") << "\n         `anchorsweep run CONFIG --resume` on " << m.out_dir
                  << " runs them\n";
      }
      const auto paths = write_report(m.out_dir);
      std::cout << "report: " << paths.report_md << "\n" << summary_table(m.out_dir) << std::flush;
      return 0;
    }
    if (*report_cmd && (run_dirs.size() > 1 || !compare_out.empty())) {
      if (compare_out.empty()) throw InputError("report: several run directories need --out DIR for the aggregated report");
      auto paths = write_comparison(run_dirs, compare_out);
      for (const auto& w : paths.warnings) std::cout << "note: " << w << "\n";
      std::cout << "aggregated report of " << run_dirs.size() << " runs: " << paths.report_md << "\n        "
                << paths.report_html << "\n        " << paths.table_csv << std::endl;
      return 0;
    }
    if (*report_cmd) {
      run_dir = run_dirs.front();
      auto paths = write_report(run_dir);
      for (const auto& w : paths.warnings) std::cout << "note: " << w << "\n";
      std::cout << "report: " << paths.report_md << "\n        " << paths.report_html << "\n"
                << summary_table(run_dir) << std::flush;
      return 0;
    }
    if (*validate) {
      auto cfg = load_config(config_path, sets);
      auto corpus = load_corpus(cfg.data);
      const auto b_rows = corpus.features ? corpus.features->train.x.size(0)
                                          : static_cast<int64_t>(corpus.b_train.examples.size());
      std::cout << config_path << ": ok (" << corpus.num_classes() << " labels, " << corpus.a_train.examples.size()
                << " A-train / " << b_rows << " B-train examples, " << cfg.sweep.lambdas.size()
                << " λ values x " << cfg.run.seeds.size() << " seeds)\n";
      if (corpus.truncated > 0)
        std::cout << "  " << corpus.truncated << " sentence(s) longer than data.max_tokens = " << cfg.data.max_tokens
                  << " were cut around their entities (longest: " << corpus.longest << " tokens)\n";
      return 0;
    }
    // run
    if (dry_run) {
      auto cfg = load_config(config_path, sets);
      std::cout << describe_plan(cfg, ranks_for_plan) << describe_run_directory(cfg);
      const Corpus corpus = load_corpus(cfg.data);
      std::cout << estimate_memory(cfg, corpus).text();
      if (corpus.truncated > 0)
        std::cout << corpus.truncated << " sentence(s) will be cut to data.max_tokens = " << cfg.data.max_tokens << "\n";
      return 0;
    }
    std::unique_ptr<comm::MpiComm> mpi;
    if (comm::launched_with_ranks()) mpi = std::make_unique<comm::MpiComm>(&argc, &argv);
    install_stop_handlers();
    SweepOptions options;
    options.resume = resume;
    options.quiet = quiet || (mpi && mpi->rank() != 0);
    options.log_format = log_format;
    options.refresh_tables = [](const std::string& dir) { write_tables(dir); };
    if (!no_report) {
      options.finish = [](const std::string& dir) {
        auto paths = write_report(dir);
        std::string text;
        for (const auto& w : paths.warnings) text += "note: " + w + "\n";
        text += "report: " + paths.report_md + "\n        " + paths.report_html + "\n";
        return text + summary_table(dir);
      };
    } else {
      options.finish = [](const std::string& dir) { return summary_table(dir); };
    }
    for (int i = 0; i < argc; ++i) options.command_line += (i ? " " : "") + std::string(argv[i]);
    options.hooks.simulate_ms = simulate_ms;
    options.hooks.delay_ms = delay_ms;
    options.hooks.fail_trial = fail_trial;
    options.hooks.hold_while = hold_while;
    options.hooks.hold_task = hold_task;
    options.delay_rank = delay_rank;
    return run_sweep(config_path, sets, options, mpi.get());
  } catch (const InputError& e) {
    std::cerr << "anchorsweep: " << e.what() << std::endl;
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::cerr << "anchorsweep: error: " << e.what() << std::endl;
    return 1;
  }
}
