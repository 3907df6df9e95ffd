#include "data/vocab.hpp"

#include <algorithm>
#include <map>

namespace anchorsweep {

std::vector<std::string> model_tokens(const Example& ex, bool entity_masking) {
  std::vector<std::string> out = ex.tokens;
  if (!entity_masking) return out;
  // TACRED practice: the entity words themselves are replaced by their type, so the model
  // learns the relation from the context rather than memorising entity names.
  for (int64_t i = ex.subj_start; i >= 0 && i <= ex.subj_end; ++i)
    out[i] = "SUBJ-" + (ex.subj_type.empty() ? std::string("ENT") : ex.subj_type);
  for (int64_t i = ex.obj_start; i >= 0 && i <= ex.obj_end; ++i)
    out[i] = "OBJ-" + (ex.obj_type.empty() ? std::string("ENT") : ex.obj_type);
  return out;
}

Vocabulary Vocabulary::build(const std::vector<const Split*>& splits, int64_t min_count,
                             bool entity_masking) {
  std::map<std::string, int64_t> counts;
  for (const Split* s : splits)
    for (const Example& ex : s->examples)
      for (const std::string& w : model_tokens(ex, entity_masking)) ++counts[w];
  std::vector<std::pair<std::string, int64_t>> kept;
  for (auto& [w, c] : counts)
    if (c >= min_count) kept.emplace_back(w, c);
  std::stable_sort(kept.begin(), kept.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  Vocabulary v;
  v.words_ = {"<pad>", "<unk>"};
  for (auto& [w, c] : kept) v.words_.push_back(w);
  for (int64_t i = 0; i < v.size(); ++i) v.index_[v.words_[i]] = i;
  return v;
}

int64_t Vocabulary::id(const std::string& word) const {
  auto it = index_.find(word);
  return it == index_.end() ? kUnk : it->second;
}

}  // namespace anchorsweep
