// The encoder store across sweeps (rundir/encoder_store.hpp, sweep/reuse.hpp): a second sweep that
// changes only the adapter reuses every encoder and scratch baseline, bit for bit; any change to
// what decides the bits misses; a broken entry is reported and trained again; two sweeps racing
// for one key both succeed; a run that reused stays self-contained for --resume; the aggregated
// report says when runs share encoders.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <set>
#include <string>
#include <thread>

#include "cli.hpp"
#include "common/files.hpp"
#include "config/config.hpp"
#include "report/compare.hpp"
#include "rundir/encoder_store.hpp"
#include "sweep/reuse.hpp"

using namespace anchorsweep;
using namespace anchorsweep::testing;

namespace {

// The tiny sweep named `name` in `out`, sharing the store `store`.
std::string sweep(const std::string& out, const std::string& name, const std::string& store, const std::string& extra = "") {
  return bin() + " run " + tiny_config() + " --set 'run.output_dir=\"" + out + "\"' --set 'run.name=\"" + name +
         "\"' --set 'run.encoder_store=\"" + store + "\"' --no-report " + extra;
}

// seed -> the journal's pretrain record; trial id -> trial record.
std::map<int64_t, nlohmann::json> pretrains(const std::string& dir) {
  std::map<int64_t, nlohmann::json> out;
  for (const auto& j : journal_lines(dir, "pretrain")) out[j["seed"].get<int64_t>()] = j;
  return out;
}
std::map<std::string, nlohmann::json> trials(const std::string& dir) {
  std::map<std::string, nlohmann::json> out;
  for (const auto& j : journal_lines(dir, "trial")) out[j["id"].get<std::string>()] = j;
  return out;
}

SweepConfig tiny(const std::vector<std::string>& sets = {}) { return load_config(tiny_config(), sets); }

}  // namespace

TEST(Store, ASweepThatChangesOnlyThePenaltyReusesEveryEncoderBitForBit) {
  const auto out = fresh_dir("store-hit"), store = out + "/store";
  auto first = run(sweep(out, "first", store, "--quiet"));
  ASSERT_EQ(first.code, 0) << first.output;
  auto second = run(sweep(out, "second", store, "--set 'penalty.mode=\"decoupled\"'"));
  ASSERT_EQ(second.code, 0) << second.output;
  EXPECT_NE(second.output.find("seed 1's encoder reused from the encoder store"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("seed 2's scratch baseline reused from the encoder store"), std::string::npos) << second.output;
  const std::string a = out + "/first", b = out + "/second";
  // Nothing was pretrained again: no epoch checkpoints, and every pretrain record names its source.
  for (const auto& j : journal_lines(b, "checkpoint")) ADD_FAILURE() << "trained again: " << j.dump();
  const auto pa = pretrains(a), pb = pretrains(b);
  ASSERT_EQ(pb.size(), 2u);
  for (const auto& [seed, rec] : pb) {
    EXPECT_EQ(rec["reused_from"], a) << rec.dump();
    EXPECT_EQ(rec["encoder_hash"], pa.at(seed)["encoder_hash"]);
    EXPECT_TRUE(pa.at(seed)["store_key"].get<std::string>().empty()) << "the first run pretrained it";
    EXPECT_EQ(slurp(b + "/encoders/seed-" + std::to_string(seed) + ".pt"), slurp(a + "/encoders/seed-" + std::to_string(seed) + ".pt"));
  }
  // The pretrained baseline (the reused encoder alone) and the scratch baseline: identical metrics.
  const auto ta = trials(a), tb = trials(b);
  for (const std::string id : {"s1-pretrained", "s2-pretrained", "s1-scratch", "s2-scratch"}) {
    ASSERT_TRUE(tb.count(id)) << id;
    EXPECT_EQ(tb.at(id)["metrics"], ta.at(id)["metrics"]) << id;
  }
  EXPECT_EQ(slurp(b + "/trials/s1-scratch/encoder.pt"), slurp(a + "/trials/s1-scratch/encoder.pt"));
  // The adapters did change: the penalty mode is the difference.
  EXPECT_NE(tb.at("s1-lam1")["metrics"], ta.at("s1-lam1")["metrics"]);

  // `anchorsweep store` lists the four entries, made by the first run and reused by the second.
  auto listed = run(bin() + " store " + store);
  ASSERT_EQ(listed.code, 0) << listed.output;
  EXPECT_NE(listed.output.find("4 entries"), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find(a + "; " + b), std::string::npos) << listed.output;
  // The aggregated report says the two runs share their encoders.
  auto rep = run(bin() + " report " + a + " " + b + " --out " + out + "/cmp");
  ASSERT_EQ(rep.code, 0) << rep.output;
  EXPECT_NE(slurp(out + "/cmp/report.md").find("Seeds 1, 2: both runs (first, second) used the very same pretrained encoder"),
            std::string::npos);
  // The dry run of a third says what it would reuse.
  auto dry = run(sweep(out, "third", store, "--set 'penalty.mode=\"decoupled\"' --dry-run"));
  EXPECT_NE(dry.output.find("seed 2's encoder: reused from the encoder store"), std::string::npos) << dry.output;
  // Removal by size: --max-size 0 empties the store.
  auto removed = run(bin() + " store " + store + " --max-size 0");
  EXPECT_NE(removed.output.find("0 entries"), std::string::npos) << removed.output;
}

TEST(Store, AChangeToWhatDecidesTheBitsIsAMiss) {
  const SweepConfig cfg = tiny();
  const nlohmann::json files = {{"a_train", {{"size", 10}, {"fnv1a", "aaaa"}}}, {"b_dev", {{"size", 5}, {"fnv1a", "bbbb"}}}};
  const StoreFacts f{"0.2.0 (commit x)", "1.13.0", "cpu", "Haswell", 1};
  const std::string base = pretrain_store_key(cfg, files, 1, f).hash;
  EXPECT_EQ(pretrain_store_key(cfg, files, 1, f).hash, base) << "a key is a function of its inputs";
  auto differs = [&](const SweepConfig& c, const nlohmann::json& d, int64_t seed, const StoreFacts& g, const char* what) {
    EXPECT_NE(pretrain_store_key(c, d, seed, g).hash, base) << what;
  };
  // Config: a pretraining, model or data key; the seed.
  differs(cfg, files, 2, f, "seed");
  differs(tiny({"pretrain.lr=0.03"}), files, 1, f, "pretrain.lr");
  differs(tiny({"pretrain.ranks=2"}), files, 1, f, "the group size");
  differs(tiny({"model.hidden=13"}), files, 1, f, "model.hidden");
  differs(tiny({"data.synthetic.data_seed=8"}), files, 1, f, "the generated data");
  differs(tiny({"data.min_word_count=2"}), files, 1, f, "data.min_word_count");
  // Data content: another A train file under the same path.
  nlohmann::json other = files;
  other["a_train"]["fnv1a"] = "cccc";
  differs(cfg, other, 1, f, "data content");
  // B dev does not reach the encoder, but the scratch baseline's metrics.
  nlohmann::json dev = files;
  dev["b_dev"]["fnv1a"] = "dddd";
  EXPECT_EQ(pretrain_store_key(cfg, dev, 1, f).hash, base) << "B dev does not decide an encoder's bits";
  EXPECT_NE(scratch_store_key(cfg, dev, 1, f).hash, scratch_store_key(cfg, files, 1, f).hash) << "but a scratch baseline's metrics";
  StoreFacts g = f;
  g.anchorsweep = "0.3.0 (commit y)";
  differs(cfg, files, 1, g, "version");
  g = f;
  g.blas = "SkylakeX";
  differs(cfg, files, 1, g, "BLAS kernels");
  g = f;
  g.threads = 2;
  differs(cfg, files, 1, g, "threads");
  g = f;
  g.device = "cuda (NVIDIA H100)";
  differs(cfg, files, 1, g, "device kind");
  // What does not reach pretraining does not change the key.
  for (const std::string set : {"penalty.mode=\"decoupled\"", "finetune.lr=0.5", "sweep.lambdas=[3]", "adapter.init=\"anchor\"",
                                "run.name=\"other\""})
    EXPECT_EQ(pretrain_store_key(tiny({set}), files, 1, f).hash, base) << set << " does not reach pretraining";
  EXPECT_EQ(store_facts({{"device", "cuda:3 (NVIDIA H100)"}, {"blas_kernels", "Haswell (OPENBLAS_CORETYPE)"}, {"threads", 4}}).device,
            "cuda (NVIDIA H100)");
}

TEST(Store, APretrainingKeyChangedEndToEndIsNotReused) {
  const auto out = fresh_dir("store-miss"), store = out + "/store";
  ASSERT_EQ(run(sweep(out, "first", store, "--quiet")).code, 0);
  auto other = run(sweep(out, "lr", store, "--set pretrain.lr=0.03"));
  ASSERT_EQ(other.code, 0) << other.output;
  EXPECT_EQ(other.output.find("reused from the encoder store"), std::string::npos) << other.output;
  for (const auto& [seed, rec] : pretrains(out + "/lr")) EXPECT_TRUE(rec["reused_from"].get<std::string>().empty());
  // Its own encoders joined the store: 4 + 4 entries.
  EXPECT_NE(run(bin() + " store " + store).output.find("8 entries"), std::string::npos);
}

TEST(Store, ABrokenEntryIsReportedTrainedAgainAndReplaced) {
  const auto out = fresh_dir("store-corrupt"), store = out + "/store";
  ASSERT_EQ(run(sweep(out, "first", store, "--quiet")).code, 0);
  // Truncate seed 1's encoder entry.
  std::string victim;
  for (const auto& e : EncoderStore(store).list())
    if (e.kind == "pretrain" && e.seed == 1) victim = e.key;
  ASSERT_FALSE(victim.empty());
  const std::string payload = store + "/" + victim + "/payload.pt";
  const std::string bytes = slurp(payload);
  std::ofstream(payload, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  auto second = run(sweep(out, "second", store, "--set 'penalty.mode=\"decoupled\"'"));
  ASSERT_EQ(second.code, 0) << second.output;
  EXPECT_NE(second.output.find(victim + "/payload.pt"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("(truncated or corrupt)"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("seed 1's encoder is trained again"), std::string::npos) << second.output;
  const auto pb = pretrains(out + "/second");
  EXPECT_TRUE(pb.at(1)["reused_from"].get<std::string>().empty()) << "seed 1 pretrained again";
  EXPECT_EQ(pb.at(1)["encoder_hash"], pretrains(out + "/first").at(1)["encoder_hash"]) << "to the same bits";
  EXPECT_EQ(pb.at(2)["reused_from"], out + "/first") << "seed 2's entry was fine";
  std::string problem;
  EXPECT_TRUE(EncoderStore(store).get(victim, &problem).has_value()) << "replaced: " << problem;
}

TEST(Store, TwoSweepsRacingForOneKeyBothSucceedAndOneEntryWins) {
  const auto out = fresh_dir("store-race"), store = out + "/store";
  // Two processes at once, nothing in the store: both pretrain, both file the same four keys.
  const std::string a = sweep(out, "a", store, "--quiet"), b = sweep(out, "b", store, "--quiet");
  auto ra = std::async(std::launch::async, [&] { return run(a); });
  auto rb = run(b);
  auto ra_done = ra.get();
  EXPECT_EQ(ra_done.code, 0) << ra_done.output;
  EXPECT_EQ(rb.code, 0) << rb.output;
  const auto entries = EncoderStore(store).list();
  EXPECT_EQ(entries.size(), 4u);
  for (const auto& e : entries) EXPECT_TRUE(e.problem.empty()) << e.key << ": " << e.problem;
  for (const auto& name : list_dir(store)) EXPECT_NE(name[0], '.') << "left behind: " << name;
  // And in-process: many writers of one key, one valid entry.
  EncoderStore s(out + "/store2");
  const StoreKey key = make_store_key({"k = 1"});
  const std::vector<char> payload(100000, 'x');
  std::vector<std::thread> writers;
  for (int i = 0; i < 4; ++i) writers.emplace_back([&] { s.put(key, "pretrain", 1, {{"seed", 1}}, payload, "race"); });
  for (auto& t : writers) t.join();
  std::string problem;
  auto got = s.get(key.hash, &problem);
  ASSERT_TRUE(got.has_value()) << problem;
  EXPECT_EQ(got->payload, payload);
}

TEST(Store, ARunThatReusedResumesWithoutTheStore) {
  const auto out = fresh_dir("store-resume"), store = out + "/store";
  ASSERT_EQ(run(sweep(out, "first", store, "--quiet")).code, 0);
  ASSERT_EQ(run(sweep(out, "second", store, "--quiet --set 'penalty.mode=\"decoupled\"'")).code, 0);
  remove_tree(store);  // the run directory holds its own copies
  auto more = run(sweep(out, "second", store, "--set 'penalty.mode=\"decoupled\"' --set 'sweep.lambdas=[0, 0.01, 1, 10]' --resume"));
  ASSERT_EQ(more.code, 0) << more.output;
  const auto t = trials(out + "/second");
  EXPECT_EQ(t.size(), 12u);  // 2 seeds x (4 λ + 2 baselines)
  for (const auto& [id, rec] : t) EXPECT_EQ(rec["status"], "ok") << id;
  for (const auto& j : journal_lines(out + "/second", "checkpoint")) ADD_FAILURE() << "pretrained again: " << j.dump();
}

TEST(Store, SharedEncoderNoteSaysSeedBySeed) {
  EXPECT_EQ(encoder_sharing_text({"a", "b"}, {{{1, "x"}, {2, "y"}}, {{1, "x"}, {2, "z"}}}),
            "Seed 1: both runs (a, b) used the very same pretrained encoder (equal encoder hashes: one reused the other's "
            "from the encoder store, or both trained it to the same bits), so a difference between them at that seed is "
            "their adapter settings' alone, with no pretraining noise. Seed 2: the runs' encoders differ, so differences "
            "between runs there also carry pretraining noise (or a pretraining setting that differs).");
  const std::string partial = encoder_sharing_text({"a", "b", "c"}, {{{1, "x"}}, {{1, "x"}, {3, "q"}}, {{1, "x"}}});
  EXPECT_NE(partial.find("Seed 1: all 3 runs used"), std::string::npos) << partial;
  EXPECT_NE(partial.find("Seed 3: pretrained in some of the runs only."), std::string::npos) << partial;
}
