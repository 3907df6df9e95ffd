#include "train/evaluate.hpp"

#include <algorithm>

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
  return predict_share(encoder, split, 0, 1, chunk);
}

std::vector<int64_t> predict_share(Encoder& encoder, const EncodedSplit& split, int part, int parts, int64_t chunk) {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> out(static_cast<size_t>(split.size()), -1);
  std::vector<int64_t> starts;
  std::vector<torch::Tensor> parts_pred;  // gathered on the device, read back once
  for (int64_t i = 0, c = 0; i < split.size(); i += chunk, ++c)
    if (c % parts == part) {
      starts.push_back(i);
      parts_pred.push_back(forward_chunk(encoder, split, i, chunk).logits.argmax(1));
    }
  if (parts_pred.empty()) return out;
  const auto p = torch::cat(parts_pred).cpu().contiguous();
  const int64_t* v = p.data_ptr<int64_t>();
  for (size_t k = 0; k < starts.size(); ++k) {
    const int64_t n = std::min(chunk, split.size() - starts[k]);
    std::copy(v, v + n, out.begin() + starts[k]);
    v += n;
  }
  return out;
}

std::string predictions_hash(const std::vector<int64_t>& pred) {
  return fnv1a_hex(pred.data(), pred.size() * sizeof(int64_t));
}

}  // namespace anchorsweep
