// data.format = "features": adapters over the user's own frozen model. B's three splits come as
// files saved from Python with
//
//   torch.save({"x": logits_and_summary, "y": labels, "labels": names}, "b_train.pt")
//
// x: float [N, K + H], the first K columns the frozen model's logits (the anchor [I | 0] reads
// them) and the other H whatever summary vector it has; y: integer [N] in 0..K-1; labels: the K
// class names in column order. The three files must agree on labels and on K + H.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "config/config.hpp"
#include "data/example.hpp"

namespace anchorsweep {

struct FeatureSplit {
  std::string name, path;  // "b_train", the file
  torch::Tensor x;         // float32 [N, K + H], on the CPU
  torch::Tensor y;         // int64 [N]
};

struct FeatureData {
  FeatureSplit train, dev, test;
  std::vector<std::string> labels;  // column order
  int64_t K = 0, H = 0;
};

// Files read with torch::pickle_load (features here, the anchor in model/adapter.cpp) must come
// from a trusted source: LibTorch's unpickler has known memory-safety bugs on crafted input. Before
// it runs, a file is refused (InputError naming path and key) when it is larger than max_bytes or
// is not the zip archive torch.save writes.
void check_pickle_file(const std::string& path, const std::string& bytes, const std::string& key, uint64_t max_bytes);
inline constexpr uint64_t kMaxFeatureFileBytes = uint64_t{16} << 30;  // 16 GiB; TACRED's B train is 66 MB

// One file; throws InputError "PATH: key: what is wrong" for anything but a dict of the three.
FeatureSplit read_feature_file(const std::string& name, const std::string& path,
                               std::vector<std::string>& labels_out);

// B train, dev and test as data.b_* name them, checked against each other and against
// data.negative_label.
FeatureData load_features(const DataConfig& data);

// The corpus of data.format = "features": labels from the files, no sentences, the features
// themselves in Corpus::features.
Corpus features_corpus(const DataConfig& data);

}  // namespace anchorsweep
