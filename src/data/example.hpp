// Example, Split and Corpus: the data as read from disk or generated, before any tensors.
// Nothing in this header depends on LibTorch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace anchorsweep {

// One relation-classification instance. Spans are inclusive token indices, as in TACRED;
// -1 means the record has no span (JSONL allows that).
struct Example {
  std::vector<std::string> tokens;
  std::string label;
  int64_t subj_start = -1, subj_end = -1;
  int64_t obj_start = -1, obj_end = -1;
  std::string subj_type, obj_type;
};

struct Split {
  std::string name;                  // "a_train", "a_dev", "b_train", "b_dev", "b_test"
  std::string path;                  // file it came from, or "synthetic:<name>"
  std::vector<Example> examples;
};

struct FeatureData;  // data/feature_files.hpp

// The five splits of an experiment and the shared label set.
struct Corpus {
  Split a_train, a_dev, b_train, b_dev, b_test;
  int64_t truncated = 0;             // sentences cut to data.max_tokens
  int64_t longest = 0;               // longest sentence before cutting
  std::vector<std::string> labels;   // sorted (features: in column order); labels[negative_index] is the negative label
  int64_t negative_index = 0;
  // data.format = "features": B's splits as given features (no sentences in the splits above).
  std::shared_ptr<const FeatureData> features;

  int64_t num_classes() const { return static_cast<int64_t>(labels.size()); }
  int64_t label_index(const std::string& label) const;  // -1 when unknown
};

// Readers. A bad record (malformed JSON, empty tokens, span out of range, missing field)
// throws InputError "PATH: record I: what is wrong" (I counts from 0; for JSONL also the line).
std::vector<Example> read_tacred(const std::string& path);
std::vector<Example> read_jsonl(const std::string& path);

// Deterministic TACRED-like generator: same sizes and data_seed give the same corpus on every
// machine (its own integer RNG, no std::distribution, whose output differs between libraries).
Corpus generate_synthetic(const SyntheticSizes& sizes, const std::string& negative_label);

// Cuts a sentence longer than max_tokens to max_tokens tokens, keeping both entity spans whole:
// one window around both when they fit in it, else a window around each. Spans are re-indexed.
// Returns whether it cut anything; throws InputError when the spans alone exceed max_tokens.
bool truncate_example(Example& ex, int64_t max_tokens);

// Reads (or generates) all five splits as the config says, builds the label set from A train,
// and checks it: the negative label occurs in A train, and every label of A dev and of B is in
// A's label set (B may use fewer labels than A, never others). Errors name the file and record.
// Sentences longer than data.max_tokens are cut (truncate_example) and counted.
Corpus load_corpus(const DataConfig& data);

}  // namespace anchorsweep
