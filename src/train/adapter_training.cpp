#include "train/adapter_training.hpp"

#include <cmath>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/liveness.hpp"
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

namespace {

// G adapters stacked as W [G, K, K+H] and b [G, K]; each starts from its init's draw for this
// seed, so every trial of a seed with the same init starts from the same W: λ is the only difference.
void stacked_init(const std::vector<AdapterInit>& init_of, const torch::Tensor& anchor, int64_t seed,
                  torch::Tensor& W, torch::Tensor& b) {
  std::vector<torch::Tensor> Ws, bs;
  for (const AdapterInit init : init_of) {
    torch::Tensor w1, b1;
    init_adapters(init, anchor, 1, seed, w1, b1);
    Ws.push_back(w1);
    bs.push_back(b1);
  }
  W = torch::cat(Ws, 0);
  b = torch::cat(bs, 0);
}

// The stacked adapters being trained, with everything one epoch needs.
struct StackedTraining {
  const AdapterSetup& s;
  FeatureSource& features;
  torch::Tensor W, b, lam, train_labels;
  StackedOptimizer& opt;
  bool decoupled;
  // Each adapter's cross-entropy and penalty at the first and the last step (kept on the device).
  torch::Tensor ce_first, pen_first, ce_last, pen_last;
  // Where each adapter first went non-finite; it trains on (its NaNs stay in its own slice of
  // the stack) and ends as "diverged" while the others are unaffected.
  std::vector<std::string> diverged;
};

// One epoch over B's training rows in this epoch's order. Returns each adapter's mean total
// loss and mean cross-entropy over the epoch's steps, and the number of steps.
int64_t train_epoch(StackedTraining& t, int64_t epoch, std::vector<double>& loss_mean, std::vector<double>& ce_mean) {
  const auto& cfg = *t.s.train;
  const auto& train = t.features.split(Part::train);
  const int64_t G = t.W.size(0);
  const EpochOrder order(train.size(), t.s.seed, epoch, t.W.device());  // to the device once per epoch
  std::vector<torch::Tensor> step_loss, step_ce;  // [G] per step, read once per epoch
  int64_t steps = 0;
  for (int64_t i = 0; i < train.size(); i += cfg.batch_size) {
    const int64_t n = std::min(cfg.batch_size, train.size() - i);
    const RowIndex idx = order.slice(i, n);
    auto X = t.features.rows(Part::train, idx, /*training=*/true);     // [B, D]
    auto logits = adapter_forward(X, t.W, t.b);                        // [G, B, K]
    auto ce = stacked_cross_entropy(logits, t.train_labels.index_select(0, idx.device));  // [G]
    // In loss mode the anchor's pull is part of what autograd differentiates:
    // ∂/∂W_g λ_g‖W_g − A‖² = 2λ_g(W_g − A). In decoupled mode it is applied after the step.
    auto pen = penalty(t.W, t.b, t.s.anchor, t.lam, t.s.penalty->penalize_bias);  // [G]
    auto total = t.decoupled ? ce : ce + pen;
    total.sum().backward();  // adapters share no parameters: each gets only its own gradient
    t.opt.step(t.W, t.b);
    if (t.decoupled) decoupled_pull(t.W, t.b, t.s.anchor, t.lam, t.opt.lrs(), t.s.penalty->penalize_bias);

    auto ce_d = ce.detach(), pen_d = pen.detach();
    if (!t.ce_first.defined()) {
      t.ce_first = ce_d;
      t.pen_first = pen_d;
    }
    t.ce_last = ce_d;
    t.pen_last = pen_d;
    step_loss.push_back(ce_d + pen_d);
    step_ce.push_back(ce_d);
    ++steps;
    liveness::tick();  // for the heartbeat: this rank's training thread is not stuck
  }
  // Per-adapter sums over the epoch's steps, in step order and in double.
  auto losses = torch::stack(step_loss).to(torch::kDouble).cpu(), ces = torch::stack(step_ce).to(torch::kDouble).cpu();
  auto la = losses.accessor<double, 2>(), ca = ces.accessor<double, 2>();
  std::vector<double> loss_sum(G, 0.0), ce_sum(G, 0.0);
  for (int64_t k = 0; k < steps; ++k)
    for (int64_t g = 0; g < G; ++g) {
      if (t.diverged[g].empty() && !std::isfinite(la[k][g])) t.diverged[g] = DivergedError(epoch, k + 1, "loss").what();
      loss_sum[g] += la[k][g];
      ce_sum[g] += ca[k][g];
    }
  {
    torch::NoGradGuard no_grad;
    auto finite = torch::isfinite(t.W.detach()).flatten(1).all(1).logical_and(torch::isfinite(t.b.detach()).all(1)).cpu();
    for (int64_t g = 0; g < G; ++g)
      if (t.diverged[g].empty() && !finite[g].item<bool>()) t.diverged[g] = DivergedError(epoch, 0, "adapter weights").what();
  }
  loss_mean.assign(G, 0.0);
  ce_mean.assign(G, 0.0);
  for (int64_t g = 0; g < G; ++g) {
    loss_mean[g] = loss_sum[g] / steps;
    ce_mean[g] = ce_sum[g] / steps;
  }
  return steps;
}

// Scores every adapter on dev and test after `epoch`; keeps each one's best dev epoch (its
// metrics, predictions' hashes and weights) and decays the lr of those that did not improve.
void score_epoch(StackedTraining& t, int64_t epoch, int64_t steps, const std::vector<double>& loss_mean,
                 const std::vector<double>& ce_mean, std::vector<double>& best_f1, std::vector<AdapterOutcome>& out) {
  const auto& cfg = *t.s.train;
  const auto& dev = t.features.split(Part::dev);
  const auto& test = t.features.split(Part::test);
  const int64_t K = t.s.anchor.size(0);
  auto dev_pred = stacked_predict(t.features.all(Part::dev), t.W, t.b);
  auto test_pred = stacked_predict(t.features.all(Part::test), t.W, t.b);
  auto lrs = t.opt.lrs().cpu();
  const auto dists = distance_to_anchor(t.W.detach(), t.s.anchor).cpu();  // the pull's progress, per epoch
  for (size_t g = 0; g < out.size(); ++g) {
    auto& r = out[g].result;
    auto d = score(dev.gold, dev_pred[g], t.s.negative, K);
    auto ts = score(test.gold, test_pred[g], t.s.negative, K);
    r.curve.push_back({epoch, loss_mean[g], ce_mean[g], d.micro_f1, ts.micro_f1, lrs[g].item<double>(), dists[g].item<double>()});
    r.diag.steps += steps;
    r.metrics[EvalSplit::dev_last] = d;
    r.metrics[EvalSplit::test_last] = ts;
    if (d.micro_f1 > best_f1[g]) {
      best_f1[g] = d.micro_f1;
      r.best_epoch = epoch;
      r.metrics[EvalSplit::dev] = d;
      r.metrics[EvalSplit::test] = ts;
      r.per_class_test_f1 = per_class_f1(test.gold, test_pred[g], K);
      r.test_gold_counts = label_counts(test.gold, K);
      r.test_pred_counts = label_counts(test_pred[g], K);
      r.diag.pred_hash_dev = predictions_hash(dev_pred[g]);
      r.diag.pred_hash_test = predictions_hash(test_pred[g]);
      out[g].weight = t.W[g].detach().clone();  // stays on the device until the end
      out[g].bias = t.b[g].detach().clone();
    } else if (cfg.lr_decay < 1.0) {
      torch::NoGradGuard no_grad;
      t.opt.lrs()[g].mul_(cfg.lr_decay);
    }
  }
}

// After the last epoch: status, diagnostics (loss parts, distances to the anchor) and weights.
void finish_outcomes(const StackedTraining& t, const std::vector<AdapterInit>& init_of, const torch::Tensor& w_dist_init,
                     std::vector<AdapterOutcome>& out) {
  const auto& cfg = *t.s.train;
  const auto w_dist_final = distance_to_anchor(t.W.detach(), t.s.anchor).cpu();
  const auto ce_first = t.ce_first.cpu(), pen_first = t.pen_first.cpu(), ce_last = t.ce_last.cpu(),
             pen_last = t.pen_last.cpu();
  for (size_t g = 0; g < out.size(); ++g) {
    auto& r = out[g].result;
    r.epochs = cfg.epochs;
    r.init = init_of[g];
    if (!t.diverged[g].empty()) {
      r.status = Status::diverged;
      r.error = t.diverged[g];
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
    out[g].weight_last = t.W[g].detach().cpu().clone();
    out[g].bias_last = t.b[g].detach().cpu().clone();
    dg.weights_hash = tensor_hash(torch::cat({out[g].weight_last.flatten(), out[g].bias_last}));
  }
}

}  // namespace

std::vector<AdapterOutcome> train_adapters(const AdapterSetup& s, const std::vector<double>& lambdas,
                                           FeatureSource& features, const std::vector<AdapterInit>& inits) {
  const auto& cfg = *s.train;
  const int64_t G = static_cast<int64_t>(lambdas.size());
  const auto device = s.anchor.device();
  std::vector<AdapterInit> init_of(G, s.init);
  if (!inits.empty()) init_of = inits;
  torch::Tensor W, b;
  stacked_init(init_of, s.anchor, s.seed, W, b);
  const auto w_dist_init = distance_to_anchor(W, s.anchor).cpu();
  W.requires_grad_(true);
  b.requires_grad_(true);
  StackedOptimizer opt(cfg.optimizer, torch::full({G}, cfg.lr, torch::TensorOptions().device(device)), cfg.grad_clip);
  StackedTraining t{s,
                    features,
                    W,
                    b,
                    torch::tensor(lambdas, torch::kDouble).to(torch::kFloat).to(device),  // λ_g, one per adapter
                    features.split(Part::train).all.labels.to(device),
                    opt,
                    s.penalty->mode == PenaltyMode::decoupled,
                    {}, {}, {}, {},
                    std::vector<std::string>(G)};

  std::vector<AdapterOutcome> out(G);
  std::vector<double> best_f1(G, -1.0), loss_mean, ce_mean;
  for (int64_t epoch = 1; epoch <= cfg.epochs; ++epoch) {
    const int64_t steps = train_epoch(t, epoch, loss_mean, ce_mean);
    score_epoch(t, epoch, steps, loss_mean, ce_mean, best_f1, out);
  }
  finish_outcomes(t, init_of, w_dist_init, out);
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
  r.test_gold_counts = label_counts(test.gold, K);
  r.test_pred_counts = label_counts(test_pred, K);
  r.init = AdapterInit::anchor;
  r.diag.pred_hash_dev = predictions_hash(dev_pred);
  r.diag.pred_hash_test = predictions_hash(test_pred);
  o.weight = o.weight_last = s.anchor.cpu().clone();
  o.bias = o.bias_last = torch::zeros({K});
  r.diag.weights_hash = tensor_hash(torch::cat({o.weight.flatten(), o.bias}));
  return o;
}

}  // namespace anchorsweep
