// Files of named tensors that Python opens with a plain torch.load(path): on PyTorch 1.13 and on
// PyTorch >= 2.6, whose torch.load defaults to weights_only=True and refuses the type tags that
// torch::pickle_save writes for a c10::Dict ("Unsupported global: torch.jit._pickle.restore_type_tag").
//
// The bytes are what Python's torch.save writes for a dict of CPU tensors: a zip archive
// (PyTorch's own writer) holding data.pkl, a protocol-2 pickle that names only globals the
// weights-only unpickler allows (torch._utils._rebuild_tensor_v2, collections.OrderedDict,
// torch.<Type>Storage), and one record per tensor's storage. torch::pickle_load reads them back.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace anchorsweep {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// torch.save({name: tensor, ...}) in C++; tensors are copied to the CPU and made contiguous.
std::vector<char> save_tensor_file(const NamedTensors& tensors);

}  // namespace anchorsweep
