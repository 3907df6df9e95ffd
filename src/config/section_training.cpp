// [model], [pretrain] and [finetune]: the classifier and how each stage trains.
#include "config/toml_access.hpp"

namespace anchorsweep::config_detail {

namespace {

void read_train_fields(const Section& s, TrainConfig& t) {
  read_int(s, "epochs", t.epochs, 1, kMaxEpochs);
  read_int(s, "batch_size", t.batch_size, 1, kMaxBatch);
  read_enum(s, "optimizer", t.optimizer);
  read_double(s, "lr", t.lr, kLearningRate);
  read_double(s, "lr_decay", t.lr_decay, kDecayFactor);
  read_double(s, "grad_clip", t.grad_clip, kClip);
}

}  // namespace

void read_model(const Section& root, ModelConfig& m) {
  const Section s = open_section(root, "model");
  read_int(s, "word_dim", m.word_dim, 1, kMaxWidth);
  read_int(s, "pos_dim", m.pos_dim, 1, kMaxWidth);
  read_int(s, "hidden", m.hidden, 1, kMaxWidth);
  read_int(s, "layers", m.layers, 1, kMaxLayers);
  read_int(s, "attn_dim", m.attn_dim, 1, kMaxWidth);
  read_bool(s, "entity_masking", m.entity_masking);
  read_bool(s, "bidirectional", m.bidirectional);
  read_enum(s, "attention", m.attention);
  read_double(s, "dropout", m.dropout, kFraction);
  read_enum(s, "lstm", m.lstm);
  // The padded LSTM runs over each batch's whole width; only one direction keeps the states past
  // a sentence's end out of the states before it.
  if (m.lstm == LstmKernel::padded && m.bidirectional)
    if (const toml::node* n = s.get("lstm"))
      s.fail("lstm", *n, "\"padded\" needs model.bidirectional = false (a backward direction would start in the padding)");
}

void read_pretrain(const Section& root, const ModelConfig& m, PretrainConfig& p) {
  const Section s = open_section(root, "pretrain");
  read_train_fields(s, p);
  read_int(s, "ranks", p.ranks, 1, kMaxGroup);
  read_int(s, "length_buckets", p.length_buckets, 0, 64);
  // A group draws dropout masks for the whole global batch and takes its shard; the LSTM's
  // dropout between layers is drawn inside LibTorch per shard, which would make results depend
  // on the group size.
  if (p.ranks > 1 && m.layers > 1 && m.dropout > 0)
    if (const toml::node* n = s.get("ranks"))
      s.fail("ranks", *n, "must be 1 when model.layers > 1 and model.dropout > 0 (the LSTM's inner dropout "
                          "cannot be drawn for the whole batch), got " + std::to_string(p.ranks));
}

void read_finetune(const Section& root, FinetuneConfig& f) {
  const Section s = open_section(root, "finetune");
  read_train_fields(s, f);
  read_enum(s, "mode", f.mode);
  read_int(s, "fuse", f.fuse, 0, kMaxFuse);
  read_bool(s, "frozen_dropout", f.frozen_dropout);
}

// With data.format = "features" the adapters read the given features; nothing may need the
// frozen model itself.
void check_features_mode(const Section& root, const FinetuneConfig& f) {
  const Section s = open_section(root, "finetune");
  if (f.mode == FinetuneMode::naive)
    if (const toml::node* n = s.get("mode"))
      s.fail("mode", *n, "must be \"cached\" when data.format is \"features\" (\"naive\" reruns the frozen model, "
                         "which anchorsweep does not have)");
  if (f.frozen_dropout)
    if (const toml::node* n = s.get("frozen_dropout"))
      s.fail("frozen_dropout", *n, "must be false when data.format is \"features\" (the features are fixed)");
}

}  // namespace anchorsweep::config_detail
