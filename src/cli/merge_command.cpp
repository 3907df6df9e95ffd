// anchorsweep merge OUT RUN_DIR...: the shards of one sweep joined into one run directory.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "report/report.hpp"
#include "report/summary_table.hpp"
#include "sweep/merge.hpp"

namespace anchorsweep::cli {

namespace {

void print_merge(const MergeResult& m) {
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
}

}  // namespace

Command add_merge_command(CLI::App& app) {
  struct Options {
    std::string out;
    std::vector<std::string> shard_dirs;
  };
  auto o = std::make_shared<Options>();
  auto* sub = app.add_subcommand("merge", "Join the shard directories of one sweep (run --shard i/n, e.g. a SLURM job array) into one "
                                          "run directory OUT, write its report, and list duplicates, missing shards and gaps.");
  sub->add_option("OUT", o->out, "the merged run directory to write (new or empty); use the unsharded run's "
                                 "directory (runs/<name>) to --resume it with the same config")->required();
  sub->add_option("RUN_DIR", o->shard_dirs, "shard directories, e.g. runs/demo-shard1of3 runs/demo-shard2of3 ...")->required();
  return {sub, [o] {
            const MergeResult m = merge_shards(o->out, o->shard_dirs);
            print_merge(m);
            const auto paths = write_report(m.out_dir);
            std::cout << "report: " << paths.report_md << "\n" << summary_table(m.out_dir) << std::flush;
            return 0;
          }};
}

}  // namespace anchorsweep::cli
