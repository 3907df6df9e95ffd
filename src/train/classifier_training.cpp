#include "train/classifier_training.hpp"

#include <chrono>

#include "train/evaluate.hpp"

namespace anchorsweep {

namespace {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& cfg,
                                                        std::vector<torch::Tensor> params) {
  if (cfg.optimizer == "sgd")
    return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(cfg.lr));
  return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(cfg.lr));
}

void set_lr(torch::optim::Optimizer& opt, double lr) {
  for (auto& group : opt.param_groups()) group.options().set_lr(lr);
}

// Copies of every parameter and buffer, to restore the best epoch at the end.
std::vector<torch::Tensor> snapshot(torch::nn::Module& m) {
  std::vector<torch::Tensor> s;
  for (auto& p : m.parameters()) s.push_back(p.detach().clone());
  for (auto& b : m.buffers()) s.push_back(b.detach().clone());
  return s;
}
void restore(torch::nn::Module& m, const std::vector<torch::Tensor>& s) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& p : m.parameters()) p.copy_(s[i++]);
  for (auto& b : m.buffers()) b.copy_(s[i++]);
}

}  // namespace

ClassifierRun train_classifier(Encoder& encoder, const TrainConfig& cfg, const EncodedSplit& train,
                               const EncodedSplit& dev, const EncodedSplit* test,
                               int64_t negative, uint64_t seed) {
  const auto device = encoder->dense->weight.device();
  const int64_t K = encoder->num_classes();
  auto opt = make_optimizer(cfg, encoder->parameters());
  double lr = cfg.lr;
  ClassifierRun run;
  double best_f1 = -1, train_seconds = 0;
  int64_t trained = 0;
  std::vector<torch::Tensor> best;

  for (int64_t epoch = 1; epoch <= cfg.epochs; ++epoch) {
    encoder->train();
    auto order = shuffled_order(train.size(), seed, epoch);
    double loss_sum = 0;
    int64_t steps = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < train.size(); i += cfg.batch_size) {
      const int64_t n = std::min(cfg.batch_size, train.size() - i);
      auto idx = torch::from_blob(order.data() + i, {n}, torch::kLong).clone();
      auto batch = train.rows(idx).to(device);
      auto loss = torch::nn::functional::cross_entropy(encoder->forward(batch).logits, batch.labels);
      opt->zero_grad();
      loss.backward();
      if (cfg.grad_clip > 0) torch::nn::utils::clip_grad_norm_(encoder->parameters(), cfg.grad_clip);
      opt->step();
      loss_sum += loss.item<double>();
      ++steps;
      trained += n;
    }
    train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    encoder->eval();
    auto dev_scores = score(dev.gold, predict(encoder, dev), negative, K);
    Scores test_scores;
    std::vector<int64_t> test_pred;
    if (test) {
      test_pred = predict(encoder, *test);
      test_scores = score(test->gold, test_pred, negative, K);
    }
    run.curve.push_back({epoch, loss_sum / std::max<int64_t>(1, steps), loss_sum / std::max<int64_t>(1, steps),
                         dev_scores.micro_f1, test_scores.micro_f1, lr});
    run.dev_last = dev_scores;
    run.test_last = test_scores;
    if (dev_scores.micro_f1 > best_f1) {
      best_f1 = dev_scores.micro_f1;
      run.best_epoch = epoch;
      run.dev = dev_scores;
      run.test = test_scores;
      run.test_pred = test_pred;
      best = snapshot(*encoder);
    } else if (cfg.lr_decay < 1.0) {
      // The PA-LSTM recipe: shrink the step when dev F1 stops improving.
      lr *= cfg.lr_decay;
      set_lr(*opt, lr);
    }
  }
  restore(*encoder, best);
  encoder->eval();
  run.examples_per_s = train_seconds > 0 ? trained / train_seconds : 0;
  return run;
}

}  // namespace anchorsweep
