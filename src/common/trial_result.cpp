// Journal (de)serialisation of TrialResult / PretrainRecord / Scores.
//
// Field names are the C++ member names. TrialKey is flattened into the trial object as
// "id", "seed", "kind", "lambda" (null unless kind == TrialKind::anchored). Non-finite doubles are
// written as null by nlohmann::json and read back as NaN. Missing fields keep their defaults,
// so older journals still load; a field of the wrong type throws nlohmann::json::exception.
#include "common/trial_result.hpp"

#include <cstdlib>
#include <cmath>
#include <stdexcept>
#include <cstdio>
#include <limits>

namespace anchorsweep {

std::string TrialKey::id() const {
  if (kind == TrialKind::anchored) {
    // Shortest text that reads back as the same double: two different λ never share an id
    // (with %g, 0.1 and 0.1000001 both read "0.1"), and the usual ones read as written.
    // %g's style, with just enough digits (so ids of earlier runs read the same).
    char num[40];
    for (int precision = 6; precision <= 17; ++precision) {
      std::snprintf(num, sizeof num, "%.*g", precision, lambda);
      if (std::strtod(num, nullptr) == lambda) break;
    }
    std::string id = "s" + std::to_string(seed) + "-lam" + num;
    return init ? id + "-" + name_of(*init) : id;
  }
  return "s" + std::to_string(seed) + "-" + name_of(kind);
}

namespace {

using nlohmann::json;

// A double field; null (how json writes NaN/inf) reads back as NaN.
void get(const json& j, const char* key, double& out) {
  auto it = j.find(key);
  if (it == j.end()) return;
  out = it->is_null() ? std::numeric_limits<double>::quiet_NaN() : it->get<double>();
}

template <class T>
void get(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) out = it->get<T>();
}

// A name of an enum of common/names.hpp; an unknown name throws std::invalid_argument.
template <class E>
void get_name(const json& j, const char* key, E& out) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) out = parse_name_or_throw<E>(it->get<std::string>(), key);
}

// An optional one, written "" when absent.
template <class E>
void get_name(const json& j, const char* key, std::optional<E>& out) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) out = parse_name_or_empty<E>(it->get<std::string>(), key);
}

json to_json(const EpochPoint& p) {
  return json{{"epoch", p.epoch},           {"train_loss", p.train_loss},
              {"train_ce", p.train_ce},     {"dev_micro_f1", p.dev_micro_f1},
              {"test_micro_f1", p.test_micro_f1}, {"lr", p.lr},
              {"anchor_dist", std::isfinite(p.anchor_dist) ? json(p.anchor_dist) : json(nullptr)},
              {"train_accuracy", std::isfinite(p.train_accuracy) ? json(p.train_accuracy) : json(nullptr)},
              {"grad_norm", std::isfinite(p.grad_norm) ? json(p.grad_norm) : json(nullptr)}};
}

EpochPoint epoch_from_json(const json& j) {
  EpochPoint p;
  get(j, "epoch", p.epoch);
  get(j, "train_loss", p.train_loss);
  get(j, "train_ce", p.train_ce);
  get(j, "dev_micro_f1", p.dev_micro_f1);
  get(j, "test_micro_f1", p.test_micro_f1);
  get(j, "lr", p.lr);
  if (j.contains("anchor_dist")) get(j, "anchor_dist", p.anchor_dist);
  if (j.contains("train_accuracy")) get(j, "train_accuracy", p.train_accuracy);
  if (j.contains("grad_norm")) get(j, "grad_norm", p.grad_norm);
  return p;
}

json curve_to_json(const std::vector<EpochPoint>& curve) {
  json a = json::array();
  for (const auto& p : curve) a.push_back(to_json(p));
  return a;
}

// Pretraining evaluates A dev only: there is no test split, so its test F1 is null, not 0.
json pretrain_curve_to_json(const std::vector<EpochPoint>& curve) {
  json a = curve_to_json(curve);
  for (auto& p : a) p["test_micro_f1"] = nullptr;
  return a;
}

std::vector<EpochPoint> curve_from_json(const json& j, const char* key) {
  std::vector<EpochPoint> out;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return out;
  for (const auto& e : it->get_ref<const json::array_t&>()) out.push_back(epoch_from_json(e));
  return out;
}

json to_json(const Diagnostics& d) {
  return json{{"ce_first", d.ce_first},
              {"penalty_first", d.penalty_first},
              {"ce_last", d.ce_last},
              {"penalty_last", d.penalty_last},
              {"penalty_share_first", d.penalty_share_first},
              {"penalty_share_last", d.penalty_share_last},
              {"w_dist_init", d.w_dist_init},
              {"w_dist_final", d.w_dist_final},
              {"weights_hash", d.weights_hash},
              {"steps", d.steps},
              {"lr", d.lr},
              {"optimizer", name_or_empty(d.optimizer)},
              {"pred_hash_dev", d.pred_hash_dev},
              {"pred_hash_test", d.pred_hash_test}};
}

Diagnostics diag_from_json(const json& j) {
  Diagnostics d;
  get(j, "ce_first", d.ce_first);
  get(j, "penalty_first", d.penalty_first);
  get(j, "ce_last", d.ce_last);
  get(j, "penalty_last", d.penalty_last);
  get(j, "penalty_share_first", d.penalty_share_first);
  get(j, "penalty_share_last", d.penalty_share_last);
  get(j, "w_dist_init", d.w_dist_init);
  get(j, "w_dist_final", d.w_dist_final);
  get(j, "weights_hash", d.weights_hash);
  get(j, "steps", d.steps);
  get(j, "lr", d.lr);
  get_name(j, "optimizer", d.optimizer);
  get(j, "pred_hash_dev", d.pred_hash_dev);
  get(j, "pred_hash_test", d.pred_hash_test);
  return d;
}

}  // namespace

json to_json(const Scores& s) {
  return json{{"micro_p", s.micro_p},   {"micro_r", s.micro_r},   {"micro_f1", s.micro_f1},
              {"macro_f1", s.macro_f1}, {"accuracy", s.accuracy}, {"n", s.n}};
}

Scores scores_from_json(const json& j) {
  Scores s;
  get(j, "micro_p", s.micro_p);
  get(j, "micro_r", s.micro_r);
  get(j, "micro_f1", s.micro_f1);
  get(j, "macro_f1", s.macro_f1);
  get(j, "accuracy", s.accuracy);
  get(j, "n", s.n);
  return s;
}

json to_json(const TrialResult& r) {
  json metrics = json::object();
  for (const auto& [split, s] : r.metrics) metrics[name_of(split)] = to_json(s);
  json j{{"type", name_of(RecordType::trial)},
         {"id", r.key.id()},
         {"seed", r.key.seed},
         {"kind", name_of(r.key.kind)},
         {"lambda", r.key.kind == TrialKind::anchored ? json(r.key.lambda) : json(nullptr)},
         {"status", name_of(r.status)},
         {"error", r.error},
         {"init", name_or_empty(r.init)},
         {"init_variant", name_or_empty(r.key.init)},
         {"host", r.host},
         {"device", r.device},
         {"rank", r.rank},
         {"threads", r.threads},
         {"wall_s", r.wall_s},
         {"task", r.task},
         {"fused_width", r.fused_width},
         {"best_epoch", r.best_epoch},
         {"resumed_from_epoch", r.resumed_from_epoch},
         {"epochs", r.epochs},
         {"metrics", metrics},
         {"per_class_test_f1", r.per_class_test_f1},
         {"test_label_counts", {{"gold", r.test_gold_counts}, {"predicted", r.test_pred_counts}}},
         {"curve", curve_to_json(r.curve)},
         {"diag", to_json(r.diag)}};
  return j;
}

TrialResult trial_from_json(const json& j) {
  TrialResult r;
  get(j, "seed", r.key.seed);
  get_name(j, "kind", r.key.kind);
  if (r.key.kind == TrialKind::anchored) get(j, "lambda", r.key.lambda);
  get_name(j, "status", r.status);
  get(j, "error", r.error);
  get_name(j, "init", r.init);
  get_name(j, "init_variant", r.key.init);
  get(j, "host", r.host);
  get(j, "device", r.device);
  get(j, "rank", r.rank);
  get(j, "threads", r.threads);
  get(j, "wall_s", r.wall_s);
  get(j, "task", r.task);
  get(j, "fused_width", r.fused_width);
  get(j, "best_epoch", r.best_epoch);
  get(j, "resumed_from_epoch", r.resumed_from_epoch);
  get(j, "epochs", r.epochs);
  if (auto it = j.find("metrics"); it != j.end() && !it->is_null()) {
    for (const auto& [split, s] : it->get_ref<const json::object_t&>())
      r.metrics[parse_name_or_throw<EvalSplit>(split, "split")] = scores_from_json(s);
  }
  if (auto it = j.find("per_class_test_f1"); it != j.end() && !it->is_null()) {
    for (const auto& v : it->get_ref<const json::array_t&>())
      r.per_class_test_f1.push_back(v.is_null() ? std::numeric_limits<double>::quiet_NaN()
                                                : v.get<double>());
  }
  if (auto it = j.find("test_label_counts"); it != j.end() && it->is_object()) {
    get(*it, "gold", r.test_gold_counts);
    get(*it, "predicted", r.test_pred_counts);
  }
  r.curve = curve_from_json(j, "curve");
  if (auto it = j.find("diag"); it != j.end() && !it->is_null()) r.diag = diag_from_json(*it);
  return r;
}

json to_json(const PretrainRecord& r) {
  return json{{"type", name_of(RecordType::pretrain)},
              {"seed", r.seed},
              {"status", name_of(r.status)},
              {"error", r.error},
              {"host", r.host},
              {"device", r.device},
              {"rank", r.rank},
              {"threads", r.threads},
              {"wall_s", r.wall_s},
              {"best_epoch", r.best_epoch},
              {"resumed_from_epoch", r.resumed_from_epoch},
              {"epochs", r.epochs},
              {"a_dev_micro_f1", r.a_dev_micro_f1},
              {"examples_per_s", r.examples_per_s},
              {"step", r.step},
              {"group_ranks", r.group_ranks},
              {"encoder_hash", r.encoder_hash},
              {"store_key", r.store_key},
              {"reused_from", r.reused_from},
              {"curve", pretrain_curve_to_json(r.curve)}};
}

PretrainRecord pretrain_from_json(const json& j) {
  PretrainRecord r;
  get(j, "seed", r.seed);
  get_name(j, "status", r.status);
  get(j, "error", r.error);
  get(j, "host", r.host);
  get(j, "device", r.device);
  get(j, "rank", r.rank);
  get(j, "threads", r.threads);
  get(j, "wall_s", r.wall_s);
  get(j, "best_epoch", r.best_epoch);
  get(j, "resumed_from_epoch", r.resumed_from_epoch);
  get(j, "epochs", r.epochs);
  get(j, "a_dev_micro_f1", r.a_dev_micro_f1);
  get(j, "examples_per_s", r.examples_per_s);
  get(j, "step", r.step);
  if (auto it = j.find("group_ranks"); it != j.end() && it->is_array()) r.group_ranks = it->get<std::vector<int64_t>>();
  r.curve = curve_from_json(j, "curve");
  get(j, "encoder_hash", r.encoder_hash);
  get(j, "store_key", r.store_key);
  get(j, "reused_from", r.reused_from);
  return r;
}

nlohmann::json epoch_point_to_json(const EpochPoint& p) { return to_json(p); }
EpochPoint epoch_point_from_json(const nlohmann::json& j) { return epoch_from_json(j); }

}  // namespace anchorsweep
