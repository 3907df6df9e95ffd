// StepGraphs: a pretraining step (forward, backward, clipping, Adam) captured once per length
// bucket as a CUDA graph and replayed for every later batch of that width.
//
// On a GPU a step of this model is ~80 small kernels; launched one by one from the host they cost
// more than they compute (docs/gpu.md measured ~80 steps/s whatever the model's width). A graph
// launches them all at once. What makes a step capturable (train/buckets.hpp, model.lstm =
// "padded", train/device_adam.hpp):
//   - static shapes: batch_size rows at one of a few bucket widths, the padding weighing nothing;
//   - no host reads: the LSTM runs unpacked, the loss is Σ w·CE / Σ w on the device, clipping
//     scales by a device factor, and Adam's step count and bias corrections live on the device;
//   - static memory: the inputs are copied into buffers the graph reads, gradients are zeroed in
//     place (never freed), and the step's loss, right answers and gradient norm are copied out of
//     the graph's output after each replay.
// Dropout masks are drawn before each replay, outside the graph, into buffers it reads: from the
// same generator state they are the eager step's masks, and the graph holds no generator state.
//
// Each width's first batch is stepped eagerly on a side stream (the warm-up that creates the
// gradients and the library handles); its second is captured, then replayed. If a capture fails,
// step() says why (CaptureFailed) and the caller steps eagerly from then on, drawing its masks on
// the host: a failed capture can leave the CUDA generator expecting one. The reason goes to the
// journal and run.json. Built without CUDA, graph_unavailable() says so and this is never used.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "config/config.hpp"
#include "data/tensors.hpp"
#include "model/encoder.hpp"
#include "train/device_adam.hpp"

namespace anchorsweep {

// Why a classifier's training on `device` cannot use graphs; "" when it can.
// `group`: a data-parallel group trains it (its exchange runs between members, outside a graph).
std::string graph_unavailable(const torch::Device& device, const TrainConfig& cfg, const ModelConfig& model, bool group,
                              bool device_adam);

struct CaptureFailed : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class StepGraphs {
 public:
  StepGraphs(Encoder& encoder, DeviceAdam& opt, double grad_clip);
  ~StepGraphs();
  // One step on `batch` (every row at one bucket width) with its rows' loss weights; returns
  // [loss, rows classified right, gradient norm before clipping (0 with clipping off)], a device
  // tensor of its own. Throws CaptureFailed when this width's capture failed; the step has then
  // not been taken.
  torch::Tensor step(const Batch& batch, const torch::Tensor& weights);
  int64_t graphs() const;    // widths captured
  int64_t replays() const;   // steps that ran as a graph

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace anchorsweep
