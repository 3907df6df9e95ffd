// Encoder: the relation classifier that is pretrained on A and then frozen.
//
//   words ──embed──> x_i ──LSTM──> h_i ─┐
//   q = last hidden state ──────────────┼─> score_i = vᵀ tanh(W_h h_i + W_q q + W_p [p_s,i ; p_o,i])
//   subject / object positions ──embed──┘   a = softmax(score) over real tokens
//   summary = Σ a_i h_i      (with attention = none: summary = q)
//   logits  = dense(summary)  [K]
// The adapter reads [logits ; summary], so forward() returns both.
// The LSTM runs as model/fused_lstm on the CPU when model.lstm = "fused" and it has one layer and
// one direction; as nn::LSTM over the padded batch, states past each end masked, when model.lstm =
// "padded" (static shapes); otherwise as nn::LSTM on a packed sequence. Either way its parameters are
// nn::LSTM's (lstm.weight_ih_l0, ...), so checkpoints do not depend on the choice.
#pragma once

#include <torch/torch.h>

#include "config/config.hpp"
#include "data/tensors.hpp"

namespace anchorsweep {

struct EncoderOutput {
  torch::Tensor logits;   // [B, K]
  torch::Tensor summary;  // [B, Hs], Hs = hidden * (bidirectional ? 2 : 1)
};

// Dropout masks drawn outside the model, already scaled by 1 / (1 − p). A data-parallel group
// draws them for the whole global batch, in the order and shapes the Dropout module would, and
// each rank takes its rows: so the masks do not depend on how the batch is split.
struct DropoutMasks {
  torch::Tensor embedded;  // [B, L, word_dim]
  torch::Tensor hidden;    // [B, L, Hs]
  torch::Tensor summary;   // [B, Hs]
  DropoutMasks rows(int64_t begin, int64_t n) const;
  DropoutMasks to(const torch::Device& device) const;
};

struct EncoderImpl : torch::nn::Module {
  EncoderImpl(const ModelConfig& cfg, int64_t vocab_size, int64_t num_classes);

  // With `masks`, they replace the Dropout module (training only).
  EncoderOutput forward(const Batch& batch, const DropoutMasks* masks = nullptr);

  // Masks for a batch of `n` rows padded to `width`, from the global generator.
  DropoutMasks draw_masks(int64_t n, int64_t width, const torch::Device& device) const;
  // The same draws into masks of that shape already allocated (a CUDA graph's static inputs):
  // from the same generator state, the same numbers as draw_masks.
  void redraw_masks(DropoutMasks& m) const;

  int64_t summary_dim() const { return summary_dim_; }
  const ModelConfig& config() const { return cfg_; }
  int64_t num_classes() const { return num_classes_; }

  torch::nn::Embedding word{nullptr}, subj_pos{nullptr}, obj_pos{nullptr};
  torch::nn::LSTM lstm{nullptr};
  torch::nn::Linear attn_h{nullptr}, attn_q{nullptr}, attn_p{nullptr}, attn_v{nullptr};
  torch::nn::Dropout drop{nullptr};
  torch::nn::Linear dense{nullptr};

 private:
  ModelConfig cfg_;
  bool attention_, bidirectional_, fused_lstm_, padded_lstm_;
  int64_t summary_dim_, num_classes_, word_dim_;
  double dropout_;
};
TORCH_MODULE(Encoder);

// Freeze for finetuning: requires_grad off for every parameter and eval mode (no dropout).
void freeze(torch::nn::Module& module);

// Parameters and buffers as a name -> tensor dict, pickled so that Python's torch.load opens it;
// and back into a module of the same shape.
std::vector<char> state_dict_bytes(const torch::nn::Module& module);
void load_state_dict_bytes(torch::nn::Module& module, const std::vector<char>& bytes);

}  // namespace anchorsweep
