// Tests for config/: parsing, validation messages (exact text and position), --set overrides,
// the resolved TOML, and the resume comparison.
#include "config/config.hpp"
#include "config/keys.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "common/files.hpp"
#include "posix_fs.hpp"

namespace anchorsweep {
namespace {

namespace fs = anchorsweep::testing::fs;

// A fresh directory under /tmp per test, removed afterwards.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/anchorsweep_config_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    fs::remove_all(dir_);
  }

  // Writes `text` to dir/name (creating subdirectories) and returns the full path.
  std::string write(const std::string& name, const std::string& text) {
    const std::string p = dir_ + "/" + name;
    fs::create_directories(parent_dir(p));
    std::ofstream(p) << text;
    return p;
  }

  SweepConfig load(const std::string& text, const std::vector<std::string>& sets = {}) {
    return load_config(write("config.toml", text), sets);
  }

  // The ConfigError message of loading `text`, or "" if it loaded.
  std::string error_of(const std::string& text, const std::vector<std::string>& sets = {}) {
    try {
      load(text, sets);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }

  std::string cfg() const { return dir_ + "/config.toml"; }

  std::string dir_;
};

TEST_F(ConfigTest, OneKeyGivesDefaultsAndTheRunIsNamedAfterTheFile) {
  const SweepConfig c = load("[data]\nformat = \"synthetic\"\n");
  EXPECT_EQ(c.run.name, "config");  // dir_/config.toml: never another sweep's name
  EXPECT_EQ(c.run.seeds, std::vector<int64_t>({1}));
  EXPECT_EQ(c.data.format, DataFormat::synthetic);
  EXPECT_EQ(c.data.synthetic.num_classes, 42);
  EXPECT_EQ(c.model.attention, Attention::position_aware);
  EXPECT_EQ(c.finetune.mode, FinetuneMode::cached);
  EXPECT_EQ(c.adapter.anchor.kind, AnchorKind::identity);
  EXPECT_EQ(c.sweep.lambdas, std::vector<double>({0.0, 0.01, 0.1, 1.0}));
  EXPECT_EQ(c.sweep.baselines, std::vector<TrialKind>({TrialKind::pretrained, TrialKind::scratch}));
  EXPECT_EQ(c.source_path, cfg());
  EXPECT_EQ(c.run_dir(), "runs/config");
  EXPECT_EQ(c.hash.size(), 16u);
  EXPECT_EQ(load_config(write("sweeps/lr-study.v2.toml", "[run]\nseeds = [1]\n")).run.name, "lr-study.v2");
  EXPECT_EQ(load_config(write("named.toml", "[run]\nname = \"other\"\n")).run.name, "other");
}

// An empty file is no sweep: all defaults would be a synthetic sweep nobody asked for.
TEST_F(ConfigTest, EmptyConfigIsRefused) {
  EXPECT_EQ(error_of(""), cfg() + ": the config is empty: set at least data.format (configs/demo.toml is a "
                                  "starting point; `anchorsweep keys` lists every key)");
  EXPECT_EQ(error_of("# only a comment\n"), error_of(""));
}

// Keys the chosen data format never reads are refused by name, not skipped in silence.
TEST_F(ConfigTest, KeysTheFormatIgnoresAreRefused) {
  EXPECT_EQ(error_of("[data]\nformat = \"synthetic\"\nb_test = \"/nope.json\"\n"),
            cfg() + ":3:10: data.b_test: is ignored when data.format is \"synthetic\" (the data is generated from "
                    "[data.synthetic]); remove it, or set data.format to the files' format (tacred, jsonl)");
  EXPECT_EQ(error_of("[data]\nformat = \"synthetic\"\n", {"data.a_dev=\"x.json\""}).rfind("--set data.a_dev=\"x.json\": data.a_dev: is ignored", 0), 0u);
  write("a.json", "[]");
  const std::string files = "[data]\nformat = \"tacred\"\na_train = \"a.json\"\na_dev = \"a.json\"\nb_train = \"a.json\"\n"
                            "b_dev = \"a.json\"\nb_test = \"a.json\"\n";
  EXPECT_EQ(error_of(files), "");
  EXPECT_EQ(error_of(files + "[data.synthetic]\nb_train = 10\n"),
            cfg() + ":8:1: data.synthetic: is ignored when data.format is \"tacred\" (the data comes from the files); "
                    "remove the table, or set data.format = \"synthetic\"");
  EXPECT_EQ(load(files).resolved_toml.find("[data.synthetic]"), std::string::npos);
}

// Run directories written before 0.2 spell [data.synthetic] for every format: they still load,
// and still compare equal to the config that made them.
TEST_F(ConfigTest, OlderRunConfigWithSyntheticTableStillLoadsAndCompares) {
  write("a.json", "[]");
  const SweepConfig now = load("[run]\nname = \"r\"\n[data]\nformat = \"tacred\"\na_train = \"a.json\"\na_dev = \"a.json\"\n"
                               "b_train = \"a.json\"\nb_dev = \"a.json\"\nb_test = \"a.json\"\n");
  const std::string older = now.resolved_toml + "\n[data.synthetic]\na_train = 4000\n";
  write("rundir/config.toml", older);
  write("rundir/a.json", "[]");
  EXPECT_EQ(load_run_config(dir_ + "/rundir").resolved_toml, now.resolved_toml);
  EXPECT_TRUE(incompatible_changes(older, now.resolved_toml).empty());
}

// Every key set to something other than its default.
const char* const kFullConfig = R"(
[run]
name = "exp-1.a_b"
output_dir = "/tmp/out"
seeds = [3, 1, 2]
threads = 4

[data]
format = "tacred"
a_train = "data/a_train.json"
a_dev = "data/a_dev.json"
b_train = "data/b_train.json"
b_dev = "data/b_dev.json"
b_test = "data/b_test.json"
negative_label = "none"
min_word_count = 2

[model]
word_dim = 50
pos_dim = 10
hidden = 64
layers = 2
attn_dim = 32
entity_masking = false
bidirectional = true
attention = "none"
dropout = 0.25

[pretrain]
epochs = 3
batch_size = 16
optimizer = "sgd"
lr = 1
lr_decay = 0.9
grad_clip = 0

[finetune]
epochs = 7
lr = 0.01
mode = "naive"
fuse = 8
frozen_dropout = true

[adapter]
init = "anchor"
anchor = "anchor.pt"

[penalty]
mode = "decoupled"
penalize_bias = true

[sweep]
lambdas = [1, 0.1, 0]
baselines = ["scratch"]
)";

TEST_F(ConfigTest, FullValidConfig) {
  for (const char* f : {"a_train.json", "a_dev.json", "b_train.json", "b_dev.json", "b_test.json"}) {
    write(std::string("data/") + f, "[]");
  }
  write("anchor.pt", "tensor");
  const SweepConfig c = load(kFullConfig);
  EXPECT_EQ(c.run.name, "exp-1.a_b");
  EXPECT_EQ(c.run.output_dir, "/tmp/out");
  EXPECT_EQ(c.run.seeds, std::vector<int64_t>({3, 1, 2}));
  EXPECT_EQ(c.run.threads, 4);
  EXPECT_EQ(c.data.format, DataFormat::tacred);
  EXPECT_EQ(c.data.a_train, dir_ + "/data/a_train.json");  // relative to the config file
  EXPECT_EQ(c.data.b_test, dir_ + "/data/b_test.json");
  EXPECT_EQ(c.data.negative_label, "none");
  EXPECT_EQ(c.data.min_word_count, 2);
  EXPECT_EQ(c.model.word_dim, 50);
  EXPECT_EQ(c.model.layers, 2);
  EXPECT_FALSE(c.model.entity_masking);
  EXPECT_TRUE(c.model.bidirectional);
  EXPECT_EQ(c.model.attention, Attention::none);
  EXPECT_DOUBLE_EQ(c.model.dropout, 0.25);
  EXPECT_EQ(c.pretrain.optimizer, Optimizer::sgd);
  EXPECT_DOUBLE_EQ(c.pretrain.lr, 1.0);  // an integer where a float is expected
  EXPECT_DOUBLE_EQ(c.pretrain.lr_decay, 0.9);
  EXPECT_EQ(c.pretrain.grad_clip, 0.0);
  EXPECT_EQ(c.finetune.epochs, 7);
  EXPECT_EQ(c.finetune.batch_size, 50);  // default kept
  EXPECT_DOUBLE_EQ(c.finetune.lr, 0.01);
  EXPECT_EQ(c.finetune.mode, FinetuneMode::naive);
  EXPECT_EQ(c.finetune.fuse, 8);
  EXPECT_TRUE(c.finetune.frozen_dropout);
  EXPECT_EQ(c.adapter.init, AdapterInit::anchor);
  EXPECT_EQ(c.adapter.anchor.kind, AnchorKind::file);
  EXPECT_EQ(c.adapter.anchor.path, dir_ + "/anchor.pt");
  EXPECT_EQ(c.penalty.mode, PenaltyMode::decoupled);
  EXPECT_TRUE(c.penalty.penalize_bias);
  EXPECT_EQ(c.sweep.lambdas, std::vector<double>({0.0, 0.1, 1.0}));  // sorted, deduplicated
  EXPECT_EQ(c.sweep.baselines, std::vector<TrialKind>({TrialKind::scratch}));
  EXPECT_EQ(c.run_dir(), "/tmp/out/exp-1.a_b");
  // Paths stay as written in the resolved TOML, so moving the checkout does not "change" it.
  EXPECT_NE(c.resolved_toml.find("a_train = \"data/a_train.json\""), std::string::npos) << c.resolved_toml;
}

TEST_F(ConfigTest, LogRangeWithZero) {
  const SweepConfig c = load("[sweep.range]\nmin = 0.001\nmax = 1\ncount = 4\ninclude_zero = true\n");
  ASSERT_EQ(c.sweep.lambdas.size(), 5u);
  const std::vector<double> expected = {0.0, 0.001, 0.01, 0.1, 1.0};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(c.sweep.lambdas[i], expected[i], 1e-15) << i;
  }
  EXPECT_EQ(c.sweep.lambdas.front(), 0.0);
  EXPECT_EQ(c.sweep.lambdas.back(), 1.0);  // endpoints exact
}

TEST_F(ConfigTest, LogRangeCountOneIsMin) {
  const SweepConfig c = load("[sweep.range]\nmin = 0.5\nmax = 8\ncount = 1\n");
  EXPECT_EQ(c.sweep.lambdas, std::vector<double>({0.5}));
}

TEST_F(ConfigTest, LambdasAndRangeTogetherIsAnError) {
  EXPECT_EQ(error_of("[sweep]\nlambdas = [1]\n[sweep.range]\nmin = 1\nmax = 2\ncount = 2\n"),
            cfg() + ":3:1: sweep.range: give either sweep.lambdas or sweep.range, not both");
}

TEST_F(ConfigTest, RangeMaxBelowMin) {
  EXPECT_EQ(error_of("[sweep.range]\nmin = 1\nmax = 0.5\ncount = 3\n"),
            cfg() + ":3:7: sweep.range.max: must be >= sweep.range.min (1), got 0.5");
}

TEST_F(ConfigTest, UnknownKeyIsLocated) {
  EXPECT_EQ(error_of("[model]\nhidden = 10\nhiden = 3\n"), cfg() + ":3:1: model.hiden: unknown key (did you mean model.hidden?)");
  // The closest known key is offered where it is near enough to be a typo, and only then.
  EXPECT_EQ(error_of("[pretrain]\nlr_decya = 0.5\n"), cfg() + ":2:1: pretrain.lr_decya: unknown key (did you mean pretrain.lr_decay?)");
  EXPECT_EQ(error_of("[finetune]\nfrozen_droput = true\n"),
            cfg() + ":2:1: finetune.frozen_droput: unknown key (did you mean finetune.frozen_dropout?)");
  EXPECT_EQ(error_of("[model]\ncompletely_else = 3\n"), cfg() + ":2:1: model.completely_else: unknown key");
}

TEST_F(ConfigTest, UnknownTableIsLocated) {
  EXPECT_EQ(error_of("[run]\nname = \"x\"\n\n[modle]\nhidden = 3\n"), cfg() + ":4:2: modle: unknown table (did you mean model?)");
}

TEST_F(ConfigTest, UnknownKeyReportedBeforeTheErrorItCauses) {
  // The typo'd key would otherwise surface as "data.a_train: required".
  write("a.json", "");
  const std::string err = error_of("[data]\nformat = \"jsonl\"\na_trian = \"a.json\"\n");
  EXPECT_EQ(err, cfg() + ":3:1: data.a_trian: unknown key (did you mean data.a_train?)");
}

TEST_F(ConfigTest, WrongType) {
  EXPECT_EQ(error_of("[pretrain]\nepochs = \"ten\"\n"),
            cfg() + ":2:10: pretrain.epochs: expected an integer, got string");
  EXPECT_EQ(error_of("[pretrain]\nepochs = 2.0\n"),
            cfg() + ":2:10: pretrain.epochs: expected an integer, got float");
  EXPECT_EQ(error_of("[model]\nbidirectional = 1\n"),
            cfg() + ":2:17: model.bidirectional: expected a boolean, got integer");
  EXPECT_EQ(error_of("run = 3\n"), cfg() + ":1:7: run: expected a table, got integer");
}

TEST_F(ConfigTest, NegativeLambdaNamesItsIndex) {
  EXPECT_EQ(error_of("[sweep]\nlambdas = [0, 0.1, -0.5]\n"),
            cfg() + ":2:20: sweep.lambdas[2]: must be >= 0, got -0.5");
}

TEST_F(ConfigTest, ZeroBatchSize) {
  EXPECT_EQ(error_of("[finetune]\nbatch_size = 0\n"),
            cfg() + ":2:14: finetune.batch_size: must be >= 1, got 0");
}

TEST_F(ConfigTest, FloatBounds) {
  EXPECT_EQ(error_of("[model]\ndropout = 1\n"), cfg() + ":2:11: model.dropout: must be in [0, 1), got 1");
  EXPECT_EQ(error_of("[model]\nbidirectional = true\nlstm = \"padded\"\n"),
            cfg() + ":3:8: model.lstm: \"padded\" needs model.bidirectional = false (a backward direction would start in the padding)");
  EXPECT_EQ(error_of("[finetune]\nlr = 0\n"), cfg() + ":2:6: finetune.lr: must be in (0, 100], got 0");
  EXPECT_EQ(error_of("[finetune]\nlr = 500\n"), cfg() + ":2:6: finetune.lr: must be in (0, 100], got 500");
  EXPECT_EQ(error_of("[pretrain]\nlr_decay = 1.5\n"),
            cfg() + ":2:12: pretrain.lr_decay: must be in (0, 1], got 1.5");
}

TEST_F(ConfigTest, SeedsMustBeUniqueAndNonEmpty) {
  EXPECT_EQ(error_of("[run]\nseeds = [1, 2, 1]\n"), cfg() + ":2:16: run.seeds[2]: duplicate seed 1");
  EXPECT_EQ(error_of("[run]\nseeds = []\n"), cfg() + ":2:9: run.seeds: must not be empty");
}

TEST_F(ConfigTest, RunNameMustBeFileSafe) {
  const std::string err = error_of("[run]\nname = \"a/b\"\n");
  EXPECT_EQ(err.rfind(cfg() + ":2:8: run.name: must be a file-safe name", 0), 0u) << err;
}

TEST_F(ConfigTest, MinLenAboveMaxLen) {
  EXPECT_EQ(error_of("[data.synthetic]\nmin_len = 10\nmax_len = 9\n"),
            cfg() + ":3:11: data.synthetic.max_len: must be >= min_len (10), got 9");
}

TEST_F(ConfigTest, MissingDataFileForTacred) {
  const std::string err = error_of(
      "[data]\nformat = \"tacred\"\na_train = \"nope.json\"\na_dev = \"x\"\nb_train = \"x\"\n"
      "b_dev = \"x\"\nb_test = \"x\"\n");
  EXPECT_EQ(err, cfg() + ":3:11: data.a_train: file not found: " + dir_ + "/nope.json");
}

TEST_F(ConfigTest, MissingRequiredDataKeyPointsAtHeader) {
  write("a.json", "");
  EXPECT_EQ(error_of("# data\n\n[data]\nformat = \"jsonl\"\na_train = \"a.json\"\n"),
            cfg() + ":3:1: data.a_dev: required when data.format is \"jsonl\"");
}

TEST_F(ConfigTest, SyntheticSizesAreRead) {
  const SweepConfig c = load("[data.synthetic]\nnum_classes = 5\nnegative_fraction = 0\ndomain_shift = 1\nmin_len = 5\nmax_len = 5\n");
  EXPECT_EQ(c.data.synthetic.num_classes, 5);
  EXPECT_EQ(c.data.synthetic.negative_fraction, 0.0);
  EXPECT_EQ(c.data.synthetic.domain_shift, 1.0);
  EXPECT_EQ(c.data.synthetic.max_len, 5);
}

TEST_F(ConfigTest, BadEnumValue) {
  EXPECT_EQ(error_of("[model]\nattention = \"global\"\n"),
            cfg() + ":2:13: model.attention: must be one of \"position-aware\", \"none\"; got \"global\"");
  EXPECT_EQ(error_of("[sweep]\nbaselines = [\"pretrained\", \"best\"]\n"),
            cfg() + ":2:28: sweep.baselines[1]: must be one of \"pretrained\", \"scratch\"; got \"best\"");
}

TEST_F(ConfigTest, MissingAnchorFile) {
  const std::string err = error_of("[adapter]\nanchor = \"identiy\"\n");
  EXPECT_NE(err.find(cfg() + ":2:10: adapter.anchor: "), std::string::npos) << err;
  EXPECT_NE(err.find("file not found: " + dir_ + "/identiy"), std::string::npos) << err;
}

TEST_F(ConfigTest, SetOverridesIntArrayBoolAndBareString) {
  write("a.json", "");
  const SweepConfig c = load("[model]\nhidden = 10\n",
                             {"model.hidden=32", "run.seeds=[4,5]", "model.bidirectional=true",
                              "data.format=jsonl", "finetune.lr=0.5", "run.name = spaced",
                              "data.a_train=a.json", "data.a_dev=a.json", "data.b_train=a.json",
                              "data.b_dev=a.json", "data.b_test=\"a.json\""});
  EXPECT_EQ(c.model.hidden, 32);
  EXPECT_EQ(c.run.seeds, std::vector<int64_t>({4, 5}));
  EXPECT_TRUE(c.model.bidirectional);
  EXPECT_EQ(c.data.format, DataFormat::jsonl);
  EXPECT_DOUBLE_EQ(c.finetune.lr, 0.5);
  EXPECT_EQ(c.run.name, "spaced");
  EXPECT_EQ(c.data.b_test, dir_ + "/a.json");
  EXPECT_NE(c.resolved_toml.find("hidden = 32"), std::string::npos);
}

TEST_F(ConfigTest, SetCreatesTables) {
  const SweepConfig c = load("", {"sweep.range.min=0.1", "sweep.range.max=10", "sweep.range.count=3"});
  ASSERT_EQ(c.sweep.lambdas.size(), 3u);
  EXPECT_NEAR(c.sweep.lambdas[1], 1.0, 1e-12);
}

TEST_F(ConfigTest, SetUnknownKey) {
  EXPECT_EQ(error_of("", {"model.hiden=3"}), "--set model.hiden=3: model.hiden: unknown key (did you mean model.hidden?)");
  EXPECT_EQ(error_of("", {"modle.hidden=3"}), "--set modle.hidden=3: modle: unknown table (did you mean model?)");
}

TEST_F(ConfigTest, SetBadValueReportsTheSetText) {
  EXPECT_EQ(error_of("[run]\nseeds = [1]\n", {"run.seeds=[1,-2]"}),
            "--set run.seeds=[1,-2]: run.seeds[1]: must be >= 0, got -2");
  EXPECT_EQ(error_of("", {"pretrain.epochs=many"}),
            "--set pretrain.epochs=many: pretrain.epochs: expected an integer, got string");
  // Missing data files after switching the format on the command line.
  const std::string err = error_of("", {"data.format=tacred"});
  EXPECT_EQ(err, "--set data.format=tacred: data.a_train: required when data.format is \"tacred\"");
}

TEST_F(ConfigTest, MalformedSet) {
  EXPECT_EQ(error_of("", {"xyz"}), "--set 'xyz': expected key=value");
  EXPECT_EQ(error_of("", {"=3"}), "--set '=3': expected key=value");
  EXPECT_EQ(error_of("", {"model..hidden=3"}), "--set 'model..hidden=3': expected key=value");
}

TEST_F(ConfigTest, SetThroughANonTable) {
  EXPECT_EQ(error_of("[run]\nseeds = [1]\n", {"run.seeds.x=1"}),
            "--set run.seeds.x=1: run.seeds: expected a table, got array");
}

TEST_F(ConfigTest, SyntaxErrorIsLocated) {
  const std::string err = error_of("[run]\nname = \"x\"\n[model]\nhidden = = 3\n");
  EXPECT_EQ(err.rfind(cfg() + ":4:10: syntax error: ", 0), 0u) << err;
}

TEST_F(ConfigTest, UnreadableFile) {
  const std::string path = dir_ + "/absent.toml";
  try {
    load_config(path);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ": cannot read: ", 0), 0u) << e.what();
  }
  EXPECT_THROW(load_config(dir_), ConfigError);  // a directory reads as nothing, not as defaults
}

TEST_F(ConfigTest, ResolvedTomlIsStableAndReparses) {
  const SweepConfig a = load("[finetune]\nlr = 0.001\n[sweep.range]\nmin = 1e-5\nmax = 1\ncount = 3\n");
  const SweepConfig b = parse_config(a.resolved_toml, cfg());
  EXPECT_EQ(b.resolved_toml, a.resolved_toml);
  EXPECT_EQ(b.sweep.lambdas, a.sweep.lambdas);
  // Spelling out a default changes nothing; changing a value changes the hash.
  EXPECT_EQ(load("[run]\n").hash, load("[finetune]\nlr = 0.001\nepochs = 10\n").hash);
  EXPECT_NE(load("[run]\n").hash, load("[finetune]\nlr = 0.002\n").hash);
}

TEST(FlattenToml, SectionKeysAndCanonicalValues) {
  const auto flat = flatten_toml("top = 1\n[a]\nx = \"s\"\nl = [1, 2.5]\n[a.b]\ny = true\n");
  EXPECT_EQ(flat.size(), 4u);
  EXPECT_EQ(flat.at("top"), "1");
  EXPECT_EQ(flat.at("a.x"), "\"s\"");
  EXPECT_EQ(flat.at("a.l"), "[1, 2.5]");
  EXPECT_EQ(flat.at("a.b.y"), "true");
}

constexpr const char* kBase = R"(
[run]
seeds = [1, 2]
threads = 2
[finetune]
lr = 0.001
[sweep]
lambdas = [0, 0.1, 1]
)";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

TEST(IncompatibleChanges, GrowingSeedsAndLambdasIsNotAChange) {
  const std::string grown = replaced(replaced(kBase, "[1, 2]", "[3, 2, 1]"), "[0, 0.1, 1]", "[0, 0.01, 0.1, 1]");
  EXPECT_TRUE(incompatible_changes(kBase, grown).empty());
  // run.threads is not growth: float sums depend on it, so a resumed run must keep it.
  EXPECT_EQ(incompatible_changes(kBase, replaced(kBase, "threads = 2", "threads = 8")),
            std::vector<std::string>({"run.threads"}));
  EXPECT_TRUE(incompatible_changes(kBase, kBase).empty());
}

TEST(IncompatibleChanges, ChangingLrNamesIt) {
  EXPECT_EQ(incompatible_changes(kBase, replaced(kBase, "0.001", "0.01")),
            std::vector<std::string>({"finetune.lr"}));
}

TEST(IncompatibleChanges, RemovingLambdaOrSeedNamesIt) {
  EXPECT_EQ(incompatible_changes(kBase, replaced(kBase, "[0, 0.1, 1]", "[0, 1]")),
            std::vector<std::string>({"sweep.lambdas"}));
  EXPECT_EQ(incompatible_changes(kBase, replaced(kBase, "[1, 2]", "[2]")),
            std::vector<std::string>({"run.seeds"}));
}

TEST(IncompatibleChanges, RangeComparedByItsGrid) {
  // The range 0.1..1 in 2 steps plus zero is the grid {0, 0.1, 1}: same trials as the list.
  const std::string ranged = replaced(kBase, "lambdas = [0, 0.1, 1]",
                                      "[sweep.range]\nmin = 0.1\nmax = 1\ncount = 2\ninclude_zero = true");
  EXPECT_TRUE(incompatible_changes(kBase, ranged).empty());
  EXPECT_EQ(incompatible_changes(ranged, replaced(ranged, "min = 0.1", "min = 0.2")),
            std::vector<std::string>({"sweep.lambdas"}));
}

TEST(IncompatibleChanges, AddedOrRemovedKeysAreChanges) {
  const std::string added = std::string(kBase) + "[model]\nhidden = 8\n";
  EXPECT_EQ(incompatible_changes(kBase, added), std::vector<std::string>({"model.hidden"}));
  EXPECT_EQ(incompatible_changes(added, kBase), std::vector<std::string>({"model.hidden"}));
}

TEST_F(ConfigTest, AdapterInitMayListBothInits) {
  const SweepConfig one = load("[adapter]\ninit = \"anchor\"\n");
  EXPECT_EQ(one.adapter.inits, std::vector<AdapterInit>({AdapterInit::anchor}));
  const SweepConfig both = load("[adapter]\ninit = [\"random\", \"anchor\"]\n");
  EXPECT_EQ(both.adapter.inits, std::vector<AdapterInit>({AdapterInit::random, AdapterInit::anchor}));
  EXPECT_EQ(both.adapter.init, AdapterInit::random);
  EXPECT_NE(both.resolved_toml.find("init = [\"random\", \"anchor\"]"), std::string::npos) << both.resolved_toml;
  EXPECT_EQ(error_of("[adapter]\ninit = [\"random\", \"zero\"]\n"),
            cfg() + ":2:19: adapter.init[1]: must be one of \"anchor\", \"random\"; got \"zero\"");
  EXPECT_NE(error_of("[adapter]\ninit = [\"anchor\", \"anchor\"]\n").find("listed twice"), std::string::npos);
}


// The key table (config/keys.cpp) documents exactly the keys the parser reads: every key of a
// resolved config is in it, and no key in it is unknown to the parser.
TEST_F(ConfigTest, TheKeyTableAndTheParserKnowTheSameKeys) {
  std::set<std::string> documented;
  for (const KeyDoc& k : config_keys()) {
    EXPECT_TRUE(documented.insert(k.key).second) << k.key << " is declared twice";
    EXPECT_FALSE(k.type.empty()) << k.key;
    EXPECT_FALSE(k.doc.empty()) << k.key;
  }
  // Resolved configs that spell out every key: the defaults, and one with the optional keys
  // (data files, a λ range, a shard, length buckets).
  for (const char* name : {"a_train.json", "a_dev.json", "b_train.json", "b_dev.json", "b_test.json"}) write(name, "[]");
  const std::string optional =
      "[run]\nshard = \"1/2\"\n[data]\nformat = \"tacred\"\na_train = \"a_train.json\"\na_dev = \"a_dev.json\"\n"
      "b_train = \"b_train.json\"\nb_dev = \"b_dev.json\"\nb_test = \"b_test.json\"\n"
      "[pretrain]\nlength_buckets = 4\n[sweep.range]\nmin = 0.01\nmax = 1\ncount = 3\n";
  std::set<std::string> resolved;
  for (const std::string& text : {std::string("[data]\nformat = \"synthetic\"\n"), optional})
    for (const auto& [key, value] : flatten_toml(load(text).resolved_toml)) resolved.insert(key);
  for (const auto& key : resolved) EXPECT_TRUE(documented.count(key)) << key << " is read but not in config/keys.cpp";
  for (const auto& key : documented) {
    EXPECT_TRUE(resolved.count(key)) << key << " is documented but no resolved config has it";
    // A value of the wrong type is refused for that key, never reported as an unknown key.
    const std::string e = error_of("", {key + "={bogus = 1}"});
    EXPECT_FALSE(e.empty()) << key;
    EXPECT_EQ(e.find(key + ": unknown"), std::string::npos) << e;
  }
  EXPECT_GE(documented.size(), 60u);
}

TEST_F(ConfigTest, TheReferenceNamesEachKeyItsDefaultAndAnEnumsNames) {
  const std::string ref = config_reference();
  EXPECT_NE(ref.find("| `finetune.optimizer` | one of adam \\| sgd | `\"adam\"` |"), std::string::npos) << ref;
  EXPECT_NE(ref.find("| `pretrain.lr` | float | `0.001` |"), std::string::npos) << ref;
  EXPECT_NE(ref.find("## `[data.synthetic]`"), std::string::npos);
  EXPECT_NE(ref.find("| `run.shard` | string \"i/n\" | (none) |"), std::string::npos) << ref;
}

}  // namespace
}  // namespace anchorsweep
