#include "report/csv.hpp"

#include <cmath>
#include <algorithm>

#include "report/format.hpp"
#include "report/groups.hpp"

namespace anchorsweep {

std::string csv_cell(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += (c == '"') ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

namespace {

std::string row(const std::vector<std::string>& cells) {
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + csv_cell(cells[i]);
  return out + "\n";
}

std::string lambda_cell(const TrialResult& t) {
  return t.key.kind == TrialKind::anchored ? fmt_num(t.key.lambda) : "";
}

std::vector<const TrialResult*> sorted_trials(const std::vector<TrialResult>& trials) {
  std::vector<const TrialResult*> out;
  for (const auto& t : trials) out.push_back(&t);
  std::stable_sort(out.begin(), out.end(),
                   [](const TrialResult* a, const TrialResult* b) { return trial_less(*a, *b); });
  return out;
}

}  // namespace

std::string results_csv(const std::vector<TrialResult>& trials) {
  std::string out = row({"trial", "seed", "kind", "lambda", "init", "split", "micro_p", "micro_r",
                         "micro_f1", "macro_f1", "accuracy", "best_epoch", "status", "host",
                         "rank", "device", "wall_s"});
  for (const TrialResult* t : sorted_trials(trials)) {
    auto cells = [&](const std::string& split, const Scores* s) {
      auto m = [&](double v) { return s ? fmt_num(v) : std::string(); };
      return row({t->key.id(), std::to_string(t->key.seed), name_of(t->key.kind), lambda_cell(*t), name_or_empty(t->init),
                  split, m(s ? s->micro_p : 0), m(s ? s->micro_r : 0), m(s ? s->micro_f1 : 0),
                  m(s ? s->macro_f1 : 0), m(s ? s->accuracy : 0),
                  s ? std::to_string(t->best_epoch) : "", name_of(t->status), t->host,
                  std::to_string(t->rank), t->device, fmt_num(t->wall_s)});
    };
    if (t->status != Status::ok || t->metrics.empty()) {
      out += cells("", nullptr);
      continue;
    }
    for (const auto& [split, s] : t->metrics) out += cells(name_of(split), &s);  // in split order
  }
  return out;
}

std::string summary_csv(const std::vector<TrialResult>& trials) {
  std::vector<std::string> header = {"kind", "lambda", "init", "split", "n_seeds", "n_failed"};
  const std::pair<const char*, double Scores::*> metrics[] = {{"micro_f1", &Scores::micro_f1},
                                                              {"micro_p", &Scores::micro_p},
                                                              {"micro_r", &Scores::micro_r},
                                                              {"macro_f1", &Scores::macro_f1}};
  for (const auto& [name, field] : metrics)
    for (const char* stat : {"mean", "std", "min", "max"}) header.push_back(std::string(name) + "_" + stat);
  header.push_back("best_epoch_mean");
  std::string out = row(header);

  for (const Group& g : group_trials(trials)) {
    const std::string lam = g.key.kind == TrialKind::anchored ? fmt_num(g.key.lambda) : "";
    std::vector<std::optional<EvalSplit>> splits;
    for (EvalSplit s : group_splits(g)) splits.push_back(s);
    if (splits.empty()) splits.push_back(std::nullopt);  // nothing succeeded: still show the failures
    for (const auto& split : splits) {
      std::vector<std::string> cells = {name_of(g.key.kind), lam, name_or_empty(g.key.init), name_or_empty(split)};
      std::vector<double> epochs;
      for (const TrialResult* t : g.ok)
        if (split && t->metrics.count(*split)) epochs.push_back(static_cast<double>(t->best_epoch));
      cells.push_back(std::to_string(epochs.size()));
      cells.push_back(std::to_string(g.failed.size()));
      for (const auto& [name, field] : metrics) {
        Stat s = split ? split_stat(g, *split, field) : Stat{};
        for (double v : {s.mean, s.std, s.min, s.max}) cells.push_back(s.n ? fmt_num(v) : "");
      }
      cells.push_back(epochs.empty() ? "" : fmt_num(describe(epochs).mean));
      out += row(cells);
    }
  }
  return out;
}

std::string curves_csv(const std::vector<TrialResult>& trials) {
  std::string out = row({"trial", "seed", "kind", "lambda", "init", "epoch", "train_loss",
                         "train_ce", "dev_micro_f1", "test_micro_f1", "lr", "penalty_share", "anchor_dist"});
  for (const TrialResult* t : sorted_trials(trials)) {
    std::vector<EpochPoint> curve = t->curve;
    std::stable_sort(curve.begin(), curve.end(),
                     [](const EpochPoint& a, const EpochPoint& b) { return a.epoch < b.epoch; });
    for (const EpochPoint& p : curve)
      out += row({t->key.id(), std::to_string(t->key.seed), name_of(t->key.kind), lambda_cell(*t), name_or_empty(t->init),
                  std::to_string(p.epoch), fmt_num(p.train_loss), fmt_num(p.train_ce),
                  fmt_num(p.dev_micro_f1), fmt_num(p.test_micro_f1), fmt_num(p.lr),
                  t->key.kind == TrialKind::anchored && p.train_loss > 0 ? fmt_num((p.train_loss - p.train_ce) / p.train_loss) : "",
                  std::isfinite(p.anchor_dist) ? fmt_num(p.anchor_dist) : ""});
  }
  return out;
}

}  // namespace anchorsweep
