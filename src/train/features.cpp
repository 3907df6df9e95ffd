#include "train/features.hpp"

#include "train/evaluate.hpp"

namespace anchorsweep {

CachedFeatures::CachedFeatures(Encoder& encoder, const EncodedSplit& train, const EncodedSplit& dev,
                               const EncodedSplit& test) {
  splits_[0] = &train;
  splits_[1] = &dev;
  splits_[2] = &test;
  encoder->eval();
  for (int i = 0; i < 3; ++i) cache_[i] = encode_features(encoder, *splits_[i]);
}

torch::Tensor CachedFeatures::rows(Part part, const RowIndex& index, bool) {
  const auto& c = cache_[static_cast<int>(part)];
  return c.index_select(0, index.device.to(c.device()));
}

GivenFeatures::GivenFeatures(const torch::Tensor x[3], const EncodedSplit& train, const EncodedSplit& dev,
                             const EncodedSplit& test) {
  splits_[0] = &train;
  splits_[1] = &dev;
  splits_[2] = &test;
  for (int i = 0; i < 3; ++i) x_[i] = x[i];
}

torch::Tensor GivenFeatures::rows(Part part, const RowIndex& index, bool) {
  const auto& x = x_[static_cast<int>(part)];
  return x.index_select(0, index.device.to(x.device()));
}

LiveFeatures::LiveFeatures(Encoder& encoder, const EncodedSplit& train, const EncodedSplit& dev,
                           const EncodedSplit& test, bool frozen_dropout)
    : encoder_(encoder), frozen_dropout_(frozen_dropout) {
  splits_[0] = &train;
  splits_[1] = &dev;
  splits_[2] = &test;
}

torch::Tensor LiveFeatures::rows(Part part, const RowIndex& index, bool training) {
  torch::NoGradGuard no_grad;
  encoder_->train(training && frozen_dropout_);
  const auto device = encoder_->dense->weight.device();
  auto out = encoder_->forward(split(part).rows(index).to(device));
  encoder_->eval();
  return torch::cat({out.logits, out.summary}, 1);
}

torch::Tensor LiveFeatures::all(Part part) {
  encoder_->eval();
  return encode_features(encoder_, split(part));
}

}  // namespace anchorsweep
