// The fast finetune path against its references:
//   fused (G adapters in one pass) == one by one, exactly, on the same cached features;
//   cached features == the full forward within 1e-5, and every metric of every trial within
//   0.005 of the naive (full forward every step) run.
#include <gtest/gtest.h>

#include <set>

#include "fixtures.hpp"
#include "train/metrics.hpp"
#include "model/adapter.hpp"
#include "train/adapter_training.hpp"
#include "train/evaluate.hpp"
#include "train/features.hpp"

using namespace anchorsweep;
using anchorsweep::testing::TinyExperiment;

namespace {

AdapterSetup setup_for(TinyExperiment& x, const torch::Tensor& anchor, const std::string& init) {
  return AdapterSetup{&x.cfg.finetune, &x.cfg.penalty, parse_name<AdapterInit>(init).value(), anchor, x.corpus.negative_index, 17};
}

void expect_same_outcome(const AdapterOutcome& a, const AdapterOutcome& b) {
  EXPECT_TRUE(torch::equal(a.weight_last, b.weight_last));
  EXPECT_TRUE(torch::equal(a.bias_last, b.bias_last));
  EXPECT_EQ(a.result.best_epoch, b.result.best_epoch);
  EXPECT_EQ(a.result.diag.pred_hash_dev, b.result.diag.pred_hash_dev);
  EXPECT_EQ(a.result.diag.pred_hash_test, b.result.diag.pred_hash_test);
  for (EvalSplit split : members<EvalSplit>())
    EXPECT_EQ(a.result.metrics.at(split).micro_f1, b.result.metrics.at(split).micro_f1) << name_of(split);
  ASSERT_EQ(a.result.curve.size(), b.result.curve.size());
  for (size_t e = 0; e < a.result.curve.size(); ++e)  // the lr each epoch: its own decay schedule
    EXPECT_EQ(a.result.curve[e].lr, b.result.curve[e].lr) << "epoch " << e + 1;
}

// Trains `lambdas` as one fused group on x's frozen features, then each λ but those in
// `not_compared` alone, and expects each to end exactly as alone; returns the fused outcomes.
std::vector<AdapterOutcome> fused_as_alone(TinyExperiment& x, const std::vector<double>& lambdas,
                                           const std::set<size_t>& not_compared = {}) {
  freeze(*x.encoder);
  CachedFeatures cached(x.encoder, x.b_train, x.b_dev, x.b_test);
  auto A = make_anchor(AnchorSpec{}, x.corpus.num_classes(), x.feature_dim());
  auto setup = setup_for(x, A, "random");
  auto fused = train_adapters(setup, lambdas, cached);
  for (size_t g = 0; g < lambdas.size(); ++g) {
    if (not_compared.count(g)) continue;
    auto alone = train_adapters(setup, {lambdas[g]}, cached);
    SCOPED_TRACE("lambda " + std::to_string(lambdas[g]));
    expect_same_outcome(fused[g], alone[0]);
  }
  return fused;
}

}  // namespace

class FusedVsAlone : public ::testing::TestWithParam<std::string> {};

TEST_P(FusedVsAlone, IdenticalPredictionsAndMetrics) {
  TinyExperiment x;
  x.cfg.penalty.mode = GetParam() == "decoupled" ? PenaltyMode::decoupled : PenaltyMode::loss;
  const auto fused = fused_as_alone(x, {0.0, 0.001, 0.05, 1.0});
  // Different λ really train differently (else the test would prove nothing).
  EXPECT_FALSE(torch::equal(fused[0].weight_last, fused[3].weight_last));
}

INSTANTIATE_TEST_SUITE_P(PenaltyModes, FusedVsAlone, ::testing::Values("loss", "decoupled"));

TEST(CachedVsNaive, FeaturesMatchTheFullForward) {
  TinyExperiment x;
  freeze(*x.encoder);
  CachedFeatures cached(x.encoder, x.b_train, x.b_dev, x.b_test);
  LiveFeatures live(x.encoder, x.b_train, x.b_dev, x.b_test, false);
  auto idx = torch::tensor({5, 0, 17, 3}, torch::kLong);  // a batch with its own padding length
  auto diff = (cached.rows(Part::train, idx, true) - live.rows(Part::train, idx, true)).abs().max();
  EXPECT_LT(diff.item<double>(), 1e-5);
  EXPECT_LT((cached.all(Part::test) - live.all(Part::test)).abs().max().item<double>(), 1e-5);
}

TEST(CachedVsNaive, EveryMetricWithinHalfAPoint) {
  TinyExperiment x;
  freeze(*x.encoder);
  CachedFeatures cached(x.encoder, x.b_train, x.b_dev, x.b_test);
  LiveFeatures live(x.encoder, x.b_train, x.b_dev, x.b_test, false);
  auto A = make_anchor(AnchorSpec{}, x.corpus.num_classes(), x.feature_dim());
  for (const std::string init : {"random", "anchor"}) {
    auto setup = setup_for(x, A, init);
    for (double lam : {0.0, 0.01, 1.0}) {
      auto c = train_adapters(setup, {lam}, cached)[0];
      auto n = train_adapters(setup, {lam}, live)[0];
      ASSERT_EQ(n.result.metrics.size(), 4u) << "dev, test, dev_last and test_last";
      ASSERT_EQ(c.result.metrics.size(), 4u);
      for (const auto& [split, s] : n.result.metrics) {
        const auto& t = c.result.metrics.at(split);
        SCOPED_TRACE(init + " lambda " + std::to_string(lam) + " " + name_of(split));
        EXPECT_NEAR(t.micro_p, s.micro_p, 0.005);
        EXPECT_NEAR(t.micro_r, s.micro_r, 0.005);
        EXPECT_NEAR(t.micro_f1, s.micro_f1, 0.005);
        EXPECT_NEAR(t.macro_f1, s.macro_f1, 0.005);
        EXPECT_NEAR(t.accuracy, s.accuracy, 0.005);
      }
    }
  }
}

TEST(FrozenDropout, TheClassicMistakeMakesTrainingFeaturesRandom) {
  TinyExperiment x;
  x.cfg.model.dropout = 0.5;
  freeze(*x.encoder);
  LiveFeatures wrong(x.encoder, x.b_train, x.b_dev, x.b_test, /*frozen_dropout=*/true);
  auto idx = torch::arange(0, 8, torch::kLong);
  auto f1 = wrong.rows(Part::train, idx, true), f2 = wrong.rows(Part::train, idx, true);
  EXPECT_FALSE(torch::equal(f1, f2));  // dropout is live: a cache would be wrong
  EXPECT_TRUE(torch::equal(wrong.rows(Part::train, idx, false), wrong.rows(Part::train, idx, false)));
  EXPECT_FALSE(x.encoder->is_training());  // and the encoder is back in eval mode afterwards
}

TEST(AnchorBaseline, EqualsThePretrainedModel) {
  TinyExperiment x;
  freeze(*x.encoder);
  CachedFeatures cached(x.encoder, x.b_train, x.b_dev, x.b_test);
  auto A = make_anchor(AnchorSpec{}, x.corpus.num_classes(), x.feature_dim());
  auto o = evaluate_anchor(setup_for(x, A, "anchor"), cached);
  auto pred = predict(x.encoder, x.b_test);
  auto s = score(x.b_test.gold, pred, x.corpus.negative_index, x.corpus.num_classes());
  EXPECT_DOUBLE_EQ(o.result.metrics.at(EvalSplit::test).micro_f1, s.micro_f1);
}

// One adapter of a fused group diverges (SGD with lr·λ far above 1 at λ = 1000) while the others
// train on, each with its own lr decay: they end exactly as when trained alone, and only the
// divergent one is marked diverged.
TEST(FusedGroup, OneDivergingAdapterLeavesItsNeighboursAsAloneWithTheirOwnLrDecay) {
  TinyExperiment x;
  x.cfg.finetune.optimizer = Optimizer::sgd;
  x.cfg.finetune.lr = 0.05;
  x.cfg.finetune.lr_decay = 0.7;  // per adapter: each decays when its own dev F1 stops improving
  x.cfg.finetune.grad_clip = 0;   // no clipping: nothing bounds the step of the λ = 1000 adapter
  const auto fused = fused_as_alone(x, {0.0, 0.01, 1000.0, 0.5}, /*not_compared=*/{2});
  ASSERT_EQ(fused.size(), 4u);
  EXPECT_EQ(fused[2].result.status, Status::diverged) << fused[2].result.error;
  for (size_t g : {0u, 1u, 3u}) EXPECT_EQ(fused[g].result.status, Status::ok) << fused[g].result.error;
  // The decay happened, and not in step for all: each adapter has its own schedule.
  std::set<double> last_lrs;
  for (size_t g : {0u, 1u, 3u}) last_lrs.insert(fused[g].result.curve.back().lr);
  EXPECT_LT(*last_lrs.begin(), 0.05) << "no adapter's lr decayed: the test tests nothing";
}
