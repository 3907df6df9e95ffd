// The penalty's value, its autograd gradient 2λ(W − A), and the decoupled pull.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include "model/adapter.hpp"
#include "train/penalty.hpp"
#include "train/stacked_optimizer.hpp"

using namespace anchorsweep;

TEST(Penalty, ValueIsLambdaTimesSquaredFrobeniusDistance) {
  auto A = make_anchor(AnchorSpec{}, 3, 5);
  auto W = A.unsqueeze(0).repeat({2, 1, 1}).clone();
  W[0][0][0] += 1.0;   // squared distance 1
  W[1][2][4] += 2.0;   // squared distance 4
  auto b = torch::zeros({2, 3});
  auto lam = torch::tensor({0.5f, 3.0f});
  auto p = penalty(W, b, A, lam, false);
  EXPECT_NEAR(p[0].item<double>(), 0.5, 1e-6);
  EXPECT_NEAR(p[1].item<double>(), 12.0, 1e-6);
}

TEST(Penalty, BiasIsPenalisedOnlyWhenAsked) {
  auto A = make_anchor(AnchorSpec{}, 2, 4);
  auto W = A.unsqueeze(0).clone();
  auto b = torch::tensor({{1.0f, 2.0f}});
  auto lam = torch::tensor({2.0f});
  EXPECT_NEAR(penalty(W, b, A, lam, false).item<double>(), 0.0, 1e-7);
  EXPECT_NEAR(penalty(W, b, A, lam, true).item<double>(), 10.0, 1e-6);
}

TEST(Penalty, AutogradGradientIsTwoLambdaTimesDistance) {
  torch::manual_seed(0);
  auto A = make_anchor(AnchorSpec{}, 4, 7);
  auto W = torch::randn({3, 4, 7}).requires_grad_(true);
  auto b = torch::randn({3, 4}).requires_grad_(true);
  auto lam = torch::tensor({0.0f, 0.01f, 5.0f});
  penalty(W, b, A, lam, false).sum().backward();
  auto expected = 2 * lam.view({-1, 1, 1}) * (W.detach() - A.unsqueeze(0));
  EXPECT_TRUE(torch::allclose(W.grad(), expected, 1e-5, 1e-6));
  EXPECT_FALSE(b.grad().defined() && b.grad().abs().sum().item<double>() > 0);
}

TEST(Penalty, DecoupledPullMovesTowardsTheAnchor) {
  auto A = make_anchor(AnchorSpec{}, 2, 3);
  auto W = torch::ones({2, 2, 3});
  auto b = torch::ones({2, 2});
  auto before = distance_to_anchor(W, A);
  decoupled_pull(W, b, A, torch::tensor({0.0f, 1.0f}), torch::tensor({0.1f, 0.1f}), false);
  auto after = distance_to_anchor(W, A);
  EXPECT_FLOAT_EQ(after[0].item<float>(), before[0].item<float>());           // λ = 0: untouched
  EXPECT_NEAR(after[1].item<double>(), 0.9 * before[1].item<double>(), 1e-6);  // shrinks by lr·λ
  EXPECT_FLOAT_EQ(b[1][0].item<float>(), 1.0f);                                // bias not penalised
}

TEST(StackedOptimizer, AdamMatchesTorchAdamPerSlice) {
  torch::manual_seed(1);
  auto W0 = torch::randn({2, 3, 4}), b0 = torch::randn({2, 3});
  auto target = torch::randn({2, 3, 4});
  // Stacked Adam with two learning rates.
  auto W = W0.clone().requires_grad_(true), b = b0.clone().requires_grad_(true);
  StackedOptimizer opt(Optimizer::adam, torch::tensor({0.1f, 0.01f}), 0.0);
  for (int step = 0; step < 3; ++step) {
    ((W - target).pow(2).sum() + b.pow(2).sum()).backward();
    opt.step(W, b);
  }
  // torch::optim::Adam on slice 1 alone.
  auto w1 = W0[1].clone().requires_grad_(true), b1 = b0[1].clone().requires_grad_(true);
  torch::optim::Adam ref({w1, b1}, torch::optim::AdamOptions(0.01));
  for (int step = 0; step < 3; ++step) {
    ref.zero_grad();
    ((w1 - target[1]).pow(2).sum() + b1.pow(2).sum()).backward();
    ref.step();
  }
  EXPECT_TRUE(torch::allclose(W[1].detach(), w1.detach(), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(b[1].detach(), b1.detach(), 1e-5, 1e-6));
}

TEST(StackedOptimizer, ClipsEachAdapterOnItsOwn) {
  auto W = torch::zeros({2, 1, 1}).requires_grad_(true), b = torch::zeros({2, 1}).requires_grad_(true);
  W.mutable_grad() = torch::tensor({30.0f, 0.3f}).view({2, 1, 1});
  b.mutable_grad() = torch::tensor({40.0f, 0.4f}).view({2, 1});
  StackedOptimizer opt(Optimizer::sgd, torch::tensor({1.0f, 1.0f}), 1.0);
  opt.step(W, b);
  // Slice 0 (norm 50) is scaled to norm 1; slice 1 (norm 0.5) is left alone.
  EXPECT_NEAR(W[0][0][0].item<double>(), -0.6, 1e-4);
  EXPECT_NEAR(b[0][0].item<double>(), -0.8, 1e-4);
  EXPECT_NEAR(W[1][0][0].item<double>(), -0.3, 1e-6);
}
