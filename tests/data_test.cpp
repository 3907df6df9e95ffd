// Tests for data/: the TACRED and JSONL readers, the synthetic generator and load_corpus.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include "common/files.hpp"
#include "config/config.hpp"
#include "data/example.hpp"
#include "posix_fs.hpp"

namespace anchorsweep {
namespace {

namespace fs = anchorsweep::testing::fs;

// A fresh directory per test, so tests can run in parallel and leave nothing behind.
class DataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() + "/anchorsweep_data_test_" + std::to_string(::getpid()) + "_" + info->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  std::string dir_;
};

// Runs `fn`, expects an InputError, returns its message.
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an InputError";
  return "";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_TRUE(contains(haystack, needle)) << "message: " << (haystack) << "\nmissing: " << (needle)

const char* kGoodRecord =
    R"({"id": "x1", "token": ["Bill", "Gates", "founded", "Microsoft", "."], "relation": "org:founded_by",
        "subj_start": 3, "subj_end": 3, "obj_start": 0, "obj_end": 1,
        "subj_type": "ORGANIZATION", "obj_type": "PERSON", "stanford_pos": ["NNP"], "docid": 7})";

// A valid TACRED record with one field replaced or removed (value "" removes it).
std::string tacred_record(const std::string& field, const std::string& value) {
  std::map<std::string, std::string> f = {
      {"token", R"(["a", "b", "c", "d", "e", "f", "g", "h"])"},
      {"relation", R"("per:title")"},
      {"subj_start", "0"}, {"subj_end", "1"}, {"obj_start", "3"}, {"obj_end", "3"},
      {"subj_type", R"("PERSON")"}, {"obj_type", R"("TITLE")"}};
  if (value.empty())
    f.erase(field);
  else
    f[field] = value;
  std::string out = "{";
  for (const auto& [k, v] : f) out += (out.size() > 1 ? ", \"" : "\"") + k + "\": " + v;
  return out + "}";
}

// ---------------------------------------------------------------- TACRED reader

TEST_F(DataTest, TacredParsesFieldsAndIgnoresExtras) {
  auto path = write("t.json", std::string("[") + kGoodRecord + "]");
  auto examples = read_tacred(path);
  ASSERT_EQ(examples.size(), 1u);
  const Example& ex = examples[0];
  EXPECT_EQ(ex.tokens, (std::vector<std::string>{"Bill", "Gates", "founded", "Microsoft", "."}));
  EXPECT_EQ(ex.label, "org:founded_by");
  EXPECT_EQ(ex.subj_start, 3);
  EXPECT_EQ(ex.subj_end, 3);
  EXPECT_EQ(ex.obj_start, 0);
  EXPECT_EQ(ex.obj_end, 1);
  EXPECT_EQ(ex.subj_type, "ORGANIZATION");
  EXPECT_EQ(ex.obj_type, "PERSON");
}

TEST_F(DataTest, TacredAcceptsTokensKeyAndMissingTypes) {
  auto path = write("t.json", R"([{"tokens": ["x", "y"], "relation": "r",
      "subj_start": 0, "subj_end": 0, "obj_start": 1, "obj_end": 1}])");
  auto examples = read_tacred(path);
  ASSERT_EQ(examples.size(), 1u);
  EXPECT_EQ(examples[0].tokens, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(examples[0].subj_type, "");
  EXPECT_EQ(examples[0].obj_type, "");
}

TEST_F(DataTest, TacredEmptyArrayIsNoRecords) {
  EXPECT_TRUE(read_tacred(write("t.json", " [ ] ")).empty());
}

TEST_F(DataTest, TacredBadRecordsNamePathRecordAndField) {
  struct Case {
    std::string field, value, expected;
  };
  const std::vector<Case> cases = {
      {"subj_end", "9", "subj_end: span [0, 9] out of range for 8 tokens"},
      {"obj_start", "-1", "obj_start: negative index"},
      {"subj_start", "2", "subj_start: span [2, 1] starts after it ends"},
      {"token", "[]", "token: empty"},
      {"token", R"(["a", 3])", "token: element 1 is not a string"},
      {"token", "", "token: missing"},
      {"relation", "", "relation: missing"},
      {"relation", "5", "relation: expected a string"},
      {"relation", R"("")", "relation: empty"},
      {"obj_end", "", "obj_end: missing"},
      {"obj_end", "3.5", "obj_end: expected an integer"},
      {"subj_type", "1", "subj_type: expected a string"},
  };
  for (const auto& c : cases) {
    // The bad record is the third one, so the index must be 2.
    const std::string good = tacred_record("relation", R"("per:title")");
    auto path = write("bad.json", "[" + good + ", " + good + ", " + tacred_record(c.field, c.value) + "]");
    std::string msg = error_of([&] { read_tacred(path); });
    EXPECT_CONTAINS(msg, path + ": record 2: " + c.expected);
  }
}

TEST_F(DataTest, TacredRecordMustBeObject) {
  auto path = write("t.json", "[1]");
  EXPECT_CONTAINS(error_of([&] { read_tacred(path); }), path + ": record 0: expected a JSON object");
}

TEST_F(DataTest, TacredMalformedJson) {
  auto path = write("t.json", R"([{"token": ["a"], )");
  std::string msg = error_of([&] { read_tacred(path); });
  EXPECT_CONTAINS(msg, path + ": malformed JSON: ");
  EXPECT_FALSE(contains(msg, "[json.exception"));
}

TEST_F(DataTest, TacredNotAnArray) {
  auto path = write("t.json", R"({"token": ["a"]})");
  EXPECT_CONTAINS(error_of([&] { read_tacred(path); }), path + ": expected a JSON array");
}

TEST_F(DataTest, MissingFile) {
  const std::string path = dir_ + "/nope.json";
  EXPECT_CONTAINS(error_of([&] { read_tacred(path); }), path + ": cannot read: ");
  EXPECT_CONTAINS(error_of([&] { read_jsonl(path); }), path + ": cannot read: ");
}

// ---------------------------------------------------------------- JSONL reader

TEST_F(DataTest, JsonlParsesOptionalSpansAndSkipsBlankLines) {
  auto path = write("d.jsonl",
                    "{\"tokens\": [\"a\", \"b\", \"c\"], \"label\": \"r1\", \"subj_start\": 0, "
                    "\"subj_end\": 0, \"obj_start\": 2, \"obj_end\": 2, \"subj_type\": \"T\"}\n"
                    "\n"
                    "   \r\n"
                    "{\"tokens\": [\"x\"], \"label\": \"none\", \"extra\": {\"nested\": true}}\r\n"
                    "{\"tokens\": [\"y\", \"z\"], \"label\": \"r2\", \"obj_type\": null}");  // no final \n
  auto examples = read_jsonl(path);
  ASSERT_EQ(examples.size(), 3u);
  EXPECT_EQ(examples[0].label, "r1");
  EXPECT_EQ(examples[0].subj_start, 0);
  EXPECT_EQ(examples[0].obj_end, 2);
  EXPECT_EQ(examples[0].subj_type, "T");
  EXPECT_EQ(examples[0].obj_type, "");
  EXPECT_EQ(examples[1].tokens, std::vector<std::string>{"x"});
  EXPECT_EQ(examples[1].subj_start, -1);
  EXPECT_EQ(examples[1].subj_end, -1);
  EXPECT_EQ(examples[1].obj_start, -1);
  EXPECT_EQ(examples[1].obj_end, -1);
  EXPECT_EQ(examples[2].tokens, (std::vector<std::string>{"y", "z"}));
}

TEST_F(DataTest, JsonlErrorsCarryLineAndRecord) {
  const std::string good = R"({"tokens": ["a", "b"], "label": "r"})";
  struct Case {
    std::string line, expected;
  };
  const std::vector<Case> cases = {
      {R"({"tokens": ["a"], "label": )", "malformed JSON: "},
      {R"([1, 2])", "expected a JSON object"},
      {R"({"tokens": [], "label": "r"})", "tokens: empty"},
      {R"({"tokens": ["a"]})", "label: missing"},
      {R"({"tokens": ["a", "b"], "label": "r", "subj_start": 0})", "subj_end: missing"},
      {R"({"tokens": ["a", "b"], "label": "r", "subj_start": 0, "subj_end": 0})",
       "obj_start: missing"},
      {R"({"tokens": ["a", "b"], "label": "r", "subj_start": 0, "subj_end": 0, "obj_start": 1, "obj_end": 2})",
       "obj_end: span [1, 2] out of range for 2 tokens"},
  };
  for (const auto& c : cases) {
    // Lines: 1 good, 2 blank, 3 good, 4 blank, 5 bad -> line 5, record 2.
    auto path = write("bad.jsonl", good + "\n\n" + good + "\n  \n" + c.line + "\n" + good + "\n");
    std::string msg = error_of([&] { read_jsonl(path); });
    EXPECT_CONTAINS(msg, path + ":5: record 2: " + c.expected);
  }
}

// ---------------------------------------------------------------- synthetic generator

SyntheticSizes small_sizes() {
  SyntheticSizes s;
  s.a_train = 1000;
  s.a_dev = 200;
  s.b_train = 300;
  s.b_dev = 200;
  s.b_test = 200;
  s.num_classes = 12;
  s.negative_fraction = 0.7;
  s.vocab_size = 300;
  s.min_len = 8;
  s.max_len = 20;
  return s;
}

std::vector<const Split*> splits_of(const Corpus& c) {
  return {&c.a_train, &c.a_dev, &c.b_train, &c.b_dev, &c.b_test};
}

bool same_examples(const Split& x, const Split& y) {
  if (x.examples.size() != y.examples.size()) return false;
  for (size_t i = 0; i < x.examples.size(); ++i) {
    const Example &a = x.examples[i], &b = y.examples[i];
    if (a.tokens != b.tokens || a.label != b.label || a.subj_start != b.subj_start ||
        a.subj_end != b.subj_end || a.obj_start != b.obj_start || a.obj_end != b.obj_end ||
        a.subj_type != b.subj_type || a.obj_type != b.obj_type)
      return false;
  }
  return true;
}

TEST(Synthetic, Deterministic) {
  auto s = small_sizes();
  Corpus c1 = generate_synthetic(s, "no_relation");
  Corpus c2 = generate_synthetic(s, "no_relation");
  for (size_t i = 0; i < 5; ++i) EXPECT_TRUE(same_examples(*splits_of(c1)[i], *splits_of(c2)[i]));
  EXPECT_EQ(c1.labels, c2.labels);
  s.data_seed += 1;
  Corpus c3 = generate_synthetic(s, "no_relation");
  EXPECT_FALSE(same_examples(c1.a_train, c3.a_train));
}

// Pins the generator's output byte for byte: it must be the same on every machine, and if it
// changes on purpose, every recorded synthetic result changes with it, so update this knowingly.
std::string fingerprint(const Corpus& c) {
  std::string text;
  for (const Split* split : splits_of(c))
    for (const auto& ex : split->examples) {
      for (const auto& t : ex.tokens) text += t + " ";
      text += "| " + ex.label + " " + std::to_string(ex.subj_start) + " " +
              std::to_string(ex.subj_end) + " " + std::to_string(ex.obj_start) + " " +
              std::to_string(ex.obj_end) + " " + ex.subj_type + " " + ex.obj_type + "\n";
    }
  return fnv1a_hex(text);
}

TEST(Synthetic, GoldenFingerprint) {
  EXPECT_EQ(fingerprint(generate_synthetic(SyntheticSizes{}, "no_relation")), "734655b60a81b2b2");
}

TEST(Synthetic, SizesLabelsAndSpans) {
  const auto s = small_sizes();
  Corpus c = generate_synthetic(s, "no_relation");
  EXPECT_EQ(c.num_classes(), s.num_classes);
  EXPECT_TRUE(std::is_sorted(c.labels.begin(), c.labels.end()));
  EXPECT_EQ(c.labels[c.negative_index], "no_relation");
  EXPECT_EQ(c.label_index("rel_01"), c.negative_index + 1);  // "no_relation" < "rel_..."
  EXPECT_EQ(c.label_index("rel_11"), 11);
  EXPECT_EQ(c.label_index("rel_12"), -1);

  const std::vector<std::pair<std::string, int64_t>> expected = {
      {"a_train", s.a_train}, {"a_dev", s.a_dev}, {"b_train", s.b_train},
      {"b_dev", s.b_dev}, {"b_test", s.b_test}};
  auto splits = splits_of(c);
  for (size_t i = 0; i < splits.size(); ++i) {
    const Split& split = *splits[i];
    EXPECT_EQ(split.name, expected[i].first);
    EXPECT_EQ(split.path, "synthetic:" + expected[i].first);
    ASSERT_EQ(static_cast<int64_t>(split.examples.size()), expected[i].second);
    int64_t negatives = 0;
    for (const auto& ex : split.examples) {
      const auto n = static_cast<int64_t>(ex.tokens.size());
      EXPECT_GE(n, s.min_len);
      EXPECT_LE(n, s.max_len);
      EXPECT_GE(c.label_index(ex.label), 0) << ex.label;
      EXPECT_TRUE(0 <= ex.subj_start && ex.subj_start <= ex.subj_end && ex.subj_end < n);
      EXPECT_TRUE(0 <= ex.obj_start && ex.obj_start <= ex.obj_end && ex.obj_end < n);
      // Subject and object never overlap.
      EXPECT_TRUE(ex.subj_end < ex.obj_start || ex.obj_end < ex.subj_start);
      EXPECT_FALSE(ex.subj_type.empty());
      negatives += ex.label == "no_relation";
    }
    const double fraction = static_cast<double>(negatives) / static_cast<double>(split.examples.size());
    EXPECT_NEAR(fraction, s.negative_fraction, 0.05) << split.name;
  }
  // Every class occurs in A's training data.
  std::set<std::string> seen;
  for (const auto& ex : c.a_train.examples) seen.insert(ex.label);
  EXPECT_EQ(static_cast<int64_t>(seen.size()), s.num_classes);
}

TEST(Synthetic, DefaultSizesHave42Classes) {
  Corpus c = generate_synthetic(SyntheticSizes{}, "no_relation");
  EXPECT_EQ(c.num_classes(), 42);
  EXPECT_EQ(c.labels.back(), "rel_41");
  EXPECT_EQ(c.a_train.examples.size(), 2000u);
}

// The signal: positives have a cue word ("c...") between the entities, negatives never do.
TEST(Synthetic, CuesSitBetweenEntitiesOnlyForPositives) {
  Corpus c = generate_synthetic(small_sizes(), "no_relation");
  for (const auto& ex : c.a_train.examples) {
    const int64_t lo = std::min(ex.subj_end, ex.obj_end) + 1;
    const int64_t hi = std::max(ex.subj_start, ex.obj_start);
    int cues = 0;
    for (int64_t i = lo; i < hi; ++i) cues += ex.tokens[i][0] == 'c';
    if (ex.label == "no_relation")
      EXPECT_EQ(cues, 0);
    else
      EXPECT_GE(cues, 1);
  }
}

TEST(Synthetic, DomainShiftChangesBButNotA) {
  auto s = small_sizes();
  s.domain_shift = 0;
  Corpus same = generate_synthetic(s, "no_relation");
  s.domain_shift = 1;
  Corpus shifted = generate_synthetic(s, "no_relation");
  EXPECT_TRUE(same_examples(same.a_train, shifted.a_train));
  EXPECT_TRUE(same_examples(same.a_dev, shifted.a_dev));
  EXPECT_FALSE(same_examples(same.b_train, shifted.b_train));
  EXPECT_FALSE(same_examples(same.b_test, shifted.b_test));

  // With full shift, B's positive cues are words A never used; with none, all are A's.
  std::set<std::string> a_words;
  for (const auto& ex : same.a_train.examples) a_words.insert(ex.tokens.begin(), ex.tokens.end());
  auto new_cues = [&](const Corpus& c) {
    int64_t n = 0;
    for (const auto& ex : c.b_train.examples)
      for (const auto& t : ex.tokens) n += t[0] == 'c' && !a_words.count(t);
    return n;
  };
  EXPECT_EQ(new_cues(same), 0);
  EXPECT_GT(new_cues(shifted), 50);
}

TEST(Synthetic, RejectsBadSizes) {
  auto s = small_sizes();
  s.num_classes = 1;
  EXPECT_CONTAINS(error_of([&] { generate_synthetic(s, "no_relation"); }),
                  "data.synthetic.num_classes");
  EXPECT_CONTAINS(error_of([&] { generate_synthetic(small_sizes(), "rel_03"); }),
                  "data.negative_label");
}

// ---------------------------------------------------------------- load_corpus

class LoadCorpusTest : public DataTest {
 protected:
  std::string rec(const std::string& label) { return tacred_record("relation", "\"" + label + "\""); }

  DataConfig config(const std::string& b_test_label) {
    DataConfig d;
    d.format = DataFormat::tacred;
    d.negative_label = "no_relation";
    d.a_train = write("a_train.json", "[" + rec("zeta") + "," + rec("no_relation") + "," + rec("alpha") + "]");
    d.a_dev = write("a_dev.json", "[" + rec("alpha") + "]");
    d.b_train = write("b_train.json", "[" + rec("zeta") + "]");  // "alpha" absent from B: allowed
    d.b_dev = write("b_dev.json", "[" + rec("no_relation") + "]");
    d.b_test = write("b_test.json", "[" + rec("zeta") + "," + rec(b_test_label) + "]");
    return d;
  }
};

TEST_F(LoadCorpusTest, BuildsSortedLabelSet) {
  Corpus c = load_corpus(config("alpha"));
  EXPECT_EQ(c.labels, (std::vector<std::string>{"alpha", "no_relation", "zeta"}));
  EXPECT_EQ(c.negative_index, 1);
  EXPECT_EQ(c.a_train.name, "a_train");
  EXPECT_EQ(c.b_test.name, "b_test");
  EXPECT_EQ(c.b_test.path, dir_ + "/b_test.json");
  EXPECT_EQ(c.b_test.examples.size(), 2u);
}

TEST_F(LoadCorpusTest, NegativeLabelMissing) {
  DataConfig d = config("alpha");
  d.negative_label = "Other";
  std::string msg = error_of([&] { load_corpus(d); });
  EXPECT_CONTAINS(msg, d.a_train + ": data.negative_label: \"Other\" does not occur in A's training data");
  EXPECT_CONTAINS(msg, "\"alpha\", \"no_relation\", \"zeta\"");
}

TEST_F(LoadCorpusTest, BLabelNotInA) {
  DataConfig d = config("beta");
  std::string msg = error_of([&] { load_corpus(d); });
  EXPECT_CONTAINS(msg, d.b_test + ": record 1: relation: label \"beta\" is not in A's label set");
}

TEST_F(LoadCorpusTest, JsonlFormat) {
  DataConfig d;
  d.format = DataFormat::jsonl;
  const std::string line = R"({"tokens": ["a"], "label": "no_relation"})";
  d.a_train = write("a.jsonl", line + "\n" + R"({"tokens": ["a"], "label": "r"})" + "\n");
  d.a_dev = d.b_train = d.b_dev = write("o.jsonl", line + "\n");
  d.b_test = write("t.jsonl", line + "\n" + R"({"tokens": ["a"], "label": "q"})" + "\n");
  EXPECT_CONTAINS(error_of([&] { load_corpus(d); }), d.b_test + ": record 1: label: label \"q\"");
  d.b_test = d.a_train;
  EXPECT_EQ(load_corpus(d).labels, (std::vector<std::string>{"no_relation", "r"}));
  // An unknown data.format is a config error now (config_test, catalogue case 43): DataFormat is an enum.
}

TEST_F(LoadCorpusTest, SyntheticFormat) {
  DataConfig d;
  d.format = DataFormat::synthetic;
  d.synthetic = small_sizes();
  Corpus c = load_corpus(d);
  EXPECT_EQ(c.num_classes(), 12);
  EXPECT_EQ(c.b_dev.path, "synthetic:b_dev");
}

// ---------------------------------------------------------------- real data

TEST(RealData, SemevalADev) {
  const std::string path = "/work/shared/data/semeval2010-task8/a_dev.json";
  if (!fs::exists(path)) GTEST_SKIP() << path << " not present";
  auto examples = read_tacred(path);
  EXPECT_EQ(examples.size(), 500u);
  std::set<std::string> labels;
  for (const auto& ex : examples) labels.insert(ex.label);
  EXPECT_GE(labels.size(), 18u);
  EXPECT_TRUE(labels.count("Other"));
}

}  // namespace
}  // namespace anchorsweep
