#include "sweep/worker.hpp"

#include <chrono>
#include <cmath>
#include <thread>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/liveness.hpp"
#include "data/feature_files.hpp"
#include "model/adapter.hpp"
#include "model/encoder.hpp"
#include "model/tensor_file.hpp"
#include "train/adapter_training.hpp"
#include "train/classifier_training.hpp"
#include "train/evaluate.hpp"
#include "train/metrics.hpp"

namespace anchorsweep {

uint64_t stream_seed(int64_t seed, const std::string& stream) {
  auto h = fnv1a_hex(std::to_string(seed) + "/" + stream);
  return std::stoull(h.substr(0, 15), nullptr, 16);
}

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The adapter checkpoint: a dict of tensors that Python opens with torch.load.
std::vector<char> adapter_checkpoint(const AdapterOutcome& o, const torch::Tensor& anchor, double lambda) {
  return save_tensor_file({{"weight", o.weight},
                           {"bias", o.bias},
                           {"weight_last", o.weight_last},
                           {"bias_last", o.bias_last},
                           {"anchor", anchor},
                           {"lambda", torch::tensor({lambda}, torch::kDouble)}});
}

// A data-parallel member other than the leader: it trains, the leader reports.
bool is_member(const ShardGroup* group) { return group && group->rank() > 0; }

// The output of a task that records nothing here: a member's share, or a task stopped at an
// epoch boundary.
TaskOutput empty_output(const Task& task, bool member, bool stopped) {
  TaskOutput out{task.id, task.type, task.seed, {}, {}, {}, {}};
  out.group_member = member;
  out.stopped = stopped;
  return out;
}

}  // namespace

Worker::Worker(const SweepConfig& cfg, const Corpus& corpus, Placement placement, WorkerHooks hooks)
    : cfg_(cfg), corpus_(corpus), placement_(std::move(placement)), hooks_(std::move(hooks)),
      device_(placement_.device) {
  const int64_t K = corpus.num_classes();
  if (corpus.features) {
    // Given features: B's labels and features go to the device once; no sentences, no vocabulary.
    const FeatureData& f = *corpus.features;
    auto labels_only = [&](const FeatureSplit& s) {
      EncodedSplit e;
      e.name = s.name;
      e.all.labels = s.y.to(device_);
      e.gold.assign(s.y.data_ptr<int64_t>(), s.y.data_ptr<int64_t>() + s.y.numel());
      return e;
    };
    b_train_ = labels_only(f.train);
    b_dev_ = labels_only(f.dev);
    b_test_ = labels_only(f.test);
    const torch::Tensor x[3] = {f.train.x.to(device_), f.dev.x.to(device_), f.test.x.to(device_)};
    given_ = std::make_unique<GivenFeatures>(x, b_train_, b_dev_, b_test_);
    anchor_ = make_anchor(cfg.adapter.anchor, K, f.K + f.H).to(device_);
    return;
  }
  vocab_ = Vocabulary::build({&corpus.a_train, &corpus.b_train}, cfg.data.min_word_count,
                             cfg.model.entity_masking);
  const bool mask = cfg.model.entity_masking;
  // Every split goes to the rank's device once, for the whole run: the training loops cut their
  // batches there and never build one on the host.
  a_train_ = encode(corpus.a_train, vocab_, corpus, mask).to(device_);
  a_dev_ = encode(corpus.a_dev, vocab_, corpus, mask).to(device_);
  b_train_ = encode(corpus.b_train, vocab_, corpus, mask).to(device_);
  b_dev_ = encode(corpus.b_dev, vocab_, corpus, mask).to(device_);
  b_test_ = encode(corpus.b_test, vocab_, corpus, mask).to(device_);
  const int64_t D = K + cfg.model.hidden * (cfg.model.bidirectional ? 2 : 1);
  anchor_ = make_anchor(cfg.adapter.anchor, K, D).to(device_);
}

std::vector<int64_t> Worker::cached_seeds() const {
  std::vector<int64_t> s;
  for (auto& [seed, bytes] : encoders_) s.push_back(seed);
  return s;
}

void Worker::fill_identity(TrialResult& r, const Task& task, int64_t width) const {
  r.host = placement_.host;
  r.rank = placement_.rank;
  r.device = placement_.device_label();
  r.threads = placement_.threads;
  r.task = task.id;
  r.fused_width = width;
}

TaskOutput Worker::run(const Task& task, const std::vector<char>* encoder_bytes, const std::vector<char>* resume,
                       ShardGroup* group) {
  if (encoder_bytes && !encoder_bytes->empty()) encoders_[task.seed] = *encoder_bytes;
  if (hooks_.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(hooks_.delay_ms));
  const auto t0 = std::chrono::steady_clock::now();
  try {
    for (const auto& t : task.trials)
      if (!hooks_.fail_trial.empty() && t.id() == hooks_.fail_trial)
        throw std::runtime_error("injected failure for trial " + t.id() + " (--fail-trial)");
    if (hooks_.simulate_ms >= 0) return is_member(group) ? empty_output(task, true, false) : simulate(task);
    switch (task.type) {
      case TaskType::pretrain: return pretrain(task, resume, group);
      case TaskType::finetune: return finetune(task);
      case TaskType::scratch: return scratch(task, resume, group);
    }
  } catch (const std::exception& e) {
    const bool diverged = dynamic_cast<const DivergedError*>(&e) != nullptr;
    if (group && group->size() > 1 && !diverged) throw;  // peers would wait in a collective forever
    if (is_member(group)) return empty_output(task, true, false);  // the leader reports the divergence
    // One failing task must not stop the sweep: report every trial it carried as failed, or
    // as diverged when training went non-finite.
    return failed_output(task, diverged ? Status::diverged : Status::failed, e.what(), seconds_since(t0));
  }
  return {};
}

TaskOutput Worker::failed(const Task& task, const std::string& why) { return failed_output(task, Status::failed, why, 0); }

TaskOutput Worker::failed_output(const Task& task, Status status, const std::string& why, double wall) const {
  TaskOutput out{task.id, task.type, task.seed, {}, {}, {}, {}};
  if (task.type == TaskType::pretrain) {
    PretrainRecord p;
    p.seed = task.seed;
    p.status = status;
    p.error = why;
    p.host = placement_.host;
    p.rank = placement_.rank;
    p.device = placement_.device_label();
    p.wall_s = wall;
    out.pretrain = p;
  }
  for (const auto& key : task.trials) {
    TrialResult r;
    r.key = key;
    r.status = status;
    r.error = why;
    r.wall_s = wall;
    fill_identity(r, task, static_cast<int64_t>(task.trials.size()));
    out.trials.push_back(r);
    out.checkpoints.emplace_back();
  }
  return out;
}

TaskOutput Worker::simulate(const Task& task) {
  if (hooks_.simulate_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(hooks_.simulate_ms));
  TaskOutput out{task.id, task.type, task.seed, {}, {}, {}, {}};
  if (task.type == TaskType::pretrain) {
    PretrainRecord p;
    p.seed = task.seed;
    p.host = placement_.host;
    p.rank = placement_.rank;
    p.device = placement_.device_label();
    out.pretrain = p;
    out.encoder = {'s', 'i', 'm'};
    encoders_[task.seed] = out.encoder;
  }
  for (const auto& key : task.trials) {
    TrialResult r;
    r.key = key;
    r.init = cfg_.adapter.init;
    fill_identity(r, task, static_cast<int64_t>(task.trials.size()));
    out.trials.push_back(r);
    out.checkpoints.emplace_back();
  }
  return out;
}

EpochControl Worker::control_for(const Task& task, const std::vector<char>* resume, ShardGroup* group) {
  EpochControl control;
  control.group = group;
  if (resume) control.resume_from = *resume;
  if (report_)
    control.after_epoch = [this, id = task.id](int64_t epoch, std::vector<char> state) {
      if (!report_(id, epoch, std::move(state))) return false;
      // A stop that releases the hold is seen at the next boundary, as one that arrived mid-epoch.
      hold_at_gate(id);
      return true;
    };
  return control;
}

void Worker::hold_at_gate(const std::string& task_id) const {
  if (hooks_.hold_while.empty() || (!hooks_.hold_task.empty() && hooks_.hold_task != task_id)) return;
  // Held on purpose (a test's gate), not stuck: the heartbeat says the rank makes progress.
  while (file_exists(hooks_.hold_while) && !(hooks_.stop_requested && hooks_.stop_requested())) {
    liveness::tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

TaskOutput Worker::pretrain(const Task& task, const std::vector<char>* resume, ShardGroup* group) {
  const auto t0 = std::chrono::steady_clock::now();
  torch::manual_seed(stream_seed(task.seed, "pretrain"));  // weights init; dropout reseeds per epoch
  Encoder encoder(cfg_.model, vocab_.size(), corpus_.num_classes());
  encoder->to(device_);
  auto control = control_for(task, resume, group);
  auto run = train_classifier(encoder, cfg_.pretrain, a_train_, a_dev_, nullptr, corpus_.negative_index,
                              stream_seed(task.seed, "pretrain-order"), &control);
  if (run.stopped) return empty_output(task, is_member(group), true);
  if (is_member(group)) {
    // A member holds the very weights the leader reports: keep them, so this rank can take the
    // seed's finetune tasks without a transfer.
    encoders_[task.seed] = state_dict_bytes(*encoder);
    return empty_output(task, true, false);
  }
  PretrainRecord p;
  p.resumed_from_epoch = run.resumed_from_epoch;
  p.seed = task.seed;
  p.host = placement_.host;
  p.rank = placement_.rank;
  p.device = placement_.device_label();
  p.threads = placement_.threads;
  if (group) p.group_ranks = group->ranks();
  p.best_epoch = run.best_epoch;
  p.epochs = cfg_.pretrain.epochs;
  p.a_dev_micro_f1 = run.dev.micro_f1;
  p.examples_per_s = run.examples_per_s;
  p.step = run.step;
  p.curve = run.curve;
  p.wall_s = seconds_since(t0);
  TaskOutput out{task.id, task.type, task.seed, p, state_dict_bytes(*encoder), {}, {}};
  encoders_[task.seed] = out.encoder;
  return out;
}

FeatureSource& Worker::features_for(int64_t seed) {
  if (given_) return *given_;
  if (feature_seed_ == seed && features_) return *features_;
  auto it = encoders_.find(seed);
  if (it == encoders_.end()) throw std::runtime_error("no pretrained encoder for seed " + std::to_string(seed));
  features_.reset();
  Encoder encoder(cfg_.model, vocab_.size(), corpus_.num_classes());
  load_state_dict_bytes(*encoder, it->second);
  encoder->to(device_);
  freeze(*encoder);  // requires_grad off, eval mode: the old layers never change again
  feature_encoder_ = encoder;
  const bool cached = cfg_.finetune.mode == FinetuneMode::cached && !cfg_.finetune.frozen_dropout;
  if (cached)
    features_ = std::make_unique<CachedFeatures>(encoder, b_train_, b_dev_, b_test_);
  else
    features_ = std::make_unique<LiveFeatures>(encoder, b_train_, b_dev_, b_test_, cfg_.finetune.frozen_dropout);
  feature_seed_ = seed;
  return *features_;
}

TaskOutput Worker::finetune(const Task& task) {
  const auto t0 = std::chrono::steady_clock::now();
  auto& features = features_for(task.seed);
  AdapterSetup setup{&cfg_.finetune, &cfg_.penalty, cfg_.adapter.init, anchor_, corpus_.negative_index,
                     stream_seed(task.seed, "adapter")};
  TaskOutput out{task.id, task.type, task.seed, {}, {}, {}, {}};
  std::vector<double> lambdas;
  std::vector<AdapterInit> inits;
  for (const auto& key : task.trials)
    if (key.kind == TrialKind::anchored) {
      lambdas.push_back(key.lambda);
      inits.push_back(key.init.value_or(cfg_.adapter.init));
    }
  const int64_t width = static_cast<int64_t>(task.trials.size());

  std::vector<AdapterOutcome> trained;
  if (!lambdas.empty()) {
    const bool cached = cfg_.finetune.mode == FinetuneMode::cached && !cfg_.finetune.frozen_dropout;
    if (cached) {
      trained = train_adapters(setup, lambdas, features, inits);  // all trials of the task in one pass
    } else {
      size_t i = 0;
      for (const auto& key : task.trials) {
        if (key.kind != TrialKind::anchored) continue;
        // With frozen_dropout the masks are random: draw them from this trial's own stream,
        // so its result does not depend on which tasks ran before it on this rank.
        torch::manual_seed(stream_seed(task.seed, "adapter-dropout/" + key.id()));
        trained.push_back(train_adapters(setup, {lambdas[i]}, features, {inits[i]}).front());
        ++i;
      }
    }
  }
  const double wall = seconds_since(t0) / std::max<size_t>(1, task.trials.size());
  size_t next = 0;
  for (const auto& key : task.trials) {
    AdapterOutcome o = key.kind == TrialKind::anchored ? std::move(trained[next++]) : evaluate_anchor(setup, features);
    o.result.key = key;
    o.result.wall_s = wall;
    fill_identity(o.result, task, width);
    out.checkpoints.push_back(adapter_checkpoint(o, anchor_, key.kind == TrialKind::anchored ? key.lambda : INFINITY));
    out.trials.push_back(std::move(o.result));
  }
  return out;
}

TaskOutput Worker::scratch(const Task& task, const std::vector<char>* resume, ShardGroup* group) {
  const auto t0 = std::chrono::steady_clock::now();
  torch::manual_seed(stream_seed(task.seed, "scratch"));
  Encoder encoder(cfg_.model, vocab_.size(), corpus_.num_classes());
  encoder->to(device_);
  auto control = control_for(task, resume, group);
  auto run = train_classifier(encoder, cfg_.pretrain, b_train_, b_dev_, &b_test_, corpus_.negative_index,
                              stream_seed(task.seed, "scratch-order"), &control);
  if (run.stopped || is_member(group)) return empty_output(task, is_member(group), run.stopped);
  TrialResult r;
  r.resumed_from_epoch = run.resumed_from_epoch;
  r.key = task.trials.front();
  r.best_epoch = run.best_epoch;
  r.epochs = cfg_.pretrain.epochs;
  r.metrics = {{EvalSplit::dev, run.dev}, {EvalSplit::test, run.test}, {EvalSplit::dev_last, run.dev_last}, {EvalSplit::test_last, run.test_last}};
  r.per_class_test_f1 = per_class_f1(b_test_.gold, run.test_pred, corpus_.num_classes());
  r.test_gold_counts = label_counts(b_test_.gold, corpus_.num_classes());
  r.test_pred_counts = label_counts(run.test_pred, corpus_.num_classes());
  r.curve = run.curve;
  r.diag.pred_hash_test = predictions_hash(run.test_pred);
  r.wall_s = seconds_since(t0);
  fill_identity(r, task, 1);
  TaskOutput out{task.id, task.type, task.seed, {}, {}, {r}, {state_dict_bytes(*encoder)}};
  return out;
}

}  // namespace anchorsweep
