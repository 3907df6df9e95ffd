// load_corpus: reads the five splits, derives the label set from A's training data and checks
// that everything else fits it. The checks live here (not in config/) because they need the data.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "data/example.hpp"
#include "data/feature_files.hpp"

namespace anchorsweep {

int64_t Corpus::label_index(const std::string& label) const {
  // A linear search: given features keep their model's column order, which need not be sorted.
  auto it = std::find(labels.begin(), labels.end(), label);
  return it == labels.end() ? -1 : static_cast<int64_t>(it - labels.begin());
}

namespace {

using Reader = std::vector<Example> (*)(const std::string&);

void read_split(Split& split, const std::string& name, const std::string& path, Reader reader,
                DataFormat format) {
  if (path.empty())
    throw InputError("data." + name + ": no path given (needed for format \"" + std::string(name_of(format)) + "\")");
  split.name = name;
  split.path = path;
  split.examples = reader(path);
  // An empty split would only fail much later, as a division by zero in some metric.
  if (split.examples.empty()) throw InputError(path + ": no records");
}

std::vector<std::string> sorted_labels(const Split& split) {
  std::set<std::string> unique;
  for (const auto& ex : split.examples) unique.insert(ex.label);
  std::vector<std::string> labels(unique.begin(), unique.end());
  std::sort(labels.begin(), labels.end());  // std::set order already, but the contract is std::sort
  return labels;
}

// "\"a\", \"b\", \"c\", ... (19 in all)": enough to spot a typo without flooding the terminal.
std::string first_few(const std::vector<std::string>& labels) {
  constexpr size_t kShown = 8;
  std::string out;
  for (size_t i = 0; i < labels.size() && i < kShown; ++i)
    out += (i ? ", \"" : "\"") + labels[i] + "\"";
  if (labels.size() > kShown) out += ", ... (" + std::to_string(labels.size()) + " in all)";
  return out;
}

void check_labels(const Corpus& corpus, const Split& split, const char* label_key) {
  for (size_t i = 0; i < split.examples.size(); ++i) {
    const std::string& label = split.examples[i].label;
    if (corpus.label_index(label) < 0)
      throw InputError(split.path + ": record " + std::to_string(i) + ": " + label_key +
                       ": label \"" + label +
                       "\" is not in A's label set (data sets A and B must share labels)");
  }
}

void bound_lengths(Corpus& corpus, int64_t max_tokens) {
  for (Split* split : {&corpus.a_train, &corpus.a_dev, &corpus.b_train, &corpus.b_dev, &corpus.b_test}) {
    for (size_t i = 0; i < split->examples.size(); ++i) {
      Example& ex = split->examples[i];
      corpus.longest = std::max<int64_t>(corpus.longest, static_cast<int64_t>(ex.tokens.size()));
      try {
        corpus.truncated += truncate_example(ex, max_tokens);
      } catch (const InputError& e) {
        throw InputError(split->path + ": record " + std::to_string(i) + ": " + e.what());
      }
    }
  }
}

}  // namespace

Corpus load_corpus(const DataConfig& data) {
  if (data.format == DataFormat::features) return features_corpus(data);
  if (data.format == DataFormat::synthetic) {
    Corpus corpus = generate_synthetic(data.synthetic, data.negative_label);
    bound_lengths(corpus, data.max_tokens);
    return corpus;
  }

  // tacred or jsonl: the two readers of sentence files.
  const bool tacred = data.format == DataFormat::tacred;
  const Reader reader = tacred ? read_tacred : read_jsonl;
  const char* label_key = tacred ? "relation" : "label";

  Corpus corpus;
  read_split(corpus.a_train, "a_train", data.a_train, reader, data.format);
  read_split(corpus.a_dev, "a_dev", data.a_dev, reader, data.format);
  read_split(corpus.b_train, "b_train", data.b_train, reader, data.format);
  read_split(corpus.b_dev, "b_dev", data.b_dev, reader, data.format);
  read_split(corpus.b_test, "b_test", data.b_test, reader, data.format);

  corpus.labels = sorted_labels(corpus.a_train);
  corpus.negative_index = corpus.label_index(data.negative_label);
  if (corpus.negative_index < 0)
    throw InputError(corpus.a_train.path + ": data.negative_label: \"" + data.negative_label +
                     "\" does not occur in A's training data (labels seen: " +
                     first_few(corpus.labels) + ")");

  if (corpus.labels.size() < 2)
    throw InputError(corpus.a_train.path + ": A's training data has only the label \"" + corpus.labels.front() +
                     "\": a classifier needs at least one relation besides the negative label");
  // Labels of A that B never uses are fine (B may be a narrower domain); the reverse is not,
  // because the frozen model has no output for them.
  for (const Split* split : {&corpus.a_dev, &corpus.b_train, &corpus.b_dev, &corpus.b_test})
    check_labels(corpus, *split, label_key);
  bound_lengths(corpus, data.max_tokens);
  return corpus;
}

}  // namespace anchorsweep
