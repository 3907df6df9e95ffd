#include "model/encoder.hpp"

#include "model/fused_lstm.hpp"
#include "model/tensor_file.hpp"

namespace anchorsweep {

namespace nn = torch::nn;

EncoderImpl::EncoderImpl(const ModelConfig& cfg, int64_t vocab_size, int64_t num_classes)
    : cfg_(cfg),
      attention_(cfg.attention == Attention::position_aware),
      bidirectional_(cfg.bidirectional),
      fused_lstm_(cfg.lstm == LstmKernel::fused && cfg.layers == 1 && !cfg.bidirectional),
      padded_lstm_(cfg.lstm == LstmKernel::padded && !cfg.bidirectional),
      summary_dim_(cfg.hidden * (cfg.bidirectional ? 2 : 1)),
      num_classes_(num_classes),
      word_dim_(cfg.word_dim),
      dropout_(cfg.dropout) {
  word = register_module("word", nn::Embedding(nn::EmbeddingOptions(vocab_size, cfg.word_dim)
                                                   .padding_idx(Vocabulary::kPad)));
  lstm = register_module("lstm", nn::LSTM(nn::LSTMOptions(cfg.word_dim, cfg.hidden)
                                              .num_layers(cfg.layers)
                                              .batch_first(true)
                                              .bidirectional(cfg.bidirectional)
                                              .dropout(cfg.layers > 1 ? cfg.dropout : 0.0)));
  if (attention_) {
    subj_pos = register_module("subj_pos", nn::Embedding(kNumPositions, cfg.pos_dim));
    obj_pos = register_module("obj_pos", nn::Embedding(kNumPositions, cfg.pos_dim));
    attn_h = register_module("attn_h", nn::Linear(summary_dim_, cfg.attn_dim));
    attn_q = register_module("attn_q", nn::Linear(nn::LinearOptions(summary_dim_, cfg.attn_dim).bias(false)));
    attn_p = register_module("attn_p", nn::Linear(nn::LinearOptions(2 * cfg.pos_dim, cfg.attn_dim).bias(false)));
    attn_v = register_module("attn_v", nn::Linear(cfg.attn_dim, 1));
  }
  drop = register_module("drop", nn::Dropout(cfg.dropout));
  dense = register_module("dense", nn::Linear(summary_dim_, num_classes));
}

DropoutMasks DropoutMasks::rows(int64_t begin, int64_t n) const {
  return {embedded.narrow(0, begin, n), hidden.narrow(0, begin, n), summary.narrow(0, begin, n)};
}

DropoutMasks DropoutMasks::to(const torch::Device& device) const {
  return {embedded.to(device), hidden.to(device), summary.to(device)};
}

void EncoderImpl::redraw_masks(DropoutMasks& m) const {
  // As ATen's dropout on the CPU: noise = bernoulli(1 − p) / (1 − p), drawn in forward's order.
  if (dropout_ <= 0 || dropout_ >= 1) return;  // constant masks: nothing is drawn
  torch::NoGradGuard no_grad;
  for (auto* t : {&m.embedded, &m.hidden, &m.summary}) t->bernoulli_(1 - dropout_).div_(1 - dropout_);
}

DropoutMasks EncoderImpl::draw_masks(int64_t n, int64_t width, const torch::Device& device) const {
  // Constant masks where nothing is drawn (ATen draws nothing for p = 0); else redraw_masks' noise.
  const auto opts = torch::TensorOptions().device(device);
  auto mask = [&](std::vector<int64_t> shape) {
    if (dropout_ <= 0) return torch::ones(shape, opts);
    if (dropout_ >= 1) return torch::zeros(shape, opts);
    return torch::empty(shape, opts);
  };
  DropoutMasks m{mask({n, width, word_dim_}), mask({n, width, summary_dim_}), mask({n, summary_dim_})};
  redraw_masks(m);
  return m;
}

EncoderOutput EncoderImpl::forward(const Batch& b, const DropoutMasks* masks) {
  // Dropout: the module's, or the caller's masks (a data-parallel shard of the global batch's).
  auto dropped = [&](const torch::Tensor& x, const torch::Tensor& mask) {
    return masks && is_training() ? x * mask : drop(x);
  };
  auto x = dropped(word(b.tokens), masks ? masks->embedded : torch::Tensor());  // [B, L, E]

  // The LSTM stops at each sentence's end, so q is the true last state in both directions and
  // padding never leaks into the summary. The lengths must be a CPU tensor; batches cut by
  // EncodedSplit::rows carry them there.
  auto host_lengths = [&] { return b.host_lengths.defined() ? b.host_lengths : b.lengths.cpu(); };
  torch::Tensor h, q;
  const bool fused = fused_lstm_ && x.device().is_cpu() && x.scalar_type() == torch::kFloat;
  if (fused) {
    const auto w = lstm->named_parameters();  // one walk of the module, not one per weight
    auto out = fused_lstm(x, host_lengths(), w["weight_ih_l0"], w["weight_hh_l0"], w["bias_ih_l0"], w["bias_hh_l0"]);
    h = out.h;
    q = out.last;
  } else if (padded_lstm_) {
    // One direction over the whole padded width: h_t depends on x_1..x_t alone, so a sentence's
    // states up to its end are those of the packed LSTM, and the states the padding drives past
    // it are zeroed. No lengths are read on the host and every shape is the batch's: a CUDA graph
    // can capture it.
    auto out = std::get<0>(lstm->forward(x));                                // [B, L, H]
    h = out * b.mask.unsqueeze(2).to(out.scalar_type());
    const auto last = (b.lengths - 1).view({-1, 1, 1}).expand({-1, 1, out.size(2)});
    q = out.gather(1, last).squeeze(1);                                       // [B, H]
  } else {
    auto packed = nn::utils::rnn::pack_padded_sequence(x, host_lengths(), /*batch_first=*/true,
                                                       /*enforce_sorted=*/false);
    auto [packed_out, state] = lstm->forward_with_packed_input(packed);
    h = std::get<0>(nn::utils::rnn::pad_packed_sequence(packed_out, /*batch_first=*/true, 0.0, b.tokens.size(1)));
    auto h_n = std::get<0>(state);  // [layers * dirs, B, H]
    q = bidirectional_ ? torch::cat({h_n[h_n.size(0) - 2], h_n[h_n.size(0) - 1]}, 1) : h_n[h_n.size(0) - 1];  // [B, Hs]
  }
  h = dropped(h, masks ? masks->hidden : torch::Tensor());

  torch::Tensor summary;
  if (attention_ && fused) {
    // The same attention on the real tokens only (N = Σ lengths rows instead of B·L; padding is
    // most of a batch of short sentences), scattered back to [B, L] for the softmax. The values
    // equal the padded computation's: a padded position's score is −1e30 either way.
    const int64_t B = h.size(0), L = h.size(1);
    const auto tokens = b.mask.reshape(-1).nonzero().squeeze(1);           // b·L + t of each word
    const auto sentence = torch::div(tokens, L, /*rounding_mode=*/"floor");  // its b
    const auto h_tok = h.reshape({B * L, -1}).index_select(0, tokens);     // [N, Hs]
    auto p = torch::cat({subj_pos(b.subj_pos.reshape(-1).index_select(0, tokens)),
                         obj_pos(b.obj_pos.reshape(-1).index_select(0, tokens))}, 1);  // [N, 2P]
    auto e = torch::tanh(attn_h(h_tok) + attn_q(q).index_select(0, sentence) + attn_p(p));  // [N, A]
    auto score = torch::full({B * L}, -1e30, h.options()).index_copy(0, tokens, attn_v(e).squeeze(1)).view({B, L});
    auto a = torch::softmax(score, 1);
    summary = torch::bmm(a.unsqueeze(1), h).squeeze(1);                      // [B, Hs]
  } else if (attention_) {
    auto p = torch::cat({subj_pos(b.subj_pos), obj_pos(b.obj_pos)}, 2);        // [B, L, 2P]
    auto e = torch::tanh(attn_h(h) + attn_q(q).unsqueeze(1) + attn_p(p));      // [B, L, A]
    auto score = attn_v(e).squeeze(2).masked_fill(b.mask.logical_not(), -1e30);  // [B, L]
    auto a = torch::softmax(score, 1);
    summary = torch::bmm(a.unsqueeze(1), h).squeeze(1);                        // [B, Hs]
  } else {
    summary = q;
  }
  return {dense(dropped(summary, masks ? masks->summary : torch::Tensor())), summary};
}

void freeze(torch::nn::Module& module) {
  for (auto& p : module.parameters()) p.set_requires_grad(false);
  module.eval();
}

std::vector<char> state_dict_bytes(const torch::nn::Module& module) {
  NamedTensors dict;
  for (const auto& item : module.named_parameters()) dict.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers()) dict.emplace_back(item.key(), item.value());
  return save_tensor_file(dict);
}

void load_state_dict_bytes(torch::nn::Module& module, const std::vector<char>& bytes) {
  auto dict = torch::pickle_load(bytes).toGenericDict();
  torch::NoGradGuard no_grad;
  auto copy_into = [&](const std::string& name, torch::Tensor& dst) {
    auto it = dict.find(name);
    TORCH_CHECK(it != dict.end(), "checkpoint lacks tensor '", name, "'");
    auto src = it->value().toTensor();
    TORCH_CHECK(src.sizes() == dst.sizes(), "checkpoint tensor '", name, "' has shape ",
                src.sizes(), ", the model expects ", dst.sizes());
    dst.copy_(src);
  };
  for (auto& item : module.named_parameters()) copy_into(item.key(), item.value());
  for (auto& item : module.named_buffers()) copy_into(item.key(), item.value());
}

}  // namespace anchorsweep
