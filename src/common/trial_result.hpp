// TrialResult: what one finished (or failed) trial reports, and its journal line.
//
// The journal (results.jsonl) holds one JSON object per line, one line per finished task:
//   {"type":"pretrain", ...}  one per seed (PretrainRecord)
//   {"type":"trial", ...}     one per finetune trial or baseline (TrialResult)
// report/ reads only these lines (plus config.toml and run.json) to build every table and plot.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/names.hpp"
#include "common/scores.hpp"

namespace anchorsweep {

// A trial's identity. Kinds (common/names.hpp): anchored (an adapter finetuned with penalty
// weight lambda), pretrained (adapter frozen at the anchor: the lambda -> infinity limit),
// scratch (the whole classifier trained on B alone from random init).
struct TrialKey {
  int64_t seed = 0;
  TrialKind kind = TrialKind::anchored;
  double lambda = 0;                  // meaningful for kind == anchored only
  std::optional<AdapterInit> init;    // set only when the sweep compares several adapter inits
  std::string id() const;             // "s1-lam0.01", "s1-lam0.01-anchor", "s1-pretrained", "s1-scratch"
};

struct EpochPoint {
  int64_t epoch = 0;         // 1-based
  double train_loss = 0;     // mean total loss (cross-entropy + penalty) over the epoch's steps
  double train_ce = 0;       // mean cross-entropy part
  double dev_micro_f1 = 0, test_micro_f1 = 0;
  double lr = 0;
  // ||W − A||_F of the adapter after the epoch (anchored trials; NaN where not recorded).
  double anchor_dist = std::numeric_limits<double>::quiet_NaN();
  // A classifier's training (pretraining, scratch): the share of training rows the steps classified
  // right, and the mean global gradient norm before clipping (NaN with clipping off or not recorded).
  double train_accuracy = std::numeric_limits<double>::quiet_NaN();
  double grad_norm = std::numeric_limits<double>::quiet_NaN();
};

// Diagnostics that explain the "every lambda gives the same F1" symptom (anchored trials only;
// zeros otherwise).
struct Diagnostics {
  double ce_first = 0, penalty_first = 0;   // cross-entropy and lambda*||W-A||^2 at the first step
  double ce_last = 0, penalty_last = 0;     // ... and at the last step
  double penalty_share_first = 0;           // penalty / (ce + penalty) at the first step
  double penalty_share_last = 0;
  double w_dist_init = 0;                   // ||W_init - anchor||_F
  double w_dist_final = 0;                  // ||W_final - anchor||_F
  std::string weights_hash;                 // FNV-1a of the final adapter's bytes
  int64_t steps = 0;                        // optimizer steps over the whole finetuning
  double lr = 0;                            // the initial learning rate
  std::optional<Optimizer> optimizer;       // anchored trials only
  std::string pred_hash_dev, pred_hash_test;  // FNV-1a of the best epoch's predictions
};

// How a trial or pretraining ended (Status, common/names.hpp): diverged is a non-finite loss or
// weight (`error` says where); failed, any other error. Only ok results count in tables and plots.

struct TrialResult {
  TrialKey key;
  Status status = Status::ok;
  std::string error;                        // message when failed
  std::optional<AdapterInit> init;          // the adapter's init (none for scratch)
  std::string host, device;
  int64_t rank = 0;
  int64_t threads = 0;
  double wall_s = 0;
  std::string task;                         // id of the (possibly fused) task that ran it
  int64_t fused_width = 1;
  int64_t best_epoch = 0;                   // 1-based; 0 for the pretrained baseline
  int64_t resumed_from_epoch = 0;           // scratch: > 0 when continued from a checkpoint
  int64_t epochs = 0;
  // split -> scores: dev and test at the best dev epoch, dev_last and test_last.
  std::map<EvalSplit, Scores> metrics;
  std::vector<double> per_class_test_f1;    // indexed like the label list in run.json
  // B test at the best dev epoch, per label: gold counts (the support) and predicted counts, which
  // tell a baseline that predicts one label almost everywhere. Empty in journals before 0.2.
  std::vector<int64_t> test_gold_counts, test_pred_counts;
  std::vector<EpochPoint> curve;
  Diagnostics diag;
};

struct PretrainRecord {
  int64_t seed = 0;
  Status status = Status::ok;
  std::string error;
  int64_t resumed_from_epoch = 0;           // > 0: continued from that epoch's checkpoint
  std::string host, device;
  int64_t rank = 0, threads = 0;
  double wall_s = 0;
  int64_t best_epoch = 0, epochs = 0;
  double a_dev_micro_f1 = 0;
  double examples_per_s = 0;                // pretraining throughput (training steps only; the group's)
  std::string step;                         // "cuda graphs (…)" or "eager: why" (train/step_graph.hpp)
  std::vector<int64_t> group_ranks;         // data-parallel: the ranks that trained it (leader first)
  std::string encoder_hash;                 // FNV-1a of encoders/seed-<s>.pt's bytes ("" before 0.2): merge compares them
  std::vector<EpochPoint> curve;            // dev = A dev here; no test split: journaled as null, read as NaN
  // Reused from the encoder store (rundir/encoder_store.hpp) instead of pretrained by this run:
  // the entry's key and the run that pretrained it; both "" when this run pretrained it.
  std::string store_key, reused_from;
};

nlohmann::json epoch_point_to_json(const EpochPoint& p);
EpochPoint epoch_point_from_json(const nlohmann::json& j);
nlohmann::json to_json(const TrialResult& r);
TrialResult trial_from_json(const nlohmann::json& j);
nlohmann::json to_json(const PretrainRecord& r);
PretrainRecord pretrain_from_json(const nlohmann::json& j);
nlohmann::json to_json(const Scores& s);
Scores scores_from_json(const nlohmann::json& j);

}  // namespace anchorsweep
