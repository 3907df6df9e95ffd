// One aggregated report over several run directories (`anchorsweep report RUN_DIR... --out DIR`):
// what each run set, its best λ on dev with test there, its baselines, micro-F1 against λ of
// every run on one plot, a per-λ table where runs share λ values, and the differences between
// their resolved configs. Runs on different label sets or negative labels are refused.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace anchorsweep {

struct ComparisonPaths {
  std::string report_md, report_html, table_csv;
  std::vector<std::string> pngs;
  std::vector<std::string> warnings;
};

// Reads every RUN_DIR (config.toml, run.json, results.jsonl) and writes OUT/report.md,
// OUT/report.html, OUT/compare.csv and OUT/plots/. Throws InputError when fewer than two runs
// are given, one lacks its journal or run.json, their labels or negative labels differ, or
// OUT is one of them.
// Seed by seed, whether the runs' pretrained encoders are the same bits (their journals'
// encoder_hash: equal when one run reused another's encoder from the encoder store, or both
// trained it alike). `hashes[i]`: run i's seed -> hash ("" for records older than 0.2). One
// paragraph for the report.
std::string encoder_sharing_text(const std::vector<std::string>& run_names,
                                 const std::vector<std::map<int64_t, std::string>>& hashes);

ComparisonPaths write_comparison(const std::vector<std::string>& run_dirs, const std::string& out_dir);

}  // namespace anchorsweep
