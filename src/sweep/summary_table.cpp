#include "sweep/summary_table.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <tuple>
#include <vector>

#include "sweep/journal.hpp"
#include "sweep/trial_result.hpp"

namespace anchorsweep {

namespace {

struct MeanStd {
  double mean = 0, std = 0;
};

MeanStd mean_std(const std::vector<double>& v) {
  MeanStd m;
  if (v.empty()) return m;
  for (double x : v) m.mean += x;
  m.mean /= v.size();
  if (v.size() > 1) {
    for (double x : v) m.std += (x - m.mean) * (x - m.mean);
    m.std = std::sqrt(m.std / (v.size() - 1));  // sample std over seeds
  }
  return m;
}

}  // namespace

std::string summary_table(const std::string& run_dir) {
  // Latest line per trial wins (a resumed failure may have been rerun).
  std::map<std::string, TrialResult> latest;
  for (const auto& rec : read_journal(run_dir + "/results.jsonl").records)
    if (rec.value("type", "") == "trial") {
      auto r = trial_from_json(rec);
      latest[r.key.id()] = r;
    }
  // Rows ordered: anchored by λ, then pretrained, then scratch.
  using Row = std::tuple<int, double, std::string, std::string>;  // order, λ, kind, init
  std::map<Row, std::vector<const TrialResult*>> groups;
  for (const auto& [id, r] : latest) {
    const int order = r.key.kind == "anchored" ? 0 : r.key.kind == "pretrained" ? 1 : 2;
    groups[{order, r.key.kind == "anchored" ? r.key.lambda : 0.0, r.key.kind, r.init}].push_back(&r);
  }
  std::ostringstream out;
  out << "\n  trial            init     seeds  failed   dev micro-F1        test micro-F1\n";
  for (const auto& [row, trials] : groups) {
    std::vector<double> dev, test;
    int failed = 0;
    for (const auto* r : trials) {
      if (r->status != "ok") {
        ++failed;
        continue;
      }
      dev.push_back(r->metrics.at("dev").micro_f1);
      test.push_back(r->metrics.at("test").micro_f1);
    }
    char name[64], line[200];
    const auto& kind = std::get<2>(row);
    if (kind == "anchored")
      std::snprintf(name, sizeof name, "lambda=%g", std::get<1>(row));
    else
      std::snprintf(name, sizeof name, "%s", kind == "pretrained" ? "pretrained (inf)" : "scratch on B");
    auto d = mean_std(dev), t = mean_std(test);
    std::snprintf(line, sizeof line, "  %-16s %-8s %5zu  %6d   %.4f ± %.4f     %.4f ± %.4f\n", name,
                  kind == "scratch" ? "-" : std::get<3>(row).c_str(), trials.size(), failed, d.mean, d.std, t.mean, t.std);
    out << line;
  }
  return out.str();
}

}  // namespace anchorsweep
