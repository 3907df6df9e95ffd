#include "train/adapter_training.hpp"

#include <cmath>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "model/adapter.hpp"
#include "train/evaluate.hpp"
#include "train/metrics.hpp"
#include "train/penalty.hpp"
#include "train/stacked_optimizer.hpp"

namespace anchorsweep {

namespace {

// Per-adapter mean cross-entropy over the batch: logits [G, B, K], labels [B] -> [G].
torch::Tensor stacked_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels) {
  const int64_t G = logits.size(0), B = logits.size(1);
  auto logp = torch::log_softmax(logits, 2);
  return -logp.gather(2, labels.view({1, B, 1}).expand({G, B, 1})).squeeze(2).mean(1);
}

// Predictions of every adapter on a whole split: [G][N], in row chunks to bound memory.
std::vector<std::vector<int64_t>> stacked_predict(const torch::Tensor& X, const torch::Tensor& W,
                                                  const torch::Tensor& b) {
  torch::NoGradGuard no_grad;
  const int64_t G = W.size(0), N = X.size(0), chunk = 8192;
  std::vector<std::vector<int64_t>> pred(G);
  for (int64_t i = 0; i < N; i += chunk) {
    auto p = adapter_forward(X.narrow(0, i, std::min(chunk, N - i)), W, b).argmax(2).cpu().contiguous();
    for (int64_t g = 0; g < G; ++g) {
      auto row = p[g];
      pred[g].insert(pred[g].end(), row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
    }
  }
  return pred;
}

std::string tensor_hash(const torch::Tensor& t) {
  auto c = t.detach().cpu().contiguous();
  return fnv1a_hex(c.data_ptr(), c.numel() * c.element_size());
}

}  // namespace

std::vector<AdapterOutcome> train_adapters(const AdapterSetup& s, const std::vector<double>& lambdas,
                                           FeatureSource& features, const std::vector<AdapterInit>& inits) {
  const auto& cfg = *s.train;
  const int64_t G = static_cast<int64_t>(lambdas.size());
  const int64_t K = s.anchor.size(0);
  const auto device = s.anchor.device();
  const auto& train = features.split(Part::train);
  const auto& dev = features.split(Part::dev);
  const auto& test = features.split(Part::test);
  const bool decoupled = s.penalty->mode == PenaltyMode::decoupled;

  // Every trial of a seed starts from the same W for its init: λ is the only difference.
  std::vector<AdapterInit> init_of(G, s.init);
  if (!inits.empty()) init_of = inits;
  torch::Tensor W, b;
  {
    std::vector<torch::Tensor> Ws, bs;
    for (int64_t g = 0; g < G; ++g) {
      torch::Tensor w1, b1;
      init_adapters(init_of[g], s.anchor, 1, s.seed, w1, b1);
      Ws.push_back(w1);
      bs.push_back(b1);
    }
    W = torch::cat(Ws, 0);
    b = torch::cat(bs, 0);
  }
  const auto w_dist_init = distance_to_anchor(W, s.anchor).cpu();
  W.requires_grad_(true);
  b.requires_grad_(true);
  auto lam = torch::tensor(lambdas, torch::kDouble).to(torch::kFloat).to(device);
  StackedOptimizer opt(cfg.optimizer, torch::full({G}, cfg.lr, torch::TensorOptions().device(device)),
                       cfg.grad_clip);
  const auto train_labels = train.all.labels.to(device);

  std::vector<AdapterOutcome> out(G);
  std::vector<double> best_f1(G, -1.0);
  // Where each adapter first went non-finite; it trains on (its NaNs stay in its own slice of
  // the stack) and ends as "diverged" while the others are unaffected.
  std::vector<std::string> diverged(G);
  torch::Tensor ce_first, pen_first, ce_last, pen_last;

  for (int64_t epoch = 1; epoch <= cfg.epochs; ++epoch) {
    const EpochOrder order(train.size(), s.seed, epoch, device);  // to the device once per epoch
    std::vector<torch::Tensor> step_loss, step_ce;  // [G] per step, read once per epoch
    int64_t steps = 0;
    for (int64_t i = 0; i < train.size(); i += cfg.batch_size) {
      const int64_t n = std::min(cfg.batch_size, train.size() - i);
      const RowIndex idx = order.slice(i, n);
      auto X = features.rows(Part::train, idx, /*training=*/true);      // [B, D]
      auto logits = adapter_forward(X, W, b);                          // [G, B, K]
      auto ce = stacked_cross_entropy(logits, train_labels.index_select(0, idx.device));  // [G]
      // In loss mode the anchor's pull is part of what autograd differentiates:
      // ∂/∂W_g λ_g‖W_g − A‖² = 2λ_g(W_g − A). In decoupled mode it is applied after the step.
      auto pen = penalty(W, b, s.anchor, lam, s.penalty->penalize_bias);  // [G]
      auto total = decoupled ? ce : ce + pen;
      total.sum().backward();  // adapters share no parameters: each gets only its own gradient
      opt.step(W, b);
      if (decoupled) decoupled_pull(W, b, s.anchor, lam, opt.lrs(), s.penalty->penalize_bias);

      auto ce_d = ce.detach(), pen_d = pen.detach();
      if (!ce_first.defined()) {  // kept on the device; read at the end
        ce_first = ce_d;
        pen_first = pen_d;
      }
      ce_last = ce_d;
      pen_last = pen_d;
      step_loss.push_back(ce_d + pen_d);
      step_ce.push_back(ce_d);
      ++steps;
    }
    // Per-adapter sums over the epoch's steps, in step order and in double as before.
    auto losses = torch::stack(step_loss).to(torch::kDouble).cpu(), ces = torch::stack(step_ce).to(torch::kDouble).cpu();
    auto la = losses.accessor<double, 2>(), ca = ces.accessor<double, 2>();
    std::vector<double> loss_sum(G, 0.0), ce_sum(G, 0.0);
    for (int64_t k = 0; k < steps; ++k)
      for (int64_t g = 0; g < G; ++g) {
        if (diverged[g].empty() && !std::isfinite(la[k][g]))
          diverged[g] = DivergedError(epoch, k + 1, "loss").what();
        loss_sum[g] += la[k][g];
        ce_sum[g] += ca[k][g];
      }
    {
      torch::NoGradGuard no_grad;
      auto finite = torch::isfinite(W.detach()).flatten(1).all(1).logical_and(torch::isfinite(b.detach()).all(1)).cpu();
      for (int64_t g = 0; g < G; ++g)
        if (diverged[g].empty() && !finite[g].item<bool>()) diverged[g] = DivergedError(epoch, 0, "adapter weights").what();
    }

    // Score every adapter on dev and test; keep each one's best dev epoch.
    auto dev_pred = stacked_predict(features.all(Part::dev), W, b);
    auto test_pred = stacked_predict(features.all(Part::test), W, b);
    auto lrs = opt.lrs().cpu();
    const auto dists = distance_to_anchor(W.detach(), s.anchor).cpu();  // the pull's progress, per epoch
    for (int64_t g = 0; g < G; ++g) {
      auto& r = out[g].result;
      auto d = score(dev.gold, dev_pred[g], s.negative, K);
      auto t = score(test.gold, test_pred[g], s.negative, K);
      r.curve.push_back({epoch, loss_sum[g] / steps, ce_sum[g] / steps,
                         d.micro_f1, t.micro_f1, lrs[g].item<double>(), dists[g].item<double>()});
      r.diag.steps += steps;
      r.metrics[EvalSplit::dev_last] = d;
      r.metrics[EvalSplit::test_last] = t;
      if (d.micro_f1 > best_f1[g]) {
        best_f1[g] = d.micro_f1;
        r.best_epoch = epoch;
        r.metrics[EvalSplit::dev] = d;
        r.metrics[EvalSplit::test] = t;
        r.per_class_test_f1 = per_class_f1(test.gold, test_pred[g], K);
        r.diag.pred_hash_dev = predictions_hash(dev_pred[g]);
        r.diag.pred_hash_test = predictions_hash(test_pred[g]);
        out[g].weight = W[g].detach().clone();  // stays on the device until the end
        out[g].bias = b[g].detach().clone();
      } else if (cfg.lr_decay < 1.0) {
        torch::NoGradGuard no_grad;
        opt.lrs()[g].mul_(cfg.lr_decay);
      }
    }
  }

  const auto w_dist_final = distance_to_anchor(W.detach(), s.anchor).cpu();
  ce_first = ce_first.cpu();
  pen_first = pen_first.cpu();
  ce_last = ce_last.cpu();
  pen_last = pen_last.cpu();
  for (int64_t g = 0; g < G; ++g) {
    auto& r = out[g].result;
    r.epochs = cfg.epochs;
    r.init = init_of[g];
    if (!diverged[g].empty()) {
      r.status = Status::diverged;
      r.error = diverged[g];
    }
    auto& dg = r.diag;
    dg.lr = cfg.lr;
    dg.optimizer = cfg.optimizer;
    dg.ce_first = ce_first[g].item<double>();
    dg.penalty_first = pen_first[g].item<double>();
    dg.ce_last = ce_last[g].item<double>();
    dg.penalty_last = pen_last[g].item<double>();
    dg.penalty_share_first = dg.penalty_first / std::max(1e-30, dg.ce_first + dg.penalty_first);
    dg.penalty_share_last = dg.penalty_last / std::max(1e-30, dg.ce_last + dg.penalty_last);
    dg.w_dist_init = w_dist_init[g].item<double>();
    dg.w_dist_final = w_dist_final[g].item<double>();
    if (out[g].weight.defined()) {
      out[g].weight = out[g].weight.cpu();
      out[g].bias = out[g].bias.cpu();
    }
    out[g].weight_last = W[g].detach().cpu().clone();
    out[g].bias_last = b[g].detach().cpu().clone();
    dg.weights_hash = tensor_hash(torch::cat({out[g].weight_last.flatten(), out[g].bias_last}));
  }
  return out;
}

AdapterOutcome evaluate_anchor(const AdapterSetup& s, FeatureSource& features) {
  const int64_t K = s.anchor.size(0);
  auto W = s.anchor.unsqueeze(0);
  auto b = torch::zeros({1, K}, s.anchor.options());
  auto dev_pred = stacked_predict(features.all(Part::dev), W, b)[0];
  auto test_pred = stacked_predict(features.all(Part::test), W, b)[0];
  AdapterOutcome o;
  auto& r = o.result;
  const auto& dev = features.split(Part::dev);
  const auto& test = features.split(Part::test);
  r.metrics[EvalSplit::dev] = r.metrics[EvalSplit::dev_last] = score(dev.gold, dev_pred, s.negative, K);
  r.metrics[EvalSplit::test] = r.metrics[EvalSplit::test_last] = score(test.gold, test_pred, s.negative, K);
  r.per_class_test_f1 = per_class_f1(test.gold, test_pred, K);
  r.init = AdapterInit::anchor;
  r.diag.pred_hash_dev = predictions_hash(dev_pred);
  r.diag.pred_hash_test = predictions_hash(test_pred);
  o.weight = o.weight_last = s.anchor.cpu().clone();
  o.bias = o.bias_last = torch::zeros({K});
  r.diag.weights_hash = tensor_hash(torch::cat({o.weight.flatten(), o.bias}));
  return o;
}

}  // namespace anchorsweep
