#include "train/classifier_training.hpp"

#include <chrono>
#include <sstream>

#include "common/errors.hpp"
#include "common/liveness.hpp"
#include "train/buckets.hpp"
#include "train/device_adam.hpp"
#include "train/evaluate.hpp"
#include "train/fused_adam.hpp"
#include "train/grad_buckets.hpp"
#include "train/grad_clip.hpp"
#include "train/metrics.hpp"
#include "train/shard_group.hpp"
#include "train/step_graph.hpp"

namespace anchorsweep {

namespace {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& cfg,
                                                        std::vector<torch::Tensor> params) {
  if (cfg.optimizer == Optimizer::sgd)
    return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(cfg.lr));
  // On the CPU: Adam's arithmetic in one pass per parameter, sparse embedding rows welcome.
  if (FusedAdam::supports(params)) return std::make_unique<FusedAdam>(params, torch::optim::AdamOptions(cfg.lr));
  // On a GPU: all parameters in a fixed handful of kernels, step count on the device.
  return std::make_unique<DeviceAdam>(params, torch::optim::AdamOptions(cfg.lr));
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

// The dropout stream of one epoch: a pure function of (seed, epoch), so a resumed run draws the
// same masks as one that never stopped (splitmix64 of the pair).
uint64_t epoch_seed(uint64_t seed, int64_t epoch) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(epoch + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return (z ^ (z >> 31)) >> 1;  // torch::manual_seed takes it as a positive int64
}

// Everything the loop carries from one epoch to the next, beyond the weights and optimizer.
struct LoopState {
  int64_t epoch = 0;  // epochs done
  double lr = 0, best_f1 = -1, train_seconds = 0;
  int64_t trained = 0;
  ClassifierRun run;
  std::vector<torch::Tensor> best;
};

nlohmann::json meta_of(const LoopState& st) {
  nlohmann::json curve = nlohmann::json::array();
  for (const auto& p : st.run.curve) curve.push_back(epoch_point_to_json(p));
  return {{"epoch", st.epoch}, {"lr", st.lr}, {"best_f1", st.best_f1}, {"train_seconds", st.train_seconds},
          {"trained", st.trained}, {"best_epoch", st.run.best_epoch}, {"dev", to_json(st.run.dev)},
          {"test", to_json(st.run.test)}, {"dev_last", to_json(st.run.dev_last)},
          {"test_last", to_json(st.run.test_last)}, {"test_pred", st.run.test_pred}, {"curve", curve}};
}

void meta_into(const nlohmann::json& j, LoopState& st) {
  st.epoch = j.at("epoch").get<int64_t>();
  st.lr = j.at("lr").get<double>();
  st.best_f1 = j.at("best_f1").get<double>();
  st.train_seconds = j.at("train_seconds").get<double>();
  st.trained = j.at("trained").get<int64_t>();
  st.run.best_epoch = j.at("best_epoch").get<int64_t>();
  st.run.dev = scores_from_json(j.at("dev"));
  st.run.test = scores_from_json(j.at("test"));
  st.run.dev_last = scores_from_json(j.at("dev_last"));
  st.run.test_last = scores_from_json(j.at("test_last"));
  st.run.test_pred = j.at("test_pred").get<std::vector<int64_t>>();
  st.run.curve.clear();
  for (const auto& p : j.at("curve")) st.run.curve.push_back(epoch_point_from_json(p));
}

// The checkpoint: a LibTorch archive holding the module, the optimizer (moments and step
// counts), the best-epoch snapshot and the loop's bookkeeping as JSON.
std::vector<char> save_state(Encoder& encoder, torch::optim::Optimizer& opt, const LoopState& st) {
  torch::serialize::OutputArchive ar, model, optim, best;
  encoder->save(model);
  opt.save(optim);
  for (size_t i = 0; i < st.best.size(); ++i) best.write(std::to_string(i), st.best[i]);
  ar.write("model", model);
  ar.write("optimizer", optim);
  ar.write("best", best);
  ar.write("meta", c10::IValue(meta_of(st).dump()));
  std::ostringstream out;
  ar.save_to(out);
  const std::string s = out.str();
  return std::vector<char>(s.begin(), s.end());
}

void load_state(const std::vector<char>& bytes, Encoder& encoder, torch::optim::Optimizer& opt, LoopState& st,
                const torch::Device& device) {
  torch::serialize::InputArchive ar, model, optim, best;
  ar.load_from(bytes.data(), bytes.size(), device);
  ar.read("model", model);
  ar.read("optimizer", optim);
  ar.read("best", best);
  encoder->load(model);
  opt.load(optim);
  c10::IValue meta;
  ar.read("meta", meta);
  meta_into(nlohmann::json::parse(meta.toStringRef()), st);
  const size_t n = encoder->parameters().size() + encoder->buffers().size();
  st.best.assign(n, torch::Tensor());
  for (size_t i = 0; i < n; ++i) best.read(std::to_string(i), st.best[i]);
}

// One read for all parameters; the name is looked up only when something is wrong.
void check_weights_finite(Encoder& encoder, int64_t epoch) {
  torch::NoGradGuard no_grad;
  const auto named = encoder->named_parameters();
  std::vector<torch::Tensor> finite;
  for (const auto& p : named) finite.push_back(torch::isfinite(p.value()).all());
  if (finite.empty()) return;
  auto each = torch::stack(finite).cpu();
  for (int64_t i = 0; i < each.size(0); ++i)
    if (!each[i].item<bool>()) throw DivergedError(epoch, 0, "weights (" + named[i].key() + ")");
}

// What every step of the loop needs.
struct Loop {
  Encoder& encoder;
  const TrainConfig& cfg;
  torch::optim::Optimizer& opt;
  ShardGroup* group;  // null: this rank trains alone
  torch::Device device;
  bool fused;         // FusedAdam: gradients are dropped between steps, not zeroed (zero + g = g)
  std::vector<int64_t> widths;  // pretrain.length_buckets' widths; empty: each batch at its own width
  GradientBuckets* exchange = nullptr;  // a group's gradient sums (null: this rank trains alone)
  StepGraphs* graphs = nullptr; // CUDA graphs of the whole step (null: eager)
  std::string eager_reason;     // why not, or why no longer
  bool host_masks = false;      // after a failed capture: masks from the host's generator

  // Dropout masks for `n` rows at `width` (after a failed capture the CUDA generator may still
  // expect one, so they are then drawn on the host and copied).
  DropoutMasks masks(int64_t n, int64_t width) const {
    return host_masks ? encoder->draw_masks(n, width, torch::kCPU).to(device) : encoder->draw_masks(n, width, device);
  }

  void clear_grads() {
    if (!fused) return opt.zero_grad();
    for (auto& p : encoder->parameters()) p.mutable_grad() = torch::Tensor();
  }
};

// What a step leaves on the device for the epoch's one read: its mean loss and the real rows it
// classified right; the gradient norm before clipping once clipped; `stepped` when a CUDA graph
// already clipped and took the optimizer step.
struct StepOut {
  torch::Tensor loss{}, correct{}, grad_norm{};
  bool stepped = false;
};

// One rank alone: the batch's mean cross-entropy, differentiated.
StepOut one_rank_step(Loop& L, const EncodedSplit& train, const RowIndex& idx, int64_t n) {
  if (!L.widths.empty()) {
    // Static shapes (train/buckets.hpp): batch_size rows, the padding weighing nothing, at a
    // bucket's width; dropout masks drawn for that whole shape.
    const PaddedRows p = pad_rows(idx, L.cfg.batch_size);
    auto batch = train.rows(p.index, bucket_width(L.widths, train.width_of(idx.host))).to(L.device);
    const auto weights = p.weights.to(L.device);
    if (L.graphs) {
      try {
        const auto s = L.graphs->step(batch, weights);  // forward, backward, clip and Adam: [loss, correct, norm]
        return {s[0], s[1], L.cfg.grad_clip > 0 ? s[2] : torch::Tensor(), true};
      } catch (const CaptureFailed& e) {
        L.graphs = nullptr;  // this step and the rest run eagerly
        L.host_masks = true;
        L.eager_reason = e.what();
      }
    }
    const DropoutMasks masks = L.masks(p.index.host.numel(), batch.tokens.size(1));
    const auto logits = L.encoder->forward(batch, &masks).logits;
    auto loss = weighted_cross_entropy(logits, batch.labels, weights, n);
    L.clear_grads();
    loss.backward();
    return {loss, weighted_correct(logits, batch.labels, weights)};
  }
  auto batch = train.rows(idx).to(L.device);  // a no-op when train lives on `device`
  // On the CPU the module's dropout draws exactly draw_masks' noise. On a GPU ATen's fused
  // dropout draws other numbers, so there the masks are drawn explicitly, and one rank
  // trains what a data-parallel group trains (which must draw the whole batch's masks).
  DropoutMasks gpu_masks;
  if (L.device.is_cuda()) gpu_masks = L.masks(n, batch.tokens.size(1));
  const auto logits = L.encoder->forward(batch, L.device.is_cuda() ? &gpu_masks : nullptr).logits;
  auto loss = torch::nn::functional::cross_entropy(logits, batch.labels);
  L.clear_grads();
  loss.backward();
  return {loss, weighted_correct(logits, batch.labels, torch::Tensor())};
}

// Data-parallel: the global batch's width and dropout masks (drawn whole, from the same stream on
// every member), then this member's rows. Its loss is Σ CE / n over its rows, so the group's
// summed gradient is that of the global batch's mean loss. The sum runs bucket by bucket while
// backward goes on (train/grad_buckets.hpp).
StepOut group_step(Loop& L, const EncodedSplit& train, const RowIndex& batch_rows, int64_t n) {
  ShardGroup& group = *L.group;
  // With length buckets the global batch is batch_size rows at a bucket's width, its padding
  // weighing nothing (train/buckets.hpp); each member takes its share of all of them.
  const bool buckets = !L.widths.empty();
  const PaddedRows padded = buckets ? pad_rows(batch_rows, L.cfg.batch_size) : PaddedRows{batch_rows, torch::Tensor(), n};
  const RowIndex& global = padded.index;
  const int64_t rows = global.host.numel();
  const int64_t width = buckets ? bucket_width(L.widths, train.width_of(batch_rows.host)) : train.width_of(global.host);
  const DropoutMasks masks = L.masks(rows, width);
  const auto [lo, hi] = shard_rows(rows, group.rank(), group.size());
  L.clear_grads();
  if (hi <= lo) {  // fewer rows than members: this one adds zeros
    L.exchange->begin_step(torch::empty({0}, torch::kLong));
    L.exchange->end_step();
    const auto zero = torch::zeros({}, torch::TensorOptions().device(L.device));
    return {zero, zero};
  }
  const RowIndex mine(global.host.narrow(0, lo, hi - lo), global.device.narrow(0, lo, hi - lo));
  auto batch = train.rows(mine, width).to(L.device);
  L.exchange->begin_step(batch.tokens);  // the embedding rows this share looks up
  const DropoutMasks my_masks = masks.rows(lo, hi - lo);
  const auto my_weights = buckets ? padded.weights.narrow(0, lo, hi - lo).to(L.device) : torch::Tensor();
  namespace F = torch::nn::functional;
  const auto logits = L.encoder->forward(batch, &my_masks).logits;
  auto loss = buckets ? weighted_cross_entropy(logits, batch.labels, my_weights, n)
                      : F::cross_entropy(logits, batch.labels, F::CrossEntropyFuncOptions().reduction(torch::kSum)) /
                            static_cast<double>(n);
  loss.backward();
  L.exchange->end_step();
  return {loss, weighted_correct(logits, batch.labels, my_weights)};
}

// What an epoch of steps leaves for its curve point.
struct EpochTrain {
  double mean_loss = 0;
  double accuracy = std::numeric_limits<double>::quiet_NaN();
  double grad_norm = std::numeric_limits<double>::quiet_NaN();
};

// One epoch of steps over `train` in this epoch's order: the mean loss (summed step by step in
// double), the share of rows classified right and the mean gradient norm before clipping. The
// first non-finite step, or non-finite weights, end the run as diverged.
EpochTrain train_epoch(Loop& L, LoopState& st, const EncodedSplit& train, uint64_t seed, int64_t epoch) {
  L.encoder->train();
  torch::manual_seed(epoch_seed(seed, epoch));  // this epoch's dropout masks
  const EpochOrder order(train.size(), seed, epoch, train.device());
  std::vector<torch::Tensor> step_stats;        // [loss, correct, norm] per step, read once per epoch
  const auto nan = torch::full({}, std::numeric_limits<float>::quiet_NaN(), torch::TensorOptions().device(L.device));
  auto t0 = std::chrono::steady_clock::now();
  // Nothing in this loop waits for the device: the batch is cut from the resident split by a
  // slice of the epoch's order, the loss stays a device scalar, and clipping keeps its norm there.
  for (int64_t i = 0; i < train.size(); i += L.cfg.batch_size) {
    const int64_t n = std::min(L.cfg.batch_size, train.size() - i);
    const RowIndex idx = order.slice(i, n);
    StepOut s = L.group ? group_step(L, train, idx, n) : one_rank_step(L, train, idx, n);
    if (!s.stepped) {
      if (L.cfg.grad_clip > 0) s.grad_norm = clip_grad_norm(L.encoder->parameters(), L.cfg.grad_clip);
      L.opt.step();
    }
    step_stats.push_back(torch::stack({s.loss.detach().to(torch::kFloat), s.correct.to(torch::kFloat),
                                       s.grad_norm.defined() ? s.grad_norm.detach().to(torch::kFloat).reshape({}) : nan}));
    st.trained += n;
    liveness::tick();  // for the heartbeat: this rank's training thread is not stuck
  }
  // The epoch's one read from the device; it waits for the queued steps, so the time below
  // counts the device's work too.
  const int64_t steps = static_cast<int64_t>(step_stats.size());
  torch::Tensor stats;
  if (steps > 0) stats = torch::stack(step_stats).to(torch::kDouble).cpu().contiguous();
  if (L.group && steps > 0) {
    // Members' partial loss sums and counts -> each step's; the norm is of the summed gradients,
    // the same on every member.
    auto parts = stats.narrow(1, 0, 2).contiguous();
    L.group->all_reduce_sum(parts);
    stats.narrow(1, 0, 2).copy_(parts);
  }
  st.train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  EpochTrain out;
  if (steps > 0) {
    auto a = stats.accessor<double, 2>();
    double loss_sum = 0, correct = 0, norm_sum = 0;
    for (int64_t k = 0; k < steps; ++k) {
      if (!std::isfinite(a[k][0])) throw DivergedError(epoch, k + 1, "loss");
      loss_sum += a[k][0];
      correct += a[k][1];
      norm_sum += a[k][2];
    }
    out.mean_loss = loss_sum / steps;
    out.accuracy = correct / static_cast<double>(train.size());
    out.grad_norm = norm_sum / steps;  // NaN with clipping off
  }
  check_weights_finite(L.encoder, epoch);
  return out;
}

// A split's predictions; a group's members each compute their share of its chunks and sum
// them (prediction + 1 where a member computed the row, 0 elsewhere: every row is one member's).
std::vector<int64_t> predictions(Loop& L, const EncodedSplit& split) {
  if (!L.group) return predict(L.encoder, split);
  const auto mine = predict_share(L.encoder, split, L.group->rank(), L.group->size());
  auto t = torch::tensor(std::vector<double>(mine.begin(), mine.end()), torch::kDouble).add_(1);
  L.group->all_reduce_sum(t);
  std::vector<int64_t> out(mine.size());
  auto a = t.accessor<double, 1>();
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<int64_t>(a[static_cast<int64_t>(i)]) - 1;
  return out;
}

// Dev (and test) scores after `epoch`; the best dev epoch's weights are kept, and the PA-LSTM
// recipe shrinks the step when dev F1 stops improving.
void score_epoch(Loop& L, LoopState& st, const EncodedSplit& dev, const EncodedSplit* test, int64_t negative,
                 int64_t epoch, const EpochTrain& trained) {
  const int64_t K = L.encoder->num_classes();
  L.encoder->eval();
  auto dev_scores = score(dev.gold, predictions(L, dev), negative, K);
  Scores test_scores;
  std::vector<int64_t> test_pred;
  if (test) {
    test_pred = predictions(L, *test);
    test_scores = score(test->gold, test_pred, negative, K);
  }
  EpochPoint point{epoch, trained.mean_loss, trained.mean_loss, dev_scores.micro_f1, test_scores.micro_f1, st.lr};
  point.train_accuracy = trained.accuracy;
  point.grad_norm = trained.grad_norm;
  st.run.curve.push_back(point);
  st.run.dev_last = dev_scores;
  st.run.test_last = test_scores;
  if (dev_scores.micro_f1 > st.best_f1) {
    st.best_f1 = dev_scores.micro_f1;
    st.run.best_epoch = epoch;
    st.run.dev = dev_scores;
    st.run.test = test_scores;
    st.run.test_pred = test_pred;
    st.best = snapshot(*L.encoder);
  } else if (L.cfg.lr_decay < 1.0) {
    st.lr *= L.cfg.lr_decay;
    set_lr(L.opt, st.lr);
  }
}

}  // namespace

ClassifierRun train_classifier(Encoder& encoder, const TrainConfig& cfg, const EncodedSplit& train,
                               const EncodedSplit& dev, const EncodedSplit* test,
                               int64_t negative, uint64_t seed, EpochControl* control) {
  const auto device = encoder->dense->weight.device();
  ShardGroup* group = control && control->group && control->group->size() > 1 ? control->group : nullptr;
  auto opt = make_optimizer(cfg, encoder->parameters());
  // With FusedAdam, the word embedding's gradient is sparse: the rows of the batch's words
  // instead of a dense [vocabulary, word_dim] tensor built and zeroed every step (the same
  // update: FusedAdam treats the other rows as zero gradient). A group exchanges just those rows.
  const bool fused = dynamic_cast<FusedAdam*>(opt.get()) != nullptr;
  const bool sparse_words = fused;
  struct SparseWords {
    Encoder& e;
    bool was;
    SparseWords(Encoder& e, bool on) : e(e), was(e->word->options.sparse()) { e->word->options.sparse(on); }
    ~SparseWords() { e->word->options.sparse(was); }
  } sparse_guard(encoder, sparse_words);
  Loop L{encoder, cfg, *opt, group, device, fused, {}, nullptr, nullptr, {}};
  std::unique_ptr<GradientBuckets> exchange;
  if (group)
    exchange = std::make_unique<GradientBuckets>(*group, encoder->parameters(), encoder->word->weight, gradient_bucket_bytes());
  L.exchange = exchange.get();
  if (cfg.length_buckets > 0) L.widths = bucket_widths(train.all.host_lengths, cfg.length_buckets);
  auto* device_adam = dynamic_cast<DeviceAdam*>(opt.get());
  L.eager_reason = graph_unavailable(device, cfg, encoder->config(), group != nullptr, device_adam != nullptr);
  std::unique_ptr<StepGraphs> graphs;
  if (L.eager_reason.empty()) graphs = std::make_unique<StepGraphs>(encoder, *device_adam, cfg.grad_clip);
  L.graphs = graphs.get();
  auto step_mode = [&] {
    if (L.graphs) return "cuda graphs (" + std::to_string(graphs->graphs()) + " widths captured, " +
                         std::to_string(graphs->replays()) + " steps replayed)";
    return "eager: " + L.eager_reason;
  };
  LoopState st;
  st.lr = cfg.lr;
  if (control && !control->resume_from.empty()) {
    load_state(control->resume_from, encoder, *opt, st, device);
    set_lr(*opt, st.lr);
    st.run.resumed_from_epoch = st.epoch;
  }

  for (int64_t epoch = st.epoch + 1; epoch <= cfg.epochs; ++epoch) {
    const EpochTrain trained = train_epoch(L, st, train, seed, epoch);
    score_epoch(L, st, dev, test, negative, epoch, trained);
    st.epoch = epoch;
    if (control && control->after_epoch && epoch < cfg.epochs) {
      // A group's leader reports (and ships the state); every member learns its answer.
      bool go_on = true;
      if (!group || group->rank() == 0) go_on = control->after_epoch(epoch, save_state(encoder, *opt, st));
      if (group) go_on = group->broadcast_flag(go_on);
      if (!go_on) {
        st.run.stopped = true;
        st.run.step = step_mode();
        return st.run;
      }
    }
  }
  restore(*encoder, st.best);
  encoder->eval();
  st.run.examples_per_s = st.train_seconds > 0 ? st.trained / st.train_seconds : 0;
  st.run.step = step_mode();
  return st.run;
}

}  // namespace anchorsweep
