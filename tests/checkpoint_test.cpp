// The pieces of a sweep that survives a cluster: epoch checkpoints that resume bit for bit,
// divergence caught, exact trial ids, bounded sentences, durable files, a writer off the
// scheduling path. Pure functions and modules; the whole-process tests are in hardening_test.
#include <gtest/gtest.h>

#include <fstream>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/trial_result.hpp"
#include "fixtures.hpp"
#include "posix_fs.hpp"
#include "rundir/journal.hpp"
#include "sweep/placement.hpp"
#include "rundir/run_directory.hpp"
#include "rundir/run_writer.hpp"

using namespace anchorsweep;
using namespace anchorsweep::testing;

namespace {

std::vector<torch::Tensor> params_of(Encoder& e) {
  std::vector<torch::Tensor> out;
  for (auto& p : e->parameters()) out.push_back(p.detach().clone());
  return out;
}

Encoder fresh_encoder(const TinyExperiment& x) {
  torch::manual_seed(5);
  return Encoder(x.cfg.model, x.vocab.size(), x.corpus.num_classes());
}

}  // namespace

TEST(Checkpoint, StoppedAndResumedRunIsBitIdentical) {
  TinyExperiment x(/*pretrain=*/false);
  TrainConfig cfg = x.cfg.pretrain;
  cfg.epochs = 4;
  cfg.lr_decay = 0.5;  // lr changes along the way must survive the checkpoint too
  cfg.optimizer = Optimizer::adam;
  torch::set_num_threads(1);

  Encoder straight = fresh_encoder(x);
  auto whole = train_classifier(straight, cfg, x.a_train, x.a_dev, &x.b_test, x.corpus.negative_index, 17);

  // Stop after epoch 2, keeping the state that would have gone to rank 0.
  Encoder first = fresh_encoder(x);
  std::vector<char> state;
  int64_t saw_epoch = 0;
  EpochControl stop_after_two;
  stop_after_two.after_epoch = [&](int64_t epoch, std::vector<char> s) {
    saw_epoch = epoch;
    state = std::move(s);
    return epoch < 2;
  };
  auto part = train_classifier(first, cfg, x.a_train, x.a_dev, &x.b_test, x.corpus.negative_index, 17, &stop_after_two);
  ASSERT_TRUE(part.stopped);
  ASSERT_EQ(saw_epoch, 2);
  ASSERT_FALSE(state.empty());

  // A new process would build a differently initialised encoder; the checkpoint overrides it.
  torch::manual_seed(999);
  Encoder second(x.cfg.model, x.vocab.size(), x.corpus.num_classes());
  EpochControl resume;
  resume.resume_from = state;
  auto rest = train_classifier(second, cfg, x.a_train, x.a_dev, &x.b_test, x.corpus.negative_index, 17, &resume);
  EXPECT_FALSE(rest.stopped);
  EXPECT_EQ(rest.resumed_from_epoch, 2);

  auto a = params_of(straight), b = params_of(second);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
  EXPECT_EQ(whole.best_epoch, rest.best_epoch);
  EXPECT_EQ(whole.test_pred, rest.test_pred);
  EXPECT_EQ(whole.dev.micro_f1, rest.dev.micro_f1);
  ASSERT_EQ(whole.curve.size(), rest.curve.size());
  for (size_t i = 0; i < whole.curve.size(); ++i) {
    EXPECT_EQ(whole.curve[i].train_loss, rest.curve[i].train_loss) << "epoch " << i + 1;
    EXPECT_EQ(whole.curve[i].lr, rest.curve[i].lr);
  }
}

TEST(Checkpoint, NonFiniteLossEndsTheRunAsDiverged) {
  TinyExperiment x(false);
  TrainConfig cfg = x.cfg.pretrain;
  Encoder e = fresh_encoder(x);
  {
    torch::NoGradGuard no_grad;
    e->dense->weight[0][0].fill_(std::numeric_limits<float>::quiet_NaN());  // as an overflow would leave it
  }
  try {
    train_classifier(e, cfg, x.a_train, x.a_dev, nullptr, x.corpus.negative_index, 1);
    FAIL() << "a NaN weight must end the run as diverged";
  } catch (const DivergedError& d) {
    EXPECT_EQ(d.epoch, 1);
    EXPECT_EQ(d.step, 1);
    EXPECT_EQ(d.quantity, "loss");
    EXPECT_NE(std::string(d.what()).find("non-finite loss at epoch 1, step 1"), std::string::npos) << d.what();
  }
}

TEST(TrialIds, ShortestRoundTripKeepsCloseLambdasApart) {
  TrialKey a{1, TrialKind::anchored, 0.1}, b{1, TrialKind::anchored, 0.1000001}, c{1, TrialKind::anchored, 1e-5}, d{1, TrialKind::anchored, 0.0001};
  EXPECT_EQ(a.id(), "s1-lam0.1");
  EXPECT_EQ(b.id(), "s1-lam0.1000001");
  EXPECT_EQ(c.id(), "s1-lam1e-05");   // as earlier runs named it
  EXPECT_EQ(d.id(), "s1-lam0.0001");
  EXPECT_NE(a.id(), b.id());
}

TEST(TrialIds, DuplicateLambdaIsRefused) {
  try {
    parse_config("[sweep]\nlambdas = [0.1, 0.01, 0.1]\n", "dup.toml");
    FAIL() << "a duplicate λ must be refused";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("sweep.lambdas[2]: duplicate"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("dup.toml:2"), std::string::npos) << e.what();
  }
}

TEST(Bounds, NumericKeysHaveUpperBounds) {
  for (const char* text : {"[pretrain]\nepochs = 1000000\n", "[model]\nhidden = 100000\n", "[run]\nthreads = 5000\n",
                           "[finetune]\nlr = 1000.0\n", "[data]\nmax_tokens = 2\n"}) {
    EXPECT_THROW(parse_config(text, "b.toml"), ConfigError) << text;
  }
  EXPECT_EQ(parse_config("[run]\n", "ok.toml").data.max_tokens, 128);
}

// Tokens "w0" .. "w<n-1>", with the given spans.
Example numbered(int n, int64_t ss, int64_t se, int64_t os, int64_t oe) {
  Example ex;
  for (int i = 0; i < n; ++i) ex.tokens.push_back("w" + std::to_string(i));
  ex.subj_start = ss, ex.subj_end = se, ex.obj_start = os, ex.obj_end = oe;
  return ex;
}

// After cutting to max_tokens, the spans still point at the same words.
void expect_spans_kept(Example ex, int max_tokens, const Example& before) {
  ASSERT_TRUE(truncate_example(ex, max_tokens));
  ASSERT_EQ(ex.tokens.size(), static_cast<size_t>(max_tokens));
  EXPECT_EQ(ex.tokens[ex.subj_start], before.tokens[before.subj_start]);
  EXPECT_EQ(ex.tokens[ex.subj_end], before.tokens[before.subj_end]);
  EXPECT_EQ(ex.tokens[ex.obj_start], before.tokens[before.obj_start]);
  EXPECT_EQ(ex.tokens[ex.obj_end], before.tokens[before.obj_end]);
}

TEST(Truncate, KeepsBothEntitiesInOneWindow) {
  Example ex = numbered(300, 150, 151, 160, 160);
  expect_spans_kept(ex, 20, ex);
  ASSERT_TRUE(truncate_example(ex, 20));
  // Contiguous: one window.
  for (size_t i = 1; i < ex.tokens.size(); ++i)
    EXPECT_EQ(std::stoi(ex.tokens[i].substr(1)), std::stoi(ex.tokens[i - 1].substr(1)) + 1);
}

TEST(Truncate, FarApartEntitiesGetAWindowEach) {
  Example ex = numbered(1000, 900, 902, 5, 6);
  expect_spans_kept(ex, 16, ex);
  ASSERT_TRUE(truncate_example(ex, 16));
  EXPECT_EQ(ex.tokens[ex.subj_start], "w900");
  EXPECT_LT(ex.obj_end, ex.subj_start);  // order kept
  Example shorter = ex;
  EXPECT_FALSE(truncate_example(shorter, 16));  // already short enough: untouched
  Example huge;
  for (int i = 0; i < 50; ++i) huge.tokens.push_back("x");
  huge.subj_start = 0, huge.subj_end = 19, huge.obj_start = 20, huge.obj_end = 39;
  EXPECT_THROW(truncate_example(huge, 16), InputError);
}

TEST(Files, AtomicWriteReportsFailures) {
  const auto dir = temp_dir() + "/anchorsweep-files-" + std::to_string(::getpid());
  fs::remove_all(dir);
  make_dirs(dir + "/a/./b");
  EXPECT_TRUE(is_directory(dir + "/a/b"));
  write_file_atomic(dir + "/a/b/f", "hello");
  EXPECT_EQ(read_file(dir + "/a/b/f"), "hello");
  EXPECT_EQ(list_dir(dir + "/a/b"), std::vector<std::string>{"f"});
  // A directory where the file should go: rename fails, and says so.
  make_dirs(dir + "/taken/x");
  EXPECT_THROW(write_file_atomic(dir + "/taken", "x"), std::runtime_error);
  EXPECT_THROW(write_file_atomic(dir + "/missing/f", "x"), std::runtime_error);
  EXPECT_THROW(make_dirs(dir + "/a/b/f/g"), std::runtime_error) << "a file in the way";
  auto f1 = fingerprint_file(dir + "/a/b/f");
  EXPECT_EQ(f1.size, 5u);
  EXPECT_EQ(f1.hash, fnv1a_hex(std::string("hello")));
  remove_tree(dir);
  EXPECT_FALSE(file_exists(dir));
  EXPECT_NO_THROW(remove_tree(dir)) << "a missing path is not an error";
}

TEST(Files, PathsAreNormalizedLexically) {
  EXPECT_EQ(normalize_path("a/./b/../c"), "a/c");
  EXPECT_EQ(normalize_path("/x/../y//z/"), "/y/z");
  EXPECT_EQ(normalize_path("/.."), "/");
  EXPECT_EQ(normalize_path("a/.."), ".");
  EXPECT_EQ(normalize_path("../../a"), "../../a");
  EXPECT_EQ(normalize_path("a/../../b"), "../b");
  EXPECT_EQ(parent_dir("a/b/c.toml"), "a/b");
  EXPECT_EQ(parent_dir("c.toml"), "");
  EXPECT_EQ(parent_dir("/c.toml"), "/");
  EXPECT_EQ(join_path("configs", "../data/a.json"), "data/a.json");
  EXPECT_EQ(join_path("configs", "/abs/a.json"), "/abs/a.json");
  EXPECT_EQ(join_path("", "a.json"), "a.json");
  EXPECT_EQ(read_link("/proc/self/exe").empty(), false);
  EXPECT_EQ(read_link("/proc/self/status"), "") << "not a link";
}

TEST(Journal, ReaderKeepsCheckpointLinesAndSkipsATornTail) {
  const std::string text =
      "{\"type\":\"checkpoint\",\"task\":\"pretrain-s1\",\"epoch\":1}\n"
      "{\"type\":\"checkpoint\",\"task\":\"pretrain-s1\",\"epoch\":2}\n"
      "{\"type\":\"trial\",\"id\":\"s1-lam0\",\"seed\":1,\"kind\":\"anchored\",\"lambda\":0,\"status\":\"diverged\"}\n"
      "{\"type\":\"tri";
  auto r = parse_results(text, "j");
  ASSERT_EQ(r.checkpoints.size(), 2u);
  EXPECT_EQ(r.checkpoints[1].epoch, 2);
  ASSERT_EQ(r.trials.size(), 1u);
  EXPECT_EQ(r.trials[0].status, Status::diverged);
  EXPECT_EQ(r.warnings.size(), 1u);
}

TEST(Placement, ThreadsFollowTheAffinityMask) {
  cpu_set_t old;
  ASSERT_EQ(sched_getaffinity(0, sizeof old, &old), 0);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  auto b = usable_cpus(1);
  sched_setaffinity(0, sizeof old, &old);
  EXPECT_EQ(b.cpus, 1);
  if (sysconf(_SC_NPROCESSORS_ONLN) > 1) EXPECT_NE(b.why.find("affinity mask: 1 of"), std::string::npos) << b.why;
  // Whole node visible: shared among the node's ranks, never below one.
  auto shared = usable_cpus(1000);
  EXPECT_EQ(shared.cpus, 1);
}

TEST(Placement, GpuByLocalRankOrTheOneSlurmBound) {
  // 4 ranks on a node with 2 visible GPUs: 0,1,0,1, and the sharing is said.
  auto g = choose_gpu(3, 4, 2, nullptr);
  EXPECT_EQ(g.index, 1);
  EXPECT_NE(g.why.find("local rank 3 of 4 mod 2 visible GPU(s)"), std::string::npos) << g.why;
  EXPECT_NE(g.why.find("4 ranks share 2 GPU(s)"), std::string::npos) << g.why;
  // srun --gpus-per-task=1: each rank sees only its own GPU, as device 0.
  g = choose_gpu(2, 4, 1, "5");
  EXPECT_EQ(g.index, 0);
  EXPECT_NE(g.why.find("CUDA_VISIBLE_DEVICES=5"), std::string::npos) << g.why;
  // One rank per GPU: nothing shared.
  g = choose_gpu(1, 2, 2, "0,1");
  EXPECT_EQ(g.index, 1);
  EXPECT_EQ(g.why.find("share"), std::string::npos) << g.why;
}

TEST(Placement, SharedGpusAreNamedPerHost) {
  const std::vector<std::string> hosts{"n1", "n1", "n1", "n2", "n2"};
  const std::vector<std::string> devices{"cuda:0 (H100)", "cuda:1 (H100)", "cuda:0 (H100)", "cuda:0 (H100)", "cpu"};
  const auto s = shared_gpus(hosts, devices);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0], "cuda:0 (H100) on n1: ranks 0, 2");  // n2's cuda:0 is another GPU
  EXPECT_TRUE(shared_gpus({"a", "a"}, {"cpu", "cpu"}).empty()) << "CPU ranks share no GPU";
}
