// SweepConfig: the typed, validated form of a TOML config file.
//
// config/ is the only code that knows TOML. Everything downstream reads these plain structs.
// Every error is a ConfigError whose message reads `file:line:column: key: what is wrong`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "common/names.hpp"

namespace anchorsweep {


// Choices in the config (DataFormat, Optimizer, PenaltyMode, ...) are enums of common/names.hpp,
// parsed once here; nothing downstream compares their names. name_of() gives the config's own
// spelling back (for the resolved TOML, the journal and the report).

struct RunConfig {
  std::string name = "run";            // default: the config file's name (configs/demo.toml -> "demo")
  std::string output_dir = "runs";     // the run directory is output_dir/name
  std::vector<int64_t> seeds = {1};
  int64_t threads = 0;                 // intra-op threads per rank; 0 = cores of the node / ranks on it
  LockMode lock = LockMode::flock;     // "none": for file systems that cannot lock (the user keeps sweeps apart)
  // Rank 0 ends the job (exit 1) when another rank has sent no heartbeat, or its training thread
  // has made no progress, for this long (a SIGKILLed, OOM-killed, stopped or hung rank); 0 = never.
  // "auto": ranks that see rank 0's run directory read encoders from it, the others get the bytes.
  EncoderTransfer encoder_transfer = EncoderTransfer::automatic;
  double rank_timeout_s = 60;
  // Where pretrained encoders are shared across sweeps (rundir/encoder_store.hpp): "" = the
  // folder encoder-store beside the run directories (output_dir/encoder-store); "none" = off.
  std::string encoder_store;
  std::string encoder_store_path() const { return encoder_store.empty() ? output_dir + "/encoder-store" : encoder_store; }
  bool store_enabled() const { return encoder_store != "none"; }
  // run.shard = "i/n" (`--shard i/n`): this run is the i-th of n deterministic parts of the plan
  // (a SLURM job array's task); 0/0 = the whole plan. See sweep/plan.hpp, trial_shard.
  int64_t shard_index = 0, shard_count = 0;
  bool sharded() const { return shard_count > 0; }
};

struct SyntheticSizes {
  int64_t a_train = 2000, a_dev = 300;
  int64_t b_train = 500, b_dev = 300, b_test = 300;
  int64_t num_classes = 42;            // including the negative label
  double negative_fraction = 0.8;      // share of examples labelled with the negative label
  double domain_shift = 0.5;           // 0 = B drawn like A, 1 = B's cue words fully re-drawn
  int64_t vocab_size = 2000;
  int64_t min_len = 8, max_len = 30;
  int64_t data_seed = 7;               // the generator's own seed; independent of run.seeds
};

struct DataConfig {
  DataFormat format = DataFormat::synthetic;
  std::string a_train, a_dev, b_train, b_dev, b_test;  // resolved relative to the config file
  std::string negative_label = "no_relation";
  int64_t min_word_count = 1;          // rarer training words map to UNK
  int64_t max_tokens = 128;            // longer sentences are cut around their two entities
  SyntheticSizes synthetic;
};

struct ModelConfig {
  int64_t word_dim = 100;
  int64_t pos_dim = 20;                // subject / object relative-position embedding size
  bool entity_masking = true;          // replace entity tokens by SUBJ-<type> / OBJ-<type>
  int64_t hidden = 200;                // LSTM hidden size per direction
  int64_t layers = 1;
  bool bidirectional = false;
  Attention attention = Attention::position_aware;
  int64_t attn_dim = 200;              // width of the attention's tanh layer
  double dropout = 0.5;
  // fused: a one-layer, one-direction LSTM on the CPU runs model/fused_lstm (one matrix product
  // per step each way, the rest batched over steps; equal to ATen's within float rounding).
  // aten: always nn::LSTM (GPUs, two layers or directions use it under either choice).
  LstmKernel lstm = LstmKernel::fused;
};

struct TrainConfig {
  int64_t epochs = 10;
  int64_t batch_size = 50;
  Optimizer optimizer = Optimizer::adam;
  double lr = 1e-3;
  double lr_decay = 1.0;               // lr *= lr_decay after an epoch whose dev F1 did not improve
  double grad_clip = 5.0;              // max global L2 norm; 0 = off
  // [pretrain] only: 0 = each batch padded to its longest sentence; N = every batch padded to one
  // of N widths (length quantiles of the training split) and the last partial batch padded to
  // batch_size with rows that weigh nothing: static shapes, as a CUDA graph needs (train/buckets.hpp).
  int64_t length_buckets = 0;
};

struct PretrainConfig : TrainConfig {
  // Data-parallel groups: a seed's pretraining (and its scratch baseline) runs on this many ranks
  // at once, each on a shard of every global batch; results depend on it only through float
  // summation order.
  int64_t ranks = 1;
};

struct FinetuneConfig : TrainConfig {
  FinetuneMode mode = FinetuneMode::cached;  // cached: features computed once; naive: full forward every step
  int64_t fuse = 0;                    // trials per fused task; 0 = automatic
  bool frozen_dropout = false;         // the classic mistake: dropout left on in frozen layers
};

// adapter.anchor: [I_K | 0] (identity), all zeros, or a K x (K+H) tensor file (torch::pickle_save).
struct AnchorSpec {
  AnchorKind kind = AnchorKind::identity;
  std::string path;                    // kind == file: resolved relative to the config file
};

struct AdapterConfig {
  AdapterInit init = AdapterInit::random;  // random is what the original did
  std::vector<AdapterInit> inits = {AdapterInit::random};  // init, or all of init = ["random", "anchor"]
  AnchorSpec anchor;
};

struct PenaltyConfig {
  PenaltyMode mode = PenaltyMode::loss;  // loss: λ‖W − A‖² in the loss; decoupled: pulled after each step
  bool penalize_bias = false;
};

struct SweepSpec {
  std::vector<double> lambdas;         // the resolved grid, ascending, unique
  std::vector<TrialKind> baselines = {TrialKind::pretrained, TrialKind::scratch};
};

struct SweepConfig {
  std::string source_path;             // the config file it came from
  RunConfig run;
  DataConfig data;
  ModelConfig model;
  PretrainConfig pretrain;
  FinetuneConfig finetune;
  AdapterConfig adapter;
  PenaltyConfig penalty;
  SweepSpec sweep;
  std::string resolved_toml;           // the config after --set, as TOML text (written to the run dir)
  std::string hash;                    // FNV-1a hex of resolved_toml

  // output_dir/name, and for a shard output_dir/name-shard<i>of<n>: the shards of one sweep
  // never share a directory (anchorsweep merge joins them).
  std::string run_dir() const {
    return run.output_dir + "/" + run.name +
           (run.sharded() ? "-shard" + std::to_string(run.shard_index) + "of" + std::to_string(run.shard_count) : "");
  }
};

// Parse and validate. `sets` are "a.b=value" overrides applied to the TOML table before
// validation, so they get the same checks. Checks that need the data (labels) live in data/.
SweepConfig load_config(const std::string& path, const std::vector<std::string>& sets = {});
// A run directory's own config.toml (as `run` resolved it), also one written by an older version.
SweepConfig load_run_config(const std::string& run_dir);
SweepConfig parse_config(const std::string& toml_text, const std::string& path,
                         const std::vector<std::string>& sets = {});

// Flattened "section.key" -> value text, for comparing two configs on resume.
std::map<std::string, std::string> flatten_toml(const std::string& toml_text);

// Keys whose values differ between two resolved configs. Growing run.seeds or sweep.lambdas
// (keeping all old values) is not a change: resume then runs only the new trials.
std::vector<std::string> incompatible_changes(const std::string& old_toml, const std::string& new_toml);

}  // namespace anchorsweep
