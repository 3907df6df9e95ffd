// Small synthetic experiments shared by the module-level tests.
#pragma once

#include <torch/torch.h>

#include "config/config.hpp"
#include "data/example.hpp"
#include "data/tensors.hpp"
#include "data/vocab.hpp"
#include "model/encoder.hpp"
#include "train/classifier_training.hpp"

namespace anchorsweep::testing {

inline SweepConfig tiny_config() {
  SweepConfig cfg;
  cfg.data.format = DataFormat::synthetic;
  cfg.data.synthetic.a_train = 300;
  cfg.data.synthetic.a_dev = 80;
  cfg.data.synthetic.b_train = 160;
  cfg.data.synthetic.b_dev = 80;
  cfg.data.synthetic.b_test = 80;
  cfg.data.synthetic.num_classes = 6;
  cfg.data.synthetic.vocab_size = 200;
  cfg.model.word_dim = 16;
  cfg.model.pos_dim = 4;
  cfg.model.hidden = 12;
  cfg.model.attn_dim = 8;
  cfg.pretrain.epochs = 2;
  cfg.pretrain.batch_size = 32;
  cfg.finetune.epochs = 3;
  cfg.finetune.batch_size = 16;
  cfg.finetune.lr = 0.01;
  return cfg;
}

// A corpus, its encoded splits and an encoder pretrained briefly on A.
struct TinyExperiment {
  SweepConfig cfg = tiny_config();
  Corpus corpus;
  Vocabulary vocab;
  EncodedSplit a_train, a_dev, b_train, b_dev, b_test;
  Encoder encoder{nullptr};

  explicit TinyExperiment(bool pretrain = true) {
    corpus = generate_synthetic(cfg.data.synthetic, cfg.data.negative_label);
    vocab = Vocabulary::build({&corpus.a_train, &corpus.b_train}, 1, true);
    a_train = encode(corpus.a_train, vocab, corpus, true);
    a_dev = encode(corpus.a_dev, vocab, corpus, true);
    b_train = encode(corpus.b_train, vocab, corpus, true);
    b_dev = encode(corpus.b_dev, vocab, corpus, true);
    b_test = encode(corpus.b_test, vocab, corpus, true);
    torch::manual_seed(3);
    encoder = Encoder(cfg.model, vocab.size(), corpus.num_classes());
    if (pretrain) train_classifier(encoder, cfg.pretrain, a_train, a_dev, nullptr, corpus.negative_index, 11);
  }
  int64_t feature_dim() const { return corpus.num_classes() + cfg.model.hidden; }
};

}  // namespace anchorsweep::testing
