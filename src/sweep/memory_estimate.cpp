#include "sweep/memory_estimate.hpp"

#include <algorithm>
#include <cstdio>

#include "data/feature_files.hpp"
#include "data/vocab.hpp"
#include "model/encoder.hpp"

namespace anchorsweep {

namespace {
constexpr double kMB = 1024.0 * 1024.0;

// Each split is padded to its longest sentence: tokens, two position rows and the mask.
double split_bytes(const Split& s) {
  size_t longest = 0;
  for (const auto& ex : s.examples) longest = std::max(longest, ex.tokens.size());
  return static_cast<double>(s.examples.size()) * static_cast<double>(longest) * (3 * 8 + 1) +
         static_cast<double>(s.examples.size()) * 8;
}
}  // namespace

MemoryEstimate estimate_memory(const SweepConfig& cfg, const Corpus& corpus) {
  MemoryEstimate m;
  if (corpus.features) {  // given features: only the feature matrices, and no encoder
    const FeatureData& f = *corpus.features;
    m.features_mb = static_cast<double>(f.train.x.numel() + f.dev.x.numel() + f.test.x.numel()) * 4 / kMB;
    m.data_mb = static_cast<double>(f.train.y.numel() + f.dev.y.numel() + f.test.y.numel()) * 8 / kMB;
    return m;
  }
  int64_t longest = 0;
  for (const Split* s : {&corpus.a_train, &corpus.a_dev, &corpus.b_train, &corpus.b_dev, &corpus.b_test}) {
    m.data_mb += split_bytes(*s) / kMB;
    for (const auto& ex : s->examples) longest = std::max<int64_t>(longest, static_cast<int64_t>(ex.tokens.size()));
  }
  const auto vocab = Vocabulary::build({&corpus.a_train, &corpus.b_train}, cfg.data.min_word_count,
                                       cfg.model.entity_masking);
  Encoder encoder(cfg.model, vocab.size(), corpus.num_classes());
  double params = 0;
  for (const auto& p : encoder->parameters()) params += static_cast<double>(p.numel());
  // weights + gradients + two Adam moments + the best-epoch snapshot + a serialised checkpoint.
  m.model_mb = params * 4 * 6 / kMB;
  const auto& md = cfg.model;
  const int64_t dirs = md.bidirectional ? 2 : 1;
  const double per_token = md.word_dim + 2.0 * md.pos_dim + dirs * md.layers * 6.0 * md.hidden + 2.0 * md.attn_dim;
  const int64_t batch = std::max(cfg.pretrain.batch_size, cfg.finetune.batch_size);
  m.activations_mb = 2.0 * static_cast<double>(batch) * static_cast<double>(longest) * per_token * 4 / kMB;
  const double feature_rows = static_cast<double>(corpus.b_train.examples.size() + corpus.b_dev.examples.size() +
                                                  corpus.b_test.examples.size());
  m.features_mb = feature_rows * static_cast<double>(corpus.num_classes() + dirs * md.hidden) * 4 / kMB;
  return m;
}

std::string MemoryEstimate::text() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "memory per rank (estimate): data %.0f MB + model and optimizer %.0f MB + one batch's activations "
                "%.0f MB + adapter feature cache %.0f MB = about %.0f MB, plus LibTorch's own ~150 MB\n",
                data_mb, model_mb, activations_mb, features_mb, total_mb());
  return buf;
}

}  // namespace anchorsweep
