#include "train/metrics.hpp"

#include <fstream>
#include <map>

#include "common/errors.hpp"

namespace anchorsweep {

Scores score(const std::vector<int64_t>& gold, const std::vector<int64_t>& pred, int64_t negative,
             int64_t num_classes) {
  Scores s;
  s.n = static_cast<int64_t>(gold.size());
  int64_t correct = 0, guessed = 0, available = 0, agree = 0;
  for (size_t i = 0; i < gold.size(); ++i) {
    if (gold[i] == pred[i]) ++agree;
    if (pred[i] != negative) ++guessed;
    if (gold[i] != negative) ++available;
    if (pred[i] != negative && pred[i] == gold[i]) ++correct;
  }
  // The official TACRED scorer: precision is 1 when nothing positive was guessed.
  s.micro_p = guessed > 0 ? double(correct) / guessed : 1.0;
  s.micro_r = available > 0 ? double(correct) / available : 0.0;
  s.micro_f1 = (s.micro_p + s.micro_r) > 0 ? 2 * s.micro_p * s.micro_r / (s.micro_p + s.micro_r) : 0.0;
  s.accuracy = s.n > 0 ? double(agree) / s.n : 0.0;

  // Macro-F1 over the positive classes that occur in gold or predictions.
  auto f1 = per_class_f1(gold, pred, num_classes);
  std::vector<bool> seen(num_classes, false);
  for (auto g : gold) seen[g] = true;
  for (auto p : pred) seen[p] = true;
  double sum = 0;
  int64_t classes = 0;
  for (int64_t c = 0; c < num_classes; ++c) {
    if (c == negative || !seen[c]) continue;
    sum += f1[c];
    ++classes;
  }
  s.macro_f1 = classes > 0 ? sum / classes : 0.0;
  return s;
}

std::vector<double> per_class_f1(const std::vector<int64_t>& gold, const std::vector<int64_t>& pred,
                                 int64_t num_classes) {
  std::vector<int64_t> tp(num_classes, 0), fp(num_classes, 0), fn(num_classes, 0);
  for (size_t i = 0; i < gold.size(); ++i) {
    if (gold[i] == pred[i]) {
      ++tp[gold[i]];
    } else {
      ++fp[pred[i]];
      ++fn[gold[i]];
    }
  }
  std::vector<double> f1(num_classes, 0.0);
  for (int64_t c = 0; c < num_classes; ++c) {
    int64_t denom = 2 * tp[c] + fp[c] + fn[c];
    f1[c] = denom > 0 ? 2.0 * tp[c] / denom : 0.0;
  }
  return f1;
}

static std::vector<std::string> read_labels(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot read");
  std::vector<std::string> labels;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    if (line.empty()) throw InputError(path + ":" + std::to_string(lineno) + ": empty label");
    labels.push_back(line);
  }
  return labels;
}

Scores score_files(const std::string& gold_path, const std::string& pred_path,
                   const std::string& negative_label) {
  auto gold = read_labels(gold_path);
  auto pred = read_labels(pred_path);
  if (gold.size() != pred.size())
    throw InputError(pred_path + ":" + std::to_string(std::min(gold.size(), pred.size()) + 1) +
                     ": has " + std::to_string(pred.size()) + " labels, but " + gold_path +
                     " has " + std::to_string(gold.size()));
  std::map<std::string, int64_t> index;
  index[negative_label] = 0;
  auto id = [&](const std::string& l) {
    auto it = index.find(l);
    if (it != index.end()) return it->second;
    int64_t k = static_cast<int64_t>(index.size());
    index[l] = k;
    return k;
  };
  std::vector<int64_t> g, p;
  for (size_t i = 0; i < gold.size(); ++i) {
    g.push_back(id(gold[i]));
    p.push_back(id(pred[i]));
  }
  return score(g, p, 0, static_cast<int64_t>(index.size()));
}

std::vector<int64_t> label_counts(const std::vector<int64_t>& labels, int64_t num_classes) {
  std::vector<int64_t> counts(num_classes, 0);
  for (int64_t l : labels) ++counts[l];
  return counts;
}

}  // namespace anchorsweep
