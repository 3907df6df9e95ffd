#include "data/feature_files.hpp"

#include <algorithm>

#include "common/errors.hpp"
#include "common/files.hpp"

namespace anchorsweep {

namespace {

std::string shape_of(const torch::Tensor& t) { return c10::str(t.sizes()); }

// "a sparse tensor" for a layout the checks below cannot read, else "".
std::string not_dense(const c10::IValue& v) {
  if (!v.isTensor() || v.toTensor().layout() == torch::kStrided) return "";
  return std::string(" (a ") + c10::str(v.toTensor().layout()) + " tensor: save it with .to_dense())";
}

}  // namespace

void check_pickle_file(const std::string& path, const std::string& bytes, const std::string& key, uint64_t max_bytes) {
  // LibTorch's unpickler has known memory-safety bugs on crafted input: these files must come from
  // a trusted source (README). What can be checked before it runs is: the size, and that the file
  // is the zip archive torch.save writes.
  if (bytes.size() > max_bytes)
    throw InputError(path + ": " + key + ": " + std::to_string(bytes.size()) + " bytes, more than the " +
                     std::to_string(max_bytes) + " such a file can need: not read");
  if (bytes.size() < 4 || bytes.compare(0, 4, "PK\x03\x04") != 0)
    throw InputError(path + ": " + key + ": not a file saved by torch.save (no zip header): not read");
}

FeatureSplit read_feature_file(const std::string& name, const std::string& path,
                               std::vector<std::string>& labels_out) {
  const std::string bytes = read_file(path);
  check_pickle_file(path, bytes, "data." + name, kMaxFeatureFileBytes);
  c10::IValue v;
  try {
    v = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const std::exception& e) {
    std::string why = e.what();
    why = why.substr(0, why.find('\n'));
    throw InputError(path + ": data." + name + ": not a file saved by torch.save (" + why + ")");
  }
  if (!v.isGenericDict())
    throw InputError(path + ": data." + name + ": expected a dict {\"x\", \"y\", \"labels\"} saved by torch.save, got " +
                     v.tagKind());
  const auto dict = v.toGenericDict();
  auto get = [&](const std::string& key) -> c10::IValue {
    for (const auto& item : dict)
      if (item.key().isString() && item.key().toStringRef() == key) return item.value();
    throw InputError(path + ": key \"" + key + "\" missing (the dict needs x, y and labels)");
  };
  FeatureSplit s;
  s.name = name;
  s.path = path;
  const c10::IValue x = get("x"), y = get("y"), labels = get("labels");
  if (!not_dense(x).empty()) throw InputError(path + ": key \"x\": must be a dense float tensor [N, K + H]" + not_dense(x));
  if (!not_dense(y).empty()) throw InputError(path + ": key \"y\": must be a dense integer tensor [N]" + not_dense(y));
  if (!x.isTensor() || !torch::isFloatingType(x.toTensor().scalar_type()) || x.toTensor().dim() != 2)
    throw InputError(path + ": key \"x\": must be a float tensor [N, K + H]" +
                     (x.isTensor() ? ", got " + std::string(c10::toString(x.toTensor().scalar_type())) + " " +
                                         shape_of(x.toTensor())
                                   : ", got " + std::string(x.tagKind())));
  if (!y.isTensor() || !c10::isIntegralType(y.toTensor().scalar_type(), /*includeBool=*/false) || y.toTensor().dim() != 1)
    throw InputError(path + ": key \"y\": must be an integer tensor [N]" +
                     (y.isTensor() ? ", got " + std::string(c10::toString(y.toTensor().scalar_type())) + " " +
                                         shape_of(y.toTensor())
                                   : ", got " + std::string(y.tagKind())));
  if (!labels.isList())
    throw InputError(path + ": key \"labels\": must be a list of the K class names, got " + labels.tagKind());
  std::vector<std::string> names;
  for (const auto& l : labels.toListRef()) {
    if (!l.isString()) throw InputError(path + ": key \"labels\": must hold strings, got a " + l.tagKind());
    names.push_back(l.toStringRef());
  }
  const int64_t K = static_cast<int64_t>(names.size());
  if (K < 2) throw InputError(path + ": key \"labels\": needs at least 2 classes, got " + std::to_string(K));
  for (int64_t i = 0; i < K; ++i)
    if (std::find(names.begin(), names.begin() + i, names[i]) != names.begin() + i)
      throw InputError(path + ": key \"labels\": \"" + names[i] + "\" occurs twice");
  s.x = x.toTensor().detach().to(torch::kFloat).contiguous();
  s.y = y.toTensor().detach().to(torch::kLong).contiguous();
  const int64_t N = s.x.size(0);
  if (N == 0) throw InputError(path + ": key \"x\": no rows");
  if (s.y.size(0) != N)
    throw InputError(path + ": key \"y\": " + std::to_string(s.y.size(0)) + " labels for " + std::to_string(N) +
                     " rows of x");
  if (s.x.size(1) < K)
    throw InputError(path + ": key \"x\": " + std::to_string(s.x.size(1)) + " columns, fewer than the " +
                     std::to_string(K) + " labels (the first K columns must be the logits)");
  if (!torch::isfinite(s.x).all().item<bool>()) {
    const int64_t row = torch::nonzero(~torch::isfinite(s.x).all(1))[0][0].item<int64_t>();
    throw InputError(path + ": key \"x\": row " + std::to_string(row) + " is not finite");
  }
  const auto bad = torch::nonzero((s.y < 0) | (s.y >= K));
  if (bad.size(0) > 0) {
    const int64_t row = bad[0][0].item<int64_t>();
    throw InputError(path + ": key \"y\": y[" + std::to_string(row) + "] = " +
                     std::to_string(s.y[row].item<int64_t>()) + " is outside 0.." + std::to_string(K - 1));
  }
  labels_out = names;
  return s;
}

FeatureData load_features(const DataConfig& data) {
  FeatureData f;
  std::vector<std::string> labels[3];
  f.train = read_feature_file("b_train", data.b_train, labels[0]);
  f.dev = read_feature_file("b_dev", data.b_dev, labels[1]);
  f.test = read_feature_file("b_test", data.b_test, labels[2]);
  f.labels = labels[0];
  f.K = static_cast<int64_t>(f.labels.size());
  f.H = f.train.x.size(1) - f.K;
  const FeatureSplit* splits[3] = {&f.train, &f.dev, &f.test};
  for (int i = 1; i < 3; ++i) {
    if (labels[i] != f.labels)
      throw InputError(splits[i]->path + ": key \"labels\": differs from " + f.train.path +
                       "'s (the three files must name the same classes in the same order)");
    if (splits[i]->x.size(1) != f.K + f.H)
      throw InputError(splits[i]->path + ": key \"x\": " + std::to_string(splits[i]->x.size(1)) +
                       " columns, but " + f.train.path + " has " + std::to_string(f.K + f.H));
  }
  if (std::find(f.labels.begin(), f.labels.end(), data.negative_label) == f.labels.end())
    throw InputError("data.negative_label: \"" + data.negative_label + "\" is not among the labels of " +
                     f.train.path + " (micro-F1 leaves the negative label out; set it to one of them)");
  return f;
}

Corpus features_corpus(const DataConfig& data) {
  auto f = std::make_shared<FeatureData>(load_features(data));
  Corpus c;
  c.labels = f->labels;
  c.negative_index = c.label_index(data.negative_label);
  for (auto [split, given] : {std::pair<Split*, const FeatureSplit*>{&c.b_train, &f->train},
                              {&c.b_dev, &f->dev}, {&c.b_test, &f->test}}) {
    split->name = given->name;
    split->path = given->path;
  }
  c.features = std::move(f);
  return c;
}

}  // namespace anchorsweep
