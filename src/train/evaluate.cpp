#include "train/evaluate.hpp"

#include "common/files.hpp"
#include "common/liveness.hpp"

namespace anchorsweep {

namespace {
// The encoder on rows [begin, begin + chunk) of a split (fewer at its end).
EncoderOutput forward_chunk(Encoder& encoder, const EncodedSplit& split, int64_t begin, int64_t chunk) {
  liveness::tick();  // for the heartbeat: evaluating a large split is progress too
  const auto rows = row_range(begin, std::min(chunk, split.size() - begin), split.device());
  return encoder->forward(split.rows(rows).to(encoder->dense->weight.device()));
}
}  // namespace

torch::Tensor encode_features(Encoder& encoder, const EncodedSplit& split, int64_t chunk) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < split.size(); i += chunk) {
    auto out = forward_chunk(encoder, split, i, chunk);
    parts.push_back(torch::cat({out.logits, out.summary}, 1));
  }
  return torch::cat(parts, 0);
}

std::vector<int64_t> predict(Encoder& encoder, const EncodedSplit& split, int64_t chunk) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < split.size(); i += chunk) parts.push_back(forward_chunk(encoder, split, i, chunk).logits.argmax(1));
  if (parts.empty()) return {};
  auto p = torch::cat(parts).cpu().contiguous();
  return std::vector<int64_t>(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + p.numel());
}

std::vector<int64_t> predict_share(Encoder& encoder, const EncodedSplit& split, int part, int parts, int64_t chunk) {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> out(static_cast<size_t>(split.size()), -1);
  for (int64_t i = 0, c = 0; i < split.size(); i += chunk, ++c) {
    if (c % parts != part) continue;
    auto p = forward_chunk(encoder, split, i, chunk).logits.argmax(1).cpu().contiguous();
    std::copy(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + p.numel(), out.begin() + i);
  }
  return out;
}

std::string predictions_hash(const std::vector<int64_t>& pred) {
  return fnv1a_hex(pred.data(), pred.size() * sizeof(int64_t));
}

}  // namespace anchorsweep
