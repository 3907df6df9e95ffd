#include "train/stacked_optimizer.hpp"

#include <cmath>

namespace anchorsweep {

StackedOptimizer::StackedOptimizer(Optimizer kind, torch::Tensor lrs, double grad_clip)
    : kind_(kind), lrs_(std::move(lrs)), clip_(grad_clip) {}

void StackedOptimizer::step(torch::Tensor& W, torch::Tensor& b) {
  torch::NoGradGuard no_grad;
  auto gW = W.grad(), gb = b.grad();
  if (clip_ > 0) {
    auto norm = (gW.pow(2).sum({1, 2}) + gb.pow(2).sum(1)).sqrt();       // [G]
    auto scale = (clip_ / (norm + 1e-6)).clamp_max(1.0);                 // torch's clip_grad_norm_
    gW.mul_(scale.view({-1, 1, 1}));
    gb.mul_(scale.view({-1, 1}));
  }
  auto lrW = lrs_.view({-1, 1, 1}), lrb = lrs_.view({-1, 1});
  if (kind_ == Optimizer::sgd) {
    W.sub_(lrW * gW);
    b.sub_(lrb * gb);
  } else {
    constexpr double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    if (!mW_.defined()) {
      mW_ = torch::zeros_like(W); vW_ = torch::zeros_like(W);
      mb_ = torch::zeros_like(b); vb_ = torch::zeros_like(b);
    }
    ++t_;
    const double c1 = 1 - std::pow(b1, t_), c2 = 1 - std::pow(b2, t_);
    auto update = [&](torch::Tensor& p, const torch::Tensor& g, torch::Tensor& m, torch::Tensor& v,
                      const torch::Tensor& lr) {
      m.mul_(b1).add_(g, 1 - b1);
      v.mul_(b2).addcmul_(g, g, 1 - b2);
      p.sub_(lr * (m / c1) / ((v / c2).sqrt() + eps));
    };
    update(W, gW, mW_, vW_, lrW);
    update(b, gb, mb_, vb_, lrb);
  }
  gW.zero_();
  gb.zero_();
}

}  // namespace anchorsweep
