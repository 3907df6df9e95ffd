#include "report/baseline_check.hpp"

#include <algorithm>

#include "report/format.hpp"

namespace anchorsweep {

std::optional<BrokenBaseline> broken_baseline(const Group& g) {
  const Stat dev = split_stat(g, EvalSplit::dev, &Scores::micro_f1);
  if (dev.n == 0) return std::nullopt;
  std::vector<int64_t> pred, gold;
  for (const TrialResult* t : g.ok) {
    pred.resize(std::max(pred.size(), t->test_pred_counts.size()), 0);
    gold.resize(std::max(gold.size(), t->test_gold_counts.size()), 0);
    for (size_t c = 0; c < t->test_pred_counts.size(); ++c) pred[c] += t->test_pred_counts[c];
    for (size_t c = 0; c < t->test_gold_counts.size(); ++c) gold[c] += t->test_gold_counts[c];
  }
  BrokenBaseline b;
  b.dev_micro_f1 = dev.mean;
  int64_t total_pred = 0, total_gold = 0;
  for (auto v : pred) total_pred += v;
  for (auto v : gold) total_gold += v;
  if (total_pred > 0) {
    b.top_label = std::max_element(pred.begin(), pred.end()) - pred.begin();
    b.top_share = static_cast<double>(pred[b.top_label]) / static_cast<double>(total_pred);
    if (total_gold > 0 && static_cast<size_t>(b.top_label) < gold.size())
      b.gold_share = static_cast<double>(gold[b.top_label]) / static_cast<double>(total_gold);
  }
  const bool one_label = total_pred > 0 && b.top_share >= kOneLabelShare && b.gold_share < kOneLabelGoldBelow;
  if (dev.mean < kNearZeroF1 || one_label) return b;
  return std::nullopt;
}

Finding check_baselines(const std::vector<Group>& groups, const std::vector<std::string>& labels) {
  const std::string title = "a baseline looks broken";
  std::vector<std::string> found;
  for (const Group& g : groups) {
    if (g.key.kind == TrialKind::anchored) continue;
    const auto b = broken_baseline(g);
    if (!b) continue;
    std::string s = group_label(g.key, false) + " scores " + fmt_pct(b->dev_micro_f1) + "% dev micro-F1";
    if (b->top_label >= 0) {
      const std::string name = static_cast<size_t>(b->top_label) < labels.size() ? "\"" + labels[b->top_label] + "\""
                                                                                 : "label " + std::to_string(b->top_label);
      s += " and predicts " + name + " for " + fmt_pct(b->top_share) + "% of B test (gold: " + fmt_pct(b->gold_share) + "%)";
    }
    s += g.key.kind == TrialKind::scratch
             ? ": it has not learned B's classes, so a margin over it says nothing about λ. Scratch trains with "
               "[pretrain]'s settings on B's few examples: give it more epochs (pretrain.epochs) or a larger "
               "pretrain.lr, or balance B's classes"
             : ": the pretrained model does not carry over to B; check that A and B share their labels "
               "(data.negative_label, the label names) and that pretraining converged (Run facts: A-dev micro-F1)";
    found.push_back(s);
  }
  if (found.empty())
    return {Level::ok, "the baselines look sound", "every baseline predicts more than one label and scores above " + fmt_pct(kNearZeroF1) + "% dev micro-F1"};
  std::string text;
  for (const auto& f : found) text += (text.empty() ? "" : "; ") + f;
  return {Level::warning, title, text};
}

}  // namespace anchorsweep
