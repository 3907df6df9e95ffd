// Classification metrics as pure functions on label-index vectors.
//
// TACRED micro-averaging with a negative label N (no_relation, Other):
//   correct   = #{i : pred_i == gold_i != N}
//   predicted = #{i : pred_i != N}         guessed positives
//   gold      = #{i : gold_i != N}         true positives available
//   P = correct / predicted  (1 when nothing positive is predicted, as the official scorer does)
//   R = correct / gold       (0 when there is no gold positive)
//   F1 = 2PR / (P + R)       (0 when P + R = 0)
// A wrong positive label (pred = A, gold = B, both positive) counts against P and R at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/scores.hpp"

namespace anchorsweep {

Scores score(const std::vector<int64_t>& gold, const std::vector<int64_t>& pred,
             int64_t negative, int64_t num_classes);

// F1 of each class c (the negative one too), one-vs-rest; 0 where c is neither gold nor predicted.
std::vector<double> per_class_f1(const std::vector<int64_t>& gold, const std::vector<int64_t>& pred,
                                 int64_t num_classes);

// How often each label occurs in `labels` (gold or predicted), indexed by label.
std::vector<int64_t> label_counts(const std::vector<int64_t>& labels, int64_t num_classes);

// `anchorsweep score`: two files of one label per line, like the official TACRED scorer.
// Throws InputError naming the file and line when the line counts differ or a line is empty.
Scores score_files(const std::string& gold_path, const std::string& pred_path,
                   const std::string& negative_label);

}  // namespace anchorsweep
