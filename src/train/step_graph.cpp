#include "train/step_graph.hpp"

#include <cstdlib>
#include <map>

#include "train/buckets.hpp"
#include "train/grad_clip.hpp"

#ifdef ANCHORSWEEP_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

namespace anchorsweep {

std::string graph_unavailable(const torch::Device& device, const TrainConfig& cfg, const ModelConfig& model, bool group,
                              bool device_adam) {
  if (!device.is_cuda()) return "the device is a CPU (CUDA graphs are a GPU's)";
#ifndef ANCHORSWEEP_WITH_CUDA
  return "this anchorsweep was built without CUDA";
#endif
  if (const char* off = std::getenv("ANCHORSWEEP_NO_CUDA_GRAPHS"); off && *off && std::string(off) != "0")
    return "ANCHORSWEEP_NO_CUDA_GRAPHS is set";
  if (cfg.length_buckets <= 0) return "pretrain.length_buckets = 0 (every batch has its own width)";
  if (model.lstm != LstmKernel::padded || model.bidirectional)
    return "model.lstm is not \"padded\" (the packed LSTM reads the lengths on the host)";
  if (model.layers > 1 && model.dropout > 0)
    return "model.layers > 1 with model.dropout > 0 (cuDNN's dropout between layers reseeds itself on the host)";
  if (group) return "pretrain.ranks > 1 (the exchange between members runs outside the step)";
  if (!device_adam) return "the optimizer is not Adam on the device";
  return "";
}

#ifdef ANCHORSWEEP_WITH_CUDA

struct StepGraphs::Impl {
  Encoder& encoder;
  DeviceAdam& opt;
  double clip;
  std::vector<torch::Tensor> params;
  torch::Device device;
  c10::cuda::CUDAStream side;
  struct Width {
    int64_t seen = 0;
    Batch in;                 // static inputs
    torch::Tensor weights;
    DropoutMasks masks;       // drawn before each replay, outside the graph
    torch::Tensor stats;      // the graph's output
    std::unique_ptr<at::cuda::CUDAGraph> graph;
  };
  std::map<int64_t, Width> widths;
  int64_t replays = 0;

  Impl(Encoder& e, DeviceAdam& o, double c)
      : encoder(e), opt(o), clip(c), params(e->parameters()), device(e->dense->weight.device()),
        side(c10::cuda::getStreamFromPool(false, device.index())) {}

  // The step itself, on the static inputs of `w`: what the graph captures. It draws no random
  // numbers: the masks are drawn before it, so the graph holds no generator state, and its
  // masks are the eager step's.
  torch::Tensor body(Width& w) {
    for (auto& p : params)
      if (p.grad().defined()) p.mutable_grad().zero_();  // in place: the graph's gradients stay put
    const auto logits = encoder->forward(w.in, &w.masks).logits;
    auto loss = weighted_cross_entropy(logits, w.in.labels, w.weights);
    loss.backward();
    const auto norm = clip > 0 ? clip_grad_norm(params, clip) : torch::zeros({}, loss.options());
    opt.step();
    return torch::stack({loss.detach(), weighted_correct(logits, w.in.labels, w.weights), norm.to(loss.scalar_type())});
  }

  static void copy_into(Batch& to, const Batch& from) {
    for (auto [t, f] : {std::pair{&to.tokens, &from.tokens}, {&to.lengths, &from.lengths}, {&to.mask, &from.mask},
                        {&to.subj_pos, &from.subj_pos}, {&to.obj_pos, &from.obj_pos}, {&to.labels, &from.labels}})
      t->copy_(*f, /*non_blocking=*/true);
  }

  torch::Tensor step(const Batch& batch, const torch::Tensor& weights) {
    c10::cuda::CUDAGuard on_device(device.index());
    const auto main = c10::cuda::getCurrentCUDAStream();
    at::cuda::CUDAEvent ready;
    ready.record(main);
    ready.block(side);  // the side stream sees what the main one queued (the batch, an lr change)
    torch::Tensor stats;
    {
      c10::cuda::CUDAStreamGuard on_side(side);
      Width& w = widths[batch.tokens.size(1)];
      opt.sync_lr();
      if (w.seen == 0) {
        // Warm-up: this batch's step, eagerly; it also allocates the static inputs.
        w.in = Batch{batch.tokens.clone(), batch.lengths.clone(), batch.mask.clone(), batch.subj_pos.clone(),
                     batch.obj_pos.clone(), batch.labels.clone(), torch::Tensor()};
        w.weights = weights.clone();
        w.masks = encoder->draw_masks(w.in.size(), w.in.tokens.size(1), device);
        stats = body(w).clone();
      } else {
        copy_into(w.in, batch);
        w.weights.copy_(weights, /*non_blocking=*/true);
        encoder->redraw_masks(w.masks);
        if (!w.graph) capture(w);
        w.graph->replay();
        ++replays;
        stats = w.stats.clone();
      }
      ++w.seen;
    }
    at::cuda::CUDAEvent done;
    done.record(side);
    done.block(main);
    stats.record_stream(main);  // made on the side stream, read on the main one
    return stats;
  }

  void capture(Width& w) {
    auto graph = std::make_unique<at::cuda::CUDAGraph>();
    try {
      graph->capture_begin();
      try {
        w.stats = body(w);
      } catch (...) {
        try { graph->capture_end(); } catch (...) {}  // leave capture mode; the error below says why
        throw;
      }
      graph->capture_end();
    } catch (const std::exception& e) {
      (void)cudaGetLastError();  // a failed capture leaves a non-sticky error behind
      std::string what = e.what();
      if (const auto nl = what.find('\n'); nl != std::string::npos) what.resize(nl);
      throw CaptureFailed("capturing the step at width " + std::to_string(w.in.tokens.size(1)) + " failed: " + what);
    }
    w.graph = std::move(graph);
  }
};

StepGraphs::StepGraphs(Encoder& encoder, DeviceAdam& opt, double grad_clip)
    : impl_(std::make_unique<Impl>(encoder, opt, grad_clip)) {}
StepGraphs::~StepGraphs() = default;
torch::Tensor StepGraphs::step(const Batch& batch, const torch::Tensor& weights) { return impl_->step(batch, weights); }
int64_t StepGraphs::graphs() const {
  int64_t n = 0;
  for (const auto& [width, w] : impl_->widths) n += w.graph ? 1 : 0;
  return n;
}
int64_t StepGraphs::replays() const { return impl_->replays; }

#else  // built without CUDA: graph_unavailable() always answers, so nothing constructs this.

struct StepGraphs::Impl {};
StepGraphs::StepGraphs(Encoder&, DeviceAdam&, double) {
  throw CaptureFailed("this anchorsweep was built without CUDA");
}
StepGraphs::~StepGraphs() = default;
torch::Tensor StepGraphs::step(const Batch&, const torch::Tensor&) { throw CaptureFailed("built without CUDA"); }
int64_t StepGraphs::graphs() const { return 0; }
int64_t StepGraphs::replays() const { return 0; }

#endif

}  // namespace anchorsweep
