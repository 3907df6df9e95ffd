// Running a frozen or trained classifier over a whole split.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "data/tensors.hpp"
#include "model/encoder.hpp"

namespace anchorsweep {

// Encoder outputs over a split in chunks, no autograd: [logits ; summary], [N, K + Hs].
// The module's train/eval mode is left as the caller set it.
torch::Tensor encode_features(Encoder& encoder, const EncodedSplit& split, int64_t chunk = 512);

// argmax of the encoder's logits over a split (gathered on the device, read back once).
std::vector<int64_t> predict(Encoder& encoder, const EncodedSplit& split, int64_t chunk = 512);

// predict()'s chunks c with c % parts == part only (a data-parallel group member's share of an
// evaluation); the other rows are -1. The chunks are predict()'s, so each row's prediction is
// computed exactly as there.
std::vector<int64_t> predict_share(Encoder& encoder, const EncodedSplit& split, int part, int parts, int64_t chunk = 512);

// FNV-1a of a prediction vector, to tell "same predictions" apart cheaply.
std::string predictions_hash(const std::vector<int64_t>& pred);

}  // namespace anchorsweep
