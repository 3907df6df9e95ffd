// Run facts: where and how the sweep ran, pretraining per seed, failures, and the config.
#include <cmath>
#include <algorithm>
#include <map>
#include <set>

#include "common/files.hpp"
#include "report/content.hpp"
#include "report/format.hpp"

namespace anchorsweep {

namespace {

std::string join_counted(const std::vector<std::string>& xs) {
  std::map<std::string, int> counts;
  std::vector<std::string> order;
  for (const auto& x : xs)
    if (counts[x]++ == 0) order.push_back(x);
  std::string s;
  for (const auto& x : order)
    s += (s.empty() ? "" : ", ") + x + (counts[x] > 1 ? " ×" + std::to_string(counts[x]) : "");
  return s.empty() ? "–" : s;
}

void facts_table(Document& d, const ReportInputs& in) {
  const RunInfo& r = in.run;
  Table t;
  t.header = {"fact", "value"};
  auto add = [&](const std::string& k, const std::string& v) { t.rows.push_back({k, v.empty() ? "–" : v}); };
  add("run directory", in.run_dir);
  if (!r.present) add("run.json", "missing");
  add("started", r.started);
  add("finished", r.finished.empty() ? (r.present ? "not finished (or still running)" : "") : r.finished);
  add("wall time", r.wall_s ? fmt_duration(*r.wall_s) : "");
  add("ranks", r.ranks ? std::to_string(*r.ranks) : "");
  add("hosts", join_counted(r.hosts));
  add("devices", join_counted(r.devices));
  if (!r.gpu_placement.empty()) add("GPU placement (rank 0)", r.gpu_placement);
  if (!r.shared_gpus.empty()) {
    std::string s;
    for (const auto& g : r.shared_gpus) s += (s.empty() ? "" : "; ") + g;
    add("shared GPUs", s + " (these ranks split one GPU's time and memory; NCCL is not used)");
  }
  for (const auto& [k, v] : r.versions) add("version: " + k, v);
  std::string hash = r.config_hash;
  if (in.has_config && !hash.empty())
    hash += fnv1a_hex(in.config_toml) == hash ? " (matches config.toml)" : " (config.toml hashes to " + fnv1a_hex(in.config_toml) + ")";
  add("config hash", hash);
  add("command", r.command);

  size_t ok = 0, failed = 0;
  std::set<int64_t> seeds;
  std::set<double> lams;
  double trial_wall = 0;
  for (const auto& tr : in.journal.trials) {
    (tr.status == Status::ok ? ok : failed)++;
    seeds.insert(tr.key.seed);
    if (tr.key.kind == TrialKind::anchored) lams.insert(tr.key.lambda);
    trial_wall += tr.wall_s;
  }
  add("trials", std::to_string(in.journal.trials.size()) + " (" + std::to_string(ok) + " ok, " +
                    std::to_string(failed) + " failed)");
  std::string s, l;
  for (auto v : seeds) s += (s.empty() ? "" : ", ") + std::to_string(v);
  for (auto v : lams) l += (l.empty() ? "" : ", ") + fmt_lambda(v);
  add("seeds", s);
  add("λ grid (anchored trials in the journal)", l);
  add("summed trial wall time", fmt_duration(trial_wall));
  d.table(t);
}

void pretrain_table(Document& d, const ReportInputs& in) {
  d.heading(3, "Pretraining on A (per seed)");
  if (in.journal.pretrains.empty()) {
    d.paragraph("No pretraining record in the journal.");
    return;
  }
  Table t;
  t.header = {"seed", "status", "A-dev micro-F1", "best epoch", "examples/s", "wall", "host", "device"};
  auto sorted = in.journal.pretrains;
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.seed < b.seed; });
  for (const auto& p : sorted)
    t.rows.push_back({std::to_string(p.seed), p.status == Status::ok ? "ok" : std::string(name_of(p.status)) + ": " + p.error,
                      fmt_pct(p.a_dev_micro_f1), std::to_string(p.best_epoch) + " / " + std::to_string(p.epochs),
                      std::to_string(static_cast<long long>(std::llround(p.examples_per_s))), fmt_duration(p.wall_s), p.host, p.device});
  d.table(t);
  // How the steps ran (CUDA graphs, or eagerly and why), once per distinct answer.
  std::map<std::string, std::string> seeds_by_step;
  for (const auto& p : sorted)
    if (!p.step.empty()) {
      auto& seeds = seeds_by_step[p.step];
      seeds += (seeds.empty() ? "" : ", ") + std::to_string(p.seed);
    }
  for (const auto& [step, seeds] : seeds_by_step)
    d.paragraph("Pretraining steps of seed" + std::string(seeds.find(',') == std::string::npos ? " " : "s ") + seeds + ": " +
                step + ".");
}

void failures_table(Document& d, const ReportInputs& in) {
  Table t;
  t.header = {"trial", "init", "host", "rank", "device", "error"};
  for (const Group& g : in.groups)
    for (const TrialResult* tr : g.failed)
      t.rows.push_back({tr->key.id(), name_or_empty(tr->init), tr->host, std::to_string(tr->rank), tr->device,
                        tr->error.empty() ? "(no message)" : tr->error});
  if (t.rows.empty()) return;
  d.heading(3, "Failed trials");
  d.table(t);
}

}  // namespace

void add_run_facts(Document& d, const ReportInputs& in) {
  d.heading(2, "Run facts");
  facts_table(d, in);
  pretrain_table(d, in);
  failures_table(d, in);
  d.heading(2, "Configuration");
  if (in.has_config) d.details("config.toml (resolved)", in.config_toml, "toml");
  else d.paragraph("config.toml is missing from the run directory.");
}

}  // namespace anchorsweep
