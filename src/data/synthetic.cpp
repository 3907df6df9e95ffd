// generate_synthetic: a TACRED-like corpus built from nothing but data_seed.
//
// Design (what a model can learn, and why A->B transfer is only partial):
//   * Each positive class owns kCuesPerClass "cue" words (c0, c1, ...). A positive sentence has one
//     or two of its class's cues BETWEEN the two entities; a negative sentence has none there.
//   * Cue words of random classes also appear OUTSIDE the between-region, in negatives and in some
//     positives, so a bag-of-words model is fooled and position-aware attention pays off.
//   * Each class prefers one (subj_type, obj_type) pair (used kTypeFidelity of the time), a weaker
//     second signal, as entity types are in TACRED.
//   * Positives are spread over classes with weights 1/(rank+3): mildly skewed, like TACRED.
//   * B's world is A's with a domain_shift share of every class's cues replaced by B-only words
//     and, with the same probability, the type preference re-drawn. A model trained on A is thus
//     partly wrong on B; 0 makes B a fresh sample of A's distribution.
//
// Determinism: a splitmix64 stream and integer arithmetic only (plus exact IEEE operations:
// products, comparisons, a 53-bit mantissa draw), so the same sizes give byte-identical data
// with any compiler and standard library. Every split and the B shift draw from their own stream,
// so changing one size or domain_shift leaves the other splits (and all of A) untouched.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "data/example.hpp"

namespace anchorsweep {
namespace {

constexpr int64_t kCuesPerClass = 3;
constexpr int64_t kEntityNames = 500;    // entity tokens e0..e499
constexpr int64_t kMaxEntityLen = 3;
constexpr int64_t kMaxExtraGap = 6;      // filler words between the entities beyond the cues
constexpr double kTypeFidelity = 0.8;    // share of positives that use their class's type pair
constexpr double kSubjFirst = 0.7;       // TACRED mostly names the subject first
constexpr double kNegativeDistractor = 0.5;  // negatives with 1-2 cue words outside the entities
constexpr double kPositiveDistractor = 0.3;  // positives with one foreign cue word outside

const std::vector<std::string> kEntityTypes = {"PERSON", "ORG", "LOC", "DATE", "MISC", "NUMBER"};

// splitmix64 (Steele, Lea, Flood 2014): tiny, well mixed, defined purely by 64-bit arithmetic.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n), n > 0. Rejects the few values that would bias the modulo.
  uint64_t below(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    uint64_t r;
    do r = next();
    while (r < threshold);
    return r % n;
  }

  // Uniform in [lo, hi], lo <= hi.
  int64_t between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
  }

  // Uniform in [0, 1) from the top 53 bits: exact, so identical everywhere.
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return unit() < p; }

  template <typename T>
  void shuffle(std::vector<T>& v) {  // Fisher-Yates; std::shuffle's algorithm is unspecified
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  uint64_t state_;
};

// Independent stream per purpose, so e.g. b_train's size does not shift b_dev's draws.
enum StreamTag : uint64_t { kWorldA = 1, kShiftB = 2, kSplitBase = 16 };

Rng stream(int64_t data_seed, uint64_t tag) {
  Rng mixer(static_cast<uint64_t>(data_seed) ^ (tag * 0xd1b54a32d192ed03ULL));
  return Rng(mixer.next());
}

struct ClassProfile {
  std::vector<std::string> cues;
  int64_t subj_type = 0, obj_type = 0;  // indices into kEntityTypes
};

// Everything a domain fixes before sentences are drawn. classes[k] is label_names[k].
struct World {
  std::vector<ClassProfile> classes;
};

std::string cue_word(int64_t id) { return "c" + std::to_string(id); }

World make_world_a(int64_t num_positive, Rng& rng) {
  World world;
  const auto num_types = static_cast<uint64_t>(kEntityTypes.size());
  for (int64_t k = 0; k < num_positive; ++k) {
    ClassProfile cls;
    for (int64_t j = 0; j < kCuesPerClass; ++j)
      cls.cues.push_back(cue_word(k * kCuesPerClass + j));
    cls.subj_type = static_cast<int64_t>(rng.below(num_types));
    cls.obj_type = static_cast<int64_t>(rng.below(num_types));
    world.classes.push_back(cls);
  }
  return world;
}

// B = A with a `shift` share of each class's cues replaced by fresh words. The count replaced is
// floor(shift * n) plus one more with the fractional probability, so the expected share is exact.
World make_world_b(const World& a, double shift, Rng& rng) {
  World b = a;
  int64_t next_cue = static_cast<int64_t>(a.classes.size()) * kCuesPerClass;
  const auto num_types = static_cast<uint64_t>(kEntityTypes.size());
  for (auto& cls : b.classes) {
    const double wanted = shift * static_cast<double>(cls.cues.size());
    auto replace = static_cast<size_t>(std::floor(wanted));
    if (rng.chance(wanted - std::floor(wanted))) ++replace;
    std::vector<size_t> order(cls.cues.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    rng.shuffle(order);
    for (size_t i = 0; i < replace && i < order.size(); ++i)
      cls.cues[order[i]] = cue_word(next_cue++);
    if (rng.chance(shift)) {
      cls.subj_type = static_cast<int64_t>(rng.below(num_types));
      cls.obj_type = static_cast<int64_t>(rng.below(num_types));
    }
  }
  return b;
}

// Zipf-ish integer weights 1/(rank+3), scaled: ratio ~14 between the first and 41st class.
std::vector<uint64_t> class_weights(int64_t num_positive) {
  std::vector<uint64_t> w;
  for (int64_t k = 0; k < num_positive; ++k) w.push_back(1000000 / static_cast<uint64_t>(k + 3));
  return w;
}

int64_t draw_class(const std::vector<uint64_t>& weights, uint64_t total, Rng& rng) {
  uint64_t r = rng.below(total);
  for (size_t k = 0; k < weights.size(); ++k) {
    if (r < weights[k]) return static_cast<int64_t>(k);
    r -= weights[k];
  }
  return static_cast<int64_t>(weights.size()) - 1;  // unreachable
}

// Class of every example (-1 = negative), in random order. The negative count is exact rather
// than Bernoulli so small dev splits still have the configured fraction; when there is room,
// every positive class occurs at least once, so no class is absent from a split by bad luck.
std::vector<int64_t> draw_classes(int64_t n, double negative_fraction, int64_t num_positive,
                                  Rng& rng) {
  int64_t n_neg = std::llround(static_cast<double>(n) * negative_fraction);
  if (num_positive == 0) n_neg = n;
  n_neg = std::min(std::max<int64_t>(n_neg, 0), n);
  std::vector<int64_t> classes(static_cast<size_t>(n_neg), -1);
  const int64_t n_pos = n - n_neg;
  if (n_pos >= num_positive)
    for (int64_t k = 0; k < num_positive; ++k) classes.push_back(k);
  const auto weights = class_weights(num_positive);
  uint64_t total = 0;
  for (auto w : weights) total += w;
  while (static_cast<int64_t>(classes.size()) < n)
    classes.push_back(draw_class(weights, total, rng));
  rng.shuffle(classes);
  return classes;
}

// k distinct positions from `slots` (k <= slots.size()), by a partial Fisher-Yates.
std::vector<int64_t> pick_slots(std::vector<int64_t> slots, int64_t k, Rng& rng) {
  for (int64_t i = 0; i < k; ++i) std::swap(slots[i], slots[i + rng.below(slots.size() - i)]);
  slots.resize(static_cast<size_t>(k));
  return slots;
}

// One sentence. `cls` is the positive class index, or -1 for a negative example.
Example make_example(int64_t cls, const World& world, const SyntheticSizes& sizes,
                     const std::vector<std::string>& label_names, const std::string& negative_label,
                     Rng& rng) {
  const bool positive = cls >= 0;
  const int64_t subj_len = rng.between(1, kMaxEntityLen);
  const int64_t obj_len = rng.between(1, kMaxEntityLen);
  const int64_t num_cues = positive ? rng.between(1, 2) : 0;
  // Too-short configured lengths are stretched to fit the entities and cues.
  const int64_t len = std::max(rng.between(sizes.min_len, sizes.max_len),
                               subj_len + obj_len + num_cues);
  const int64_t free = len - subj_len - obj_len;
  const int64_t gap = rng.between(num_cues, std::min(free, num_cues + kMaxExtraGap));
  const int64_t prefix = rng.between(0, free - gap);
  const bool subj_first = rng.chance(kSubjFirst);

  Example ex;
  ex.tokens.resize(static_cast<size_t>(len));
  const auto vocab = static_cast<uint64_t>(sizes.vocab_size);
  for (auto& t : ex.tokens) t = "w" + std::to_string(rng.below(vocab));

  const int64_t first_start = prefix, first_len = subj_first ? subj_len : obj_len;
  const int64_t second_start = prefix + first_len + gap;
  const int64_t second_len = subj_first ? obj_len : subj_len;
  for (int64_t i = 0; i < first_len; ++i)
    ex.tokens[first_start + i] = "e" + std::to_string(rng.below(kEntityNames));
  for (int64_t i = 0; i < second_len; ++i)
    ex.tokens[second_start + i] = "e" + std::to_string(rng.below(kEntityNames));
  if (subj_first) {
    ex.subj_start = first_start, ex.obj_start = second_start;
  } else {
    ex.obj_start = first_start, ex.subj_start = second_start;
  }
  ex.subj_end = ex.subj_start + subj_len - 1;
  ex.obj_end = ex.obj_start + obj_len - 1;

  // The signal: this class's cues between the entities.
  std::vector<int64_t> between_slots, outside_slots;
  for (int64_t i = first_start + first_len; i < second_start; ++i) between_slots.push_back(i);
  for (int64_t i = 0; i < first_start; ++i) outside_slots.push_back(i);
  for (int64_t i = second_start + second_len; i < len; ++i) outside_slots.push_back(i);
  if (positive) {
    const auto& cues = world.classes[cls].cues;
    for (int64_t slot : pick_slots(between_slots, num_cues, rng))
      ex.tokens[slot] = cues[rng.below(cues.size())];
  }

  // The distractors: cues of random classes where they do not count.
  int64_t distractors = 0;
  if (!positive && rng.chance(kNegativeDistractor)) distractors = rng.between(1, 2);
  if (positive && rng.chance(kPositiveDistractor)) distractors = 1;
  distractors = std::min<int64_t>(distractors, static_cast<int64_t>(outside_slots.size()));
  if (world.classes.empty()) distractors = 0;
  for (int64_t slot : pick_slots(outside_slots, distractors, rng)) {
    const auto& cues = world.classes[rng.below(world.classes.size())].cues;
    ex.tokens[slot] = cues[rng.below(cues.size())];
  }

  // Entity types: the class's preferred pair most of the time, otherwise random.
  const auto num_types = static_cast<uint64_t>(kEntityTypes.size());
  if (positive && rng.chance(kTypeFidelity)) {
    ex.subj_type = kEntityTypes[world.classes[cls].subj_type];
    ex.obj_type = kEntityTypes[world.classes[cls].obj_type];
  } else {
    ex.subj_type = kEntityTypes[rng.below(num_types)];
    ex.obj_type = kEntityTypes[rng.below(num_types)];
  }
  ex.label = positive ? label_names[cls] : negative_label;
  return ex;
}

Split make_split(const std::string& name, int64_t n, uint64_t tag, const World& world,
                 const SyntheticSizes& sizes, const std::vector<std::string>& label_names,
                 const std::string& negative_label) {
  Rng rng = stream(sizes.data_seed, tag);
  Split split;
  split.name = name;
  split.path = "synthetic:" + name;
  const auto num_positive = static_cast<int64_t>(world.classes.size());
  for (int64_t cls : draw_classes(n, sizes.negative_fraction, num_positive, rng))
    split.examples.push_back(make_example(cls, world, sizes, label_names, negative_label, rng));
  return split;
}

// "rel_01".."rel_41"; wider numbers when there are 100 or more classes, so sorting keeps order.
std::vector<std::string> positive_label_names(int64_t num_positive) {
  const size_t width = std::max<size_t>(2, std::to_string(num_positive).size());
  std::vector<std::string> names;
  for (int64_t k = 1; k <= num_positive; ++k) {
    std::string digits = std::to_string(k);
    names.push_back("rel_" + std::string(width - digits.size(), '0') + digits);
  }
  return names;
}

// config/ validates these too; repeated here because the generator's loops rely on them.
void check_sizes(const SyntheticSizes& s, const std::string& negative_label,
                 const std::vector<std::string>& names) {
  auto bad = [](const std::string& key, const std::string& what) {
    throw InputError("data.synthetic." + key + ": " + what);
  };
  if (s.num_classes < 2) bad("num_classes", "must be at least 2 (the negative label and one more)");
  if (s.vocab_size < 1) bad("vocab_size", "must be at least 1");
  if (s.min_len < 1) bad("min_len", "must be at least 1");
  if (s.max_len < s.min_len) bad("max_len", "must be at least min_len");
  if (!(s.negative_fraction >= 0 && s.negative_fraction <= 1))
    bad("negative_fraction", "must be in [0, 1]");
  if (!(s.domain_shift >= 0 && s.domain_shift <= 1)) bad("domain_shift", "must be in [0, 1]");
  for (int64_t n : {s.a_train, s.a_dev, s.b_train, s.b_dev, s.b_test})
    if (n < 0) bad("sizes", "split sizes must not be negative");
  if (negative_label.empty()) throw InputError("data.negative_label: empty");
  if (std::find(names.begin(), names.end(), negative_label) != names.end())
    throw InputError("data.negative_label: \"" + negative_label +
                     "\" clashes with a synthetic class name");
}

}  // namespace

Corpus generate_synthetic(const SyntheticSizes& sizes, const std::string& negative_label) {
  const int64_t num_positive = sizes.num_classes - 1;
  const auto names = positive_label_names(std::max<int64_t>(num_positive, 0));
  check_sizes(sizes, negative_label, names);

  Rng world_rng = stream(sizes.data_seed, kWorldA);
  const World world_a = make_world_a(num_positive, world_rng);
  Rng shift_rng = stream(sizes.data_seed, kShiftB);
  const World world_b = make_world_b(world_a, sizes.domain_shift, shift_rng);

  Corpus corpus;
  auto split = [&](const char* name, int64_t n, uint64_t tag, const World& world) {
    return make_split(name, n, kSplitBase + tag, world, sizes, names, negative_label);
  };
  corpus.a_train = split("a_train", sizes.a_train, 0, world_a);
  corpus.a_dev = split("a_dev", sizes.a_dev, 1, world_a);
  corpus.b_train = split("b_train", sizes.b_train, 2, world_b);
  corpus.b_dev = split("b_dev", sizes.b_dev, 3, world_b);
  corpus.b_test = split("b_test", sizes.b_test, 4, world_b);

  // The label set is every generated class, even one a tiny split happens to miss.
  corpus.labels = names;
  corpus.labels.push_back(negative_label);
  std::sort(corpus.labels.begin(), corpus.labels.end());
  corpus.negative_index = corpus.label_index(negative_label);
  return corpus;
}

}  // namespace anchorsweep
