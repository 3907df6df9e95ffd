// Vocabulary: word <-> id, built from the training files. Id 0 is padding, id 1 is UNK.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/example.hpp"

namespace anchorsweep {

class Vocabulary {
 public:
  static constexpr int64_t kPad = 0, kUnk = 1;

  // Words of the given splits seen at least min_count times, most frequent first (ties in
  // byte order), so the same data always gives the same ids. With entity masking the entity
  // tokens are replaced by SUBJ-<type> / OBJ-<type> first, as the model will see them.
  static Vocabulary build(const std::vector<const Split*>& splits, int64_t min_count,
                          bool entity_masking);

  int64_t id(const std::string& word) const;
  int64_t size() const { return static_cast<int64_t>(words_.size()); }
  const std::string& word(int64_t id) const { return words_.at(id); }

 private:
  std::vector<std::string> words_;
  std::unordered_map<std::string, int64_t> index_;
};

// The tokens the model reads: entity tokens masked when asked.
std::vector<std::string> model_tokens(const Example& ex, bool entity_masking);

}  // namespace anchorsweep
