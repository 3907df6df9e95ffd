#include "model/tensor_file.hpp"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <stdexcept>

namespace anchorsweep {

namespace {

// The pickle opcodes used (Python's Lib/pickle.py names them the same way).
constexpr char kProto = '\x80', kStop = '.', kMark = '(', kGlobal = 'c', kEmptyDict = '}', kEmptyTuple = ')',
               kTuple = 't', kReduce = 'R', kSetItems = 'u', kBinUnicode = 'X', kBinInt = 'J', kLong1 = '\x8a',
               kBinPersId = 'Q', kNewFalse = '\x89';

class Pickle {
 public:
  std::string bytes;

  void op(char c) { bytes.push_back(c); }
  void global(const std::string& module, const std::string& name) {
    op(kGlobal);
    bytes += module + "\n" + name + "\n";
  }
  void text(const std::string& s) {
    op(kBinUnicode);
    put_le(static_cast<uint64_t>(s.size()), 4);
    bytes += s;
  }
  void integer(int64_t v) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
      op(kBinInt);
      put_le(static_cast<uint64_t>(static_cast<uint32_t>(static_cast<int32_t>(v))), 4);
    } else {
      op(kLong1);  // 8 bytes, little-endian two's complement
      bytes.push_back(8);
      put_le(static_cast<uint64_t>(v), 8);
    }
  }
  void int_tuple(c10::IntArrayRef values) {
    op(kMark);
    for (int64_t v : values) integer(v);
    op(kTuple);
  }

 private:
  void put_le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
};

// The storage class torch.save names for a dtype.
std::string storage_class(torch::ScalarType t) {
  switch (t) {
    case torch::kFloat: return "FloatStorage";
    case torch::kDouble: return "DoubleStorage";
    case torch::kHalf: return "HalfStorage";
    case torch::kBFloat16: return "BFloat16Storage";
    case torch::kLong: return "LongStorage";
    case torch::kInt: return "IntStorage";
    case torch::kShort: return "ShortStorage";
    case torch::kChar: return "CharStorage";
    case torch::kByte: return "ByteStorage";
    case torch::kBool: return "BoolStorage";
    default: throw std::invalid_argument(std::string("save_tensor_file: unsupported dtype ") + c10::toString(t));
  }
}

}  // namespace

std::vector<char> save_tensor_file(const NamedTensors& tensors) {
  std::vector<torch::Tensor> storages;
  Pickle p;
  p.op(kProto);
  p.bytes.push_back(2);
  p.op(kEmptyDict);
  p.op(kMark);
  for (const auto& [name, tensor] : tensors) {
    const auto t = tensor.detach().to(torch::kCPU).contiguous();
    const std::string key = std::to_string(storages.size());
    storages.push_back(t);
    p.text(name);
    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks)
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.op(kMark);
    p.op(kMark);  // the persistent id: ('storage', torch.<Type>Storage, key, location, numel)
    p.text("storage");
    p.global("torch", storage_class(t.scalar_type()));
    p.text(key);
    p.text("cpu");
    p.integer(t.numel());
    p.op(kTuple);
    p.op(kBinPersId);
    p.integer(0);
    p.int_tuple(t.sizes());
    p.int_tuple(t.strides());
    p.op(kNewFalse);
    p.global("collections", "OrderedDict");
    p.op(kEmptyTuple);
    p.op(kReduce);
    p.op(kTuple);
    p.op(kReduce);
  }
  p.op(kSetItems);
  p.op(kStop);

  std::vector<char> out;
  caffe2::serialize::PyTorchStreamWriter zip([&out](const void* data, size_t n) {
    const char* c = static_cast<const char*>(data);
    out.insert(out.end(), c, c + n);
    return n;
  });
  zip.writeRecord("data.pkl", p.bytes.data(), p.bytes.size());
  static const char kLittle[] = "little";
  zip.writeRecord("byteorder", kLittle, std::strlen(kLittle));
  for (size_t i = 0; i < storages.size(); ++i)
    zip.writeRecord("data/" + std::to_string(i), storages[i].data_ptr(), storages[i].numel() * storages[i].element_size());
  zip.writeEndOfFile();
  return out;
}

}  // namespace anchorsweep
