#include "train/evaluate.hpp"

#include "common/files.hpp"

namespace anchorsweep {

torch::Tensor encode_features(Encoder& encoder, const EncodedSplit& split, int64_t chunk) {
  torch::NoGradGuard no_grad;
  const auto device = encoder->dense->weight.device();
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < split.size(); i += chunk) {
    auto out = encoder->forward(split.rows(row_range(i, std::min(chunk, split.size() - i), split.device())).to(device));
    parts.push_back(torch::cat({out.logits, out.summary}, 1));
  }
  return torch::cat(parts, 0);
}

std::vector<int64_t> predict(Encoder& encoder, const EncodedSplit& split, int64_t chunk) {
  torch::NoGradGuard no_grad;
  const auto device = encoder->dense->weight.device();
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < split.size(); i += chunk) {
    auto out = encoder->forward(split.rows(row_range(i, std::min(chunk, split.size() - i), split.device())).to(device));
    parts.push_back(out.logits.argmax(1));
  }
  if (parts.empty()) return {};
  auto p = torch::cat(parts).cpu().contiguous();
  return std::vector<int64_t>(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + p.numel());
}

std::string predictions_hash(const std::vector<int64_t>& pred) {
  return fnv1a_hex(pred.data(), pred.size() * sizeof(int64_t));
}

}  // namespace anchorsweep
