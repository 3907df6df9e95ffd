// Bounding sentence length: a 200,000-token record would otherwise pad its whole split to
// 200,000 columns on every rank. The two entities are what the model classifies, so they stay.
#include <algorithm>

#include "data/example.hpp"

namespace anchorsweep {

bool truncate_example(Example& ex, int64_t max_tokens) {
  const int64_t n = static_cast<int64_t>(ex.tokens.size());
  if (n <= max_tokens) return false;
  std::vector<char> keep(n, 0);
  int64_t kept = 0;
  auto mark = [&](int64_t from, int64_t to) {
    for (int64_t i = std::max<int64_t>(0, from); i <= std::min(n - 1, to); ++i)
      if (!keep[i]) keep[i] = 1, ++kept;
  };
  const bool spans = ex.subj_start >= 0 && ex.obj_start >= 0;
  // Edges that grow outwards one token at a time, in turn, until the budget is spent.
  std::vector<std::pair<int64_t, int64_t>> edges;  // (next index, step)
  if (!spans) {
    mark(0, max_tokens - 1);
  } else {
    const int64_t lo = std::min(ex.subj_start, ex.obj_start), hi = std::max(ex.subj_end, ex.obj_end);
    if (hi - lo + 1 <= max_tokens) {
      mark(lo, hi);  // both entities and everything between them fit: one window
      edges = {{lo - 1, -1}, {hi + 1, +1}};
    } else {
      mark(ex.subj_start, ex.subj_end);
      mark(ex.obj_start, ex.obj_end);
      if (kept > max_tokens)
        throw InputError("entity spans alone are " + std::to_string(kept) + " tokens, more than data.max_tokens = " +
                         std::to_string(max_tokens));
      // Far-apart entities: a window around each; the tokens between the windows are dropped.
      edges = {{ex.subj_start - 1, -1}, {ex.subj_end + 1, +1}, {ex.obj_start - 1, -1}, {ex.obj_end + 1, +1}};
    }
    bool grew = true;
    while (kept < max_tokens && grew) {
      grew = false;
      for (auto& [at, step] : edges) {
        if (kept >= max_tokens) break;
        while (at >= 0 && at < n && keep[at]) at += step;  // ran into the other window
        if (at < 0 || at >= n) continue;
        keep[at] = 1, ++kept, at += step, grew = true;
      }
    }
  }
  // Re-index: token i moves to the number of kept tokens before it.
  std::vector<int64_t> new_index(n, -1);
  std::vector<std::string> tokens;
  tokens.reserve(kept);
  for (int64_t i = 0; i < n; ++i)
    if (keep[i]) new_index[i] = static_cast<int64_t>(tokens.size()), tokens.push_back(std::move(ex.tokens[i]));
  ex.tokens = std::move(tokens);
  if (spans) {
    ex.subj_start = new_index[ex.subj_start];
    ex.subj_end = new_index[ex.subj_end];
    ex.obj_start = new_index[ex.obj_start];
    ex.obj_end = new_index[ex.obj_end];
  }
  return true;
}

}  // namespace anchorsweep
