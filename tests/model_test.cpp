// Encoder and adapter at module level: shapes, the identity anchor, freezing, checkpoints.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/errors.hpp"
#include "fixtures.hpp"
#include "model/adapter.hpp"
#include "model/fused_lstm.hpp"
#include "model/tensor_file.hpp"
#include "train/device_adam.hpp"
#include "train/fused_adam.hpp"
#include "train/step_graph.hpp"
#include "train/grad_clip.hpp"
#include "train/adapter_training.hpp"
#include "train/buckets.hpp"
#include "train/evaluate.hpp"
#include "train/features.hpp"

using namespace anchorsweep;
using anchorsweep::testing::TinyExperiment;

TEST(Encoder, ShapesAndPaddingDoesNotLeak) {
  TinyExperiment x(false);
  x.encoder->eval();
  auto idx = torch::arange(0, 5, torch::kLong);
  auto batch = x.b_dev.rows(idx);
  auto out = x.encoder->forward(batch);
  EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{5, x.corpus.num_classes()}));
  EXPECT_EQ(out.summary.sizes(), (std::vector<int64_t>{5, x.cfg.model.hidden}));
  // The same sentence alone (no padding) gives the same output as inside the padded batch.
  auto alone = x.encoder->forward(x.b_dev.rows(torch::tensor({2}, torch::kLong)));
  EXPECT_TRUE(torch::allclose(alone.logits[0], out.logits[2], 1e-5, 1e-6));
}

// The fused LSTM against ATen's packed one: same weights, unsorted lengths with ties and a
// one-token sentence; a loss that reads every output (padding included) and the last state. L may
// exceed the longest sentence (a data-parallel shard pads to the whole batch's longest).
void expect_fused_matches_aten(int64_t L, int64_t E, int64_t H, const std::vector<int64_t>& lens, int threads) {
  SCOPED_TRACE("L " + std::to_string(L) + ", E " + std::to_string(E) + ", H " + std::to_string(H) + ", " +
               std::to_string(threads) + " thread(s)");
  const int before = at::get_num_threads();
  at::set_num_threads(threads);
  torch::manual_seed(5);
  const int64_t B = static_cast<int64_t>(lens.size());
  torch::nn::LSTM ref(torch::nn::LSTMOptions(E, H).batch_first(true));
  const auto lengths = torch::tensor(lens, torch::kLong);
  const auto x0 = torch::randn({B, L, E});
  const auto r_h = torch::randn({B, L, H}), r_q = torch::randn({B, H});
  auto grads_of = [&](bool fused) {
    for (auto& p : ref->parameters()) p.mutable_grad() = torch::Tensor();
    auto x = x0.clone().requires_grad_(true);
    torch::Tensor h, q;
    if (fused) {
      auto named = ref->named_parameters();
      auto out = fused_lstm(x, lengths, named["weight_ih_l0"], named["weight_hh_l0"], named["bias_ih_l0"],
                            named["bias_hh_l0"]);
      h = out.h;
      q = out.last;
    } else {
      namespace rnn = torch::nn::utils::rnn;
      auto packed = rnn::pack_padded_sequence(x, lengths, true, false);
      auto [out, state] = ref->forward_with_packed_input(packed);
      h = std::get<0>(rnn::pad_packed_sequence(out, true, 0.0, L));
      q = std::get<0>(state)[0];
    }
    ((h * r_h).sum() + (q * r_q).pow(2).sum()).backward();
    std::vector<torch::Tensor> all{h.detach(), q.detach(), x.grad()};
    for (auto& p : ref->parameters()) all.push_back(p.grad().clone());
    return all;
  };
  const auto fused = grads_of(true), aten = grads_of(false);
  at::set_num_threads(before);
  const char* names[] = {"h", "last state", "d x", "d weight_ih", "d weight_hh", "d bias_ih", "d bias_hh"};
  ASSERT_EQ(fused.size(), aten.size());
  for (size_t i = 0; i < fused.size(); ++i) {
    EXPECT_EQ(fused[i].sizes(), aten[i].sizes()) << names[i];
    EXPECT_TRUE(torch::allclose(fused[i], aten[i], 1e-4, 1e-5))
        << names[i] << ": max difference " << (fused[i] - aten[i]).abs().max().item<double>();
  }
  // Zero past each sentence's end, and a gradient that reaches no padded input.
  for (int64_t r = 0; r < B; ++r) {
    const int64_t n = lengths[r].item<int64_t>();
    if (n < L) {
      EXPECT_EQ(fused[0][r].narrow(0, n, L - n).abs().max().item<float>(), 0.0f) << "row " << r;
      EXPECT_EQ(fused[2][r].narrow(0, n, L - n).abs().max().item<float>(), 0.0f) << "row " << r;
    }
  }
}

TEST(FusedLstm, OutputsAndEveryGradientMatchAtensPackedLstm) {
  expect_fused_matches_aten(9, 7, 5, {9, 3, 9, 1, 5, 7}, 1);
}

// Widths at and past the AVX-512 vector (16 floats): 32, 37 (a remainder) and 64; two threads;
// L longer than every sentence, as in a data-parallel shard.
TEST(FusedLstm, WideHiddenTwoThreadsAndExtraPaddingMatchAten) {
  for (int64_t H : {32, 37, 64})
    for (int threads : {1, 2}) expect_fused_matches_aten(14, 11, H, {9, 3, 9, 1, 5, 7, 2, 8}, threads);
}

// The whole encoder, model.lstm = "fused" or "padded" against "aten" (packed) from the same
// weights: the logits and every parameter's gradient of a cross-entropy step agree within float
// rounding. In train mode both draw their dropout masks from one RNG state (dropout sits outside
// the LSTM), so they match there too; `train` also checks that dropout drew a mask, else that case
// would test nothing. `layers` > 1 runs nn::LSTM under every kernel but the padded one still skips
// packing.
void expect_encoder_step_matches_aten(bool train, LstmKernel kernel, int64_t layers = 1) {
  TinyExperiment x(false);
  auto cfg_aten = x.cfg.model, cfg_mine = x.cfg.model;
  cfg_aten.lstm = LstmKernel::aten;
  cfg_mine.lstm = kernel;
  cfg_aten.layers = cfg_mine.layers = layers;
  cfg_aten.dropout = cfg_mine.dropout = layers > 1 ? 0.0 : x.cfg.model.dropout;  // inner dropout: drawn inside LibTorch
  Encoder aten(cfg_aten, x.vocab.size(), x.corpus.num_classes()), mine(cfg_mine, x.vocab.size(), x.corpus.num_classes());
  if (layers == 1) load_state_dict_bytes(*mine, state_dict_bytes(*x.encoder));
  load_state_dict_bytes(*aten, state_dict_bytes(*mine));
  auto batch = x.a_train.rows(torch::arange(0, 12, torch::kLong));
  ASSERT_GT(batch.tokens.size(1), batch.host_lengths.min().item<int64_t>()) << "no padding: the test tests nothing";
  std::vector<torch::Tensor> logits;
  for (Encoder* e : {&mine, &aten}) {
    (*e)->train(train);
    torch::manual_seed(77);
    auto out = (*e)->forward(batch).logits;
    torch::nn::functional::cross_entropy(out, batch.labels).backward();
    logits.push_back(out.detach());
  }
  if (train && layers == 1) {
    ASSERT_GT(x.cfg.model.dropout, 0.0);
    torch::manual_seed(78);
    EXPECT_FALSE(torch::allclose(mine->forward(batch).logits, logits[0])) << "dropout drew no mask: the test tests nothing";
  }
  EXPECT_TRUE(torch::allclose(logits[0], logits[1], 1e-4, 1e-5)) << (logits[0] - logits[1]).abs().max().item<double>();
  auto mine_params = mine->named_parameters(), aten_params = aten->named_parameters();
  for (const auto& p : mine_params) {
    const auto& g1 = p.value().grad();
    const auto& g2 = aten_params[p.key()].grad();
    ASSERT_TRUE(g1.defined() && g2.defined()) << p.key();
    EXPECT_TRUE(torch::allclose(g1, g2, 1e-3, 1e-5)) << p.key() << ": max difference "
                                                      << (g1 - g2).abs().max().item<double>();
  }
}

TEST(FusedLstm, EncoderGradientsMatchTheAtenEncoder) { expect_encoder_step_matches_aten(false, LstmKernel::fused); }

TEST(FusedLstm, TrainModeWithDropoutMatchesTheAtenEncoder) { expect_encoder_step_matches_aten(true, LstmKernel::fused); }

// model.lstm = "padded": nn::LSTM over the whole padded width, no packing (static shapes for a
// CUDA graph), computes the packed LSTM's function: one and two layers.
TEST(PaddedLstm, MatchesThePackedLstmInLogitsAndEveryGradient) {
  expect_encoder_step_matches_aten(true, LstmKernel::padded);
  expect_encoder_step_matches_aten(false, LstmKernel::padded, 2);
}

TEST(Adapter, IdentityAnchorReproducesPretrainedLogitsExactly) {
  TinyExperiment x;
  x.encoder->eval();
  torch::NoGradGuard no_grad;
  auto out = x.encoder->forward(x.b_test.all);
  auto features = torch::cat({out.logits, out.summary}, 1);
  auto A = make_anchor(AnchorSpec{}, x.corpus.num_classes(), x.feature_dim());
  torch::Tensor W, b;
  init_adapters(AdapterInit::anchor, A, 1, 0, W, b);
  auto logits = adapter_forward(features, W, b)[0];
  EXPECT_TRUE(torch::equal(logits, out.logits)) << (logits - out.logits).abs().max().item<double>();
}

TEST(Adapter, RandomInitDependsOnlyOnSeed) {
  auto A = make_anchor(AnchorSpec{}, 4, 10);
  torch::Tensor W1, b1, W2, b2, W3, b3;
  init_adapters(AdapterInit::random, A, 3, 42, W1, b1);
  init_adapters(AdapterInit::random, A, 1, 42, W2, b2);
  init_adapters(AdapterInit::random, A, 1, 43, W3, b3);
  EXPECT_TRUE(torch::equal(W1[2], W2[0]));
  EXPECT_FALSE(torch::equal(W2, W3));
  EXPECT_LE(W1.abs().max().item<double>(), 1.0 / std::sqrt(10.0));
}

TEST(Freeze, EveryOldLayerStopsLearning) {
  TinyExperiment x(false);
  x.encoder->train();
  freeze(*x.encoder);
  EXPECT_FALSE(x.encoder->is_training());
  for (const auto& m : x.encoder->modules()) EXPECT_FALSE(m->is_training());
  for (const auto& p : x.encoder->parameters()) EXPECT_FALSE(p.requires_grad());
}

TEST(Freeze, FrozenWeightsBitIdenticalAfterFinetuning) {
  TinyExperiment x;
  freeze(*x.encoder);
  std::vector<torch::Tensor> before;
  for (const auto& p : x.encoder->parameters()) before.push_back(p.clone());
  // Naive mode drives the frozen encoder itself at every step.
  LiveFeatures live(x.encoder, x.b_train, x.b_dev, x.b_test, false);
  auto A = make_anchor(AnchorSpec{}, x.corpus.num_classes(), x.feature_dim());
  AdapterSetup setup{&x.cfg.finetune, &x.cfg.penalty, AdapterInit::random, A, x.corpus.negative_index, 5};
  auto out = train_adapters(setup, {0.0, 0.1}, live);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(torch::equal(out[0].weight_last, out[1].weight_last));  // the adapters did learn
  auto params = x.encoder->parameters();
  for (size_t i = 0; i < params.size(); ++i) EXPECT_TRUE(torch::equal(params[i], before[i])) << "parameter " << i;
}

TEST(Checkpoint, StateDictRoundTrip) {
  TinyExperiment x;
  auto bytes = state_dict_bytes(*x.encoder);
  torch::manual_seed(99);
  Encoder other(x.cfg.model, x.vocab.size(), x.corpus.num_classes());
  load_state_dict_bytes(*other, bytes);
  other->eval();
  auto a = x.encoder->parameters(), b = other->parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i]));
  EXPECT_EQ(predict(x.encoder, x.b_test), predict(other, x.b_test));
}

TEST(TensorFile, EveryDtypeAndLayoutRoundTripsThroughPickleLoad) {
  // What Python's torch.save writes; torch::pickle_load (and torch.load, see interop_test) read it.
  auto wide = torch::arange(12, torch::kDouble).view({3, 4}).t();  // not contiguous
  auto big = torch::tensor({int64_t{1} << 40, -(int64_t{1} << 35), int64_t{7}}, torch::kLong);
  NamedTensors in{{"float", torch::randn({2, 3})},
                  {"double.t", wide},
                  {"long", big},
                  {"int", torch::tensor({-3, 4}, torch::kInt)},
                  {"bool", torch::tensor({true, false, true})},
                  {"scalar", torch::tensor(2.5)},
                  {"empty", torch::zeros({0, 5})}};
  auto dict = torch::pickle_load(save_tensor_file(in)).toGenericDict();
  ASSERT_EQ(dict.size(), in.size());
  for (const auto& [name, t] : in) {
    auto it = dict.find(name);
    ASSERT_NE(it, dict.end()) << name;
    const auto got = it->value().toTensor();
    EXPECT_EQ(got.scalar_type(), t.scalar_type()) << name;
    EXPECT_EQ(got.sizes(), t.sizes()) << name;
    EXPECT_TRUE(torch::equal(got, t)) << name;
  }
  EXPECT_THROW(save_tensor_file({{"c", torch::zeros({1}, torch::kComplexFloat)}}), std::invalid_argument);
}

TEST(GradClip, SameGradientsAsTorchClipGradNormBitForBit) {
  for (double max_norm : {1e-3, 0.5, 1e6}) {  // clipped hard, a little, not at all
    std::vector<torch::Tensor> grads[2];
    for (int way = 0; way < 2; ++way) {
      TinyExperiment x;
      x.encoder->train();
      torch::manual_seed(3);
      auto batch = x.b_train.rows(torch::arange(0, 16, torch::kLong));
      torch::nn::functional::cross_entropy(x.encoder->forward(batch).logits, batch.labels).backward();
      if (way == 0) torch::nn::utils::clip_grad_norm_(x.encoder->parameters(), max_norm);
      else clip_grad_norm(x.encoder->parameters(), max_norm);
      for (const auto& p : x.encoder->parameters())
        if (p.grad().defined()) grads[way].push_back(p.grad().clone());
    }
    ASSERT_EQ(grads[0].size(), grads[1].size());
    ASSERT_FALSE(grads[0].empty());
    for (size_t i = 0; i < grads[0].size(); ++i) EXPECT_TRUE(torch::equal(grads[0][i], grads[1][i])) << max_norm << " #" << i;
  }
}

TEST(Batches, EpochOrderSlicesCutTheSameBatchesAsHostIndices) {
  TinyExperiment x;
  const int64_t n = x.b_train.size();
  const EpochOrder order(n, 5, 2, x.b_train.device());
  const auto host = shuffled_order(n, 5, 2);
  for (int64_t i = 0; i < n; i += 7) {
    const int64_t m = std::min<int64_t>(7, n - i);
    const auto a = x.b_train.rows(order.slice(i, m));
    const auto b = x.b_train.rows(torch::tensor(std::vector<int64_t>(host.begin() + i, host.begin() + i + m)));
    EXPECT_TRUE(torch::equal(a.tokens, b.tokens));
    EXPECT_TRUE(torch::equal(a.labels, b.labels));
    EXPECT_TRUE(torch::equal(a.mask, b.mask));
    EXPECT_TRUE(torch::equal(a.host_lengths, a.lengths.cpu()));
    EXPECT_EQ(a.tokens.size(1), a.host_lengths.max().item<int64_t>()) << "trimmed to the batch's longest sentence";
  }
}

// FusedAdam against torch::optim::Adam: the same parameters and gradient sequence; dense
// gradients, and an embedding whose gradient arrives sparse on one side and dense on the other,
// with rows that a step does not touch (they must still decay and move, as in Adam).
TEST(FusedAdam, MatchesTorchAdamOnDenseAndSparseGradients) {
  torch::manual_seed(8);
  const auto w0 = torch::randn({7, 5}), b0 = torch::randn({5}), table0 = torch::randn({9, 4});
  auto run = [&](bool fused) {
    auto w = w0.clone().requires_grad_(true), b = b0.clone().requires_grad_(true);
    auto table = table0.clone().requires_grad_(true);
    std::unique_ptr<torch::optim::Optimizer> opt;
    if (fused) opt = std::make_unique<FusedAdam>(std::vector<torch::Tensor>{w, b, table}, torch::optim::AdamOptions(0.05));
    else opt = std::make_unique<torch::optim::Adam>(std::vector<torch::Tensor>{w, b, table}, torch::optim::AdamOptions(0.05));
    torch::manual_seed(9);
    for (int step = 0; step < 6; ++step) {
      for (auto* t : {&w, &b, &table}) t->mutable_grad() = torch::Tensor();
      const auto rows = step < 3 ? torch::tensor({1, 4, 4, 6}, torch::kLong) : torch::tensor({0, 6}, torch::kLong);
      auto x = torch::randn({rows.size(0), 7});
      auto emb = torch::nn::functional::embedding(rows, table, torch::nn::functional::EmbeddingFuncOptions().sparse(fused));
      ((x.mm(w) + b).pow(2).sum() + emb.pow(3).sum()).backward();
      EXPECT_EQ(table.grad().is_sparse(), fused);
      opt->step();
    }
    return std::vector<torch::Tensor>{w.detach(), b.detach(), table.detach()};
  };
  const auto fused = run(true), torch_adam = run(false);
  for (size_t i = 0; i < fused.size(); ++i) {
    EXPECT_TRUE(torch::allclose(fused[i], torch_adam[i], 1e-5, 1e-6))
        << "parameter " << i << ": max difference " << (fused[i] - torch_adam[i]).abs().max().item<double>();
    EXPECT_FALSE(torch::equal(fused[i], i == 0 ? w0 : (i == 1 ? b0 : table0))) << "parameter " << i << " moved";
  }
  // Rows 2, 3, 5, 7 and 8 never had a gradient: their moments stayed zero, so they did not move.
  for (int64_t r : {2, 3, 5, 7, 8}) EXPECT_TRUE(torch::equal(fused[2][r], table0[r])) << "row " << r;
  // Row 1 had gradients only in the first steps and still moved after them, as in Adam.
  EXPECT_TRUE(torch::allclose(fused[2][1], torch_adam[2][1], 1e-5, 1e-6));
}

// Saves `from`'s state as a checkpoint does and loads it into `into`.
void load_saved(torch::optim::Optimizer& from, torch::optim::Optimizer& into) {
  torch::serialize::OutputArchive out;
  from.save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  torch::serialize::InputArchive in;
  std::istringstream stream(bytes.str());
  in.load_from(stream);
  into.load(in);
}

// Loading `from`'s state into `into` is refused with a c10::Error whose text holds `part`.
void expect_load_refused(torch::optim::Optimizer& from, torch::optim::Optimizer& into, const std::string& part) {
  try {
    load_saved(from, into);
    ADD_FAILURE() << "loaded; expected a refusal saying: " << part;
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

// Saved after 3 steps and loaded into a new optimizer, FusedAdam continues exactly as if it had
// never stopped; clipping a sparse gradient scales it as the dense one.
TEST(FusedAdam, CheckpointResumesExactlyAndSparseClippingMatchesDense) {
  torch::manual_seed(10);
  const auto w0 = torch::randn({6, 3});
  auto steps = [](torch::Tensor& w, torch::optim::Optimizer& opt, int from, int to) {
    for (int s = from; s < to; ++s) {
      torch::manual_seed(100 + s);
      w.mutable_grad() = torch::randn(w.sizes());
      opt.step();
    }
  };
  auto w1 = w0.clone().requires_grad_(true);
  FusedAdam straight({w1}, torch::optim::AdamOptions(0.1));
  steps(w1, straight, 0, 6);
  auto w2 = w0.clone().requires_grad_(true);
  auto first = std::make_unique<FusedAdam>(std::vector<torch::Tensor>{w2}, torch::optim::AdamOptions(0.1));
  steps(w2, *first, 0, 3);
  FusedAdam second({w2}, torch::optim::AdamOptions(0.1));
  load_saved(*first, second);
  first.reset();
  steps(w2, second, 3, 6);
  EXPECT_TRUE(torch::equal(w1.detach(), w2.detach()));
  // torch's Adam state (an older checkpoint) is refused with a message that says what to do.
  torch::optim::Adam torch_adam({w2}, torch::optim::AdamOptions(0.1));
  expect_load_refused(torch_adam, second, "rerun this task from its start");

  for (double max_norm : {1e-2, 1e6}) {
    auto dense = torch::zeros({8, 3}).requires_grad_(true), sparse = torch::zeros({8, 3}).requires_grad_(true);
    const auto idx = torch::tensor({1, 5, 1, 2}, torch::kLong);
    const auto vals = torch::randn({4, 3});
    sparse.mutable_grad() = torch::sparse_coo_tensor(idx.unsqueeze(0), vals, {8, 3});
    dense.mutable_grad() = torch::zeros({8, 3}).index_add_(0, idx, vals);
    const auto n_dense = clip_grad_norm({dense}, max_norm), n_sparse = clip_grad_norm({sparse}, max_norm);
    EXPECT_NEAR(n_dense.item<double>(), n_sparse.item<double>(), 1e-5);
    EXPECT_TRUE(torch::allclose(sparse.grad().to_dense(), dense.grad(), 1e-5, 1e-7)) << max_norm;
  }
}

// DeviceAdam against torch::optim::Adam: the same parameters and gradients over 6 steps, with the
// learning rate changed after the third (as lr_decay does between epochs); then a checkpoint after
// 3 steps resumes exactly, and the step count travels with it (the bias corrections of steps 4-6
// are not those of steps 1-3).
TEST(DeviceAdam, MatchesTorchAdamAcrossALearningRateChangeAndResumesExactly) {
  torch::manual_seed(12);
  const auto w0 = torch::randn({7, 5}), b0 = torch::randn({5}), table0 = torch::randn({9, 4});
  auto grads_at = [](int step, const torch::Tensor& p) {
    torch::manual_seed(200 + step + 7 * p.size(0));
    return torch::randn(p.sizes());
  };
  auto run = [&](torch::optim::Optimizer& opt, std::vector<torch::Tensor>& ps, int from, int to) {
    for (int s = from; s < to; ++s) {
      for (auto& opt_group : opt.param_groups()) opt_group.options().set_lr(s < 3 ? 0.05 : 0.02);
      for (auto& p : ps) p.mutable_grad() = grads_at(s, p);
      opt.step();
    }
  };
  auto fresh = [&] {
    return std::vector<torch::Tensor>{w0.clone().requires_grad_(true), b0.clone().requires_grad_(true),
                                      table0.clone().requires_grad_(true)};
  };
  auto torch_ps = fresh(), device_ps = fresh(), resumed_ps = fresh();
  torch::optim::Adam torch_adam(torch_ps, torch::optim::AdamOptions(0.05));
  DeviceAdam device_adam(device_ps, torch::optim::AdamOptions(0.05));
  run(torch_adam, torch_ps, 0, 6);
  run(device_adam, device_ps, 0, 6);
  auto first = std::make_unique<DeviceAdam>(resumed_ps, torch::optim::AdamOptions(0.05));
  run(*first, resumed_ps, 0, 3);
  DeviceAdam second(resumed_ps, torch::optim::AdamOptions(0.05));
  load_saved(*first, second);
  first.reset();
  run(second, resumed_ps, 3, 6);
  for (size_t i = 0; i < torch_ps.size(); ++i) {
    const auto a = torch_ps[i].detach(), d = device_ps[i].detach();
    EXPECT_TRUE(torch::allclose(d, a, 1e-5, 1e-6)) << "parameter " << i << ": max difference " << (d - a).abs().max().item<double>();
    EXPECT_TRUE(torch::equal(resumed_ps[i].detach(), d)) << "parameter " << i << " after a resume";
    EXPECT_FALSE(torch::equal(d, i == 0 ? w0 : (i == 1 ? b0 : table0))) << "parameter " << i << " moved";
  }
  // FusedAdam's state (a CPU checkpoint) is refused with a message that says what to do.
  FusedAdam fused(fresh(), torch::optim::AdamOptions(0.05));
  expect_load_refused(fused, second, "rerun this task from its start");
}

// A CUDA graph's masks are redrawn in place into its static buffers: from the same generator
// state, the numbers draw_masks gives.
TEST(Buckets, MasksRedrawnInPlaceAreTheMasksDrawnAnew) {
  TinyExperiment x(false);
  ASSERT_GT(x.cfg.model.dropout, 0.0);
  torch::manual_seed(21);
  const DropoutMasks fresh = x.encoder->draw_masks(6, 9, torch::kCPU);
  DropoutMasks reused = x.encoder->draw_masks(6, 9, torch::kCPU);  // other numbers, the same shapes
  torch::manual_seed(21);
  x.encoder->redraw_masks(reused);
  EXPECT_TRUE(torch::equal(fresh.embedded, reused.embedded));
  EXPECT_TRUE(torch::equal(fresh.hidden, reused.hidden));
  EXPECT_TRUE(torch::equal(fresh.summary, reused.summary));
  EXPECT_FALSE(torch::equal(fresh.embedded, torch::ones_like(fresh.embedded))) << "no mask was drawn";
}

// A step's right answers: argmax against the label, padding rows (weight 0) not counted.
TEST(Buckets, RightAnswersCountRealRowsOnly) {
  const auto logits = torch::tensor({{2.0f, 1.0f}, {0.0f, 3.0f}, {1.0f, 0.0f}, {0.0f, 1.0f}});
  const auto labels = torch::tensor({0, 1, 1, 1}, torch::kLong);
  EXPECT_EQ(weighted_correct(logits, labels, torch::Tensor()).item<float>(), 3.0f);
  EXPECT_EQ(weighted_correct(logits, labels, torch::tensor({1.0f, 1.0f, 1.0f, 0.0f})).item<float>(), 2.0f);
}

// Why a step runs without a CUDA graph, in the order a user would fix it; "" only on a CUDA build
// with every condition met (not reachable on a CPU-only machine, so only the reasons are checked).
TEST(StepGraphs, SayWhyAStepRunsEagerly) {
  TrainConfig t;
  t.length_buckets = 4;
  ModelConfig m;
  m.lstm = LstmKernel::padded;
  EXPECT_NE(graph_unavailable(torch::kCPU, t, m, false, true).find("the device is a CPU"), std::string::npos);
#ifndef ANCHORSWEEP_WITH_CUDA
  EXPECT_NE(graph_unavailable(torch::Device("cuda:0"), t, m, false, true).find("built without CUDA"), std::string::npos);
#else
  const torch::Device gpu("cuda:0");
  EXPECT_EQ(graph_unavailable(gpu, t, m, false, true), "");
  EXPECT_NE(graph_unavailable(gpu, t, m, true, true).find("pretrain.ranks > 1"), std::string::npos);
  EXPECT_NE(graph_unavailable(gpu, t, m, false, false).find("not Adam"), std::string::npos);
  m.lstm = LstmKernel::fused;
  EXPECT_NE(graph_unavailable(gpu, t, m, false, true).find("model.lstm"), std::string::npos);
  t.length_buckets = 0;
  EXPECT_NE(graph_unavailable(gpu, t, m, false, true).find("pretrain.length_buckets = 0"), std::string::npos);
#endif
}

// A data-parallel group's evaluation: each member predicts its share of the chunks; together the
// shares are predict()'s answer, row for row, for 2 and 3 members and a last chunk cut short.
TEST(Evaluate, MembersSharesOfChunksMakeUpTheWholePrediction) {
  TinyExperiment x;
  x.encoder->eval();
  const auto whole = predict(x.encoder, x.a_train, 7);
  ASSERT_GT(x.a_train.size() % 7, 0) << "the last chunk should be short";
  for (int parts : {2, 3}) {
    std::vector<int64_t> joined(whole.size(), -1);
    for (int part = 0; part < parts; ++part) {
      const auto share = predict_share(x.encoder, x.a_train, part, parts, 7);
      ASSERT_EQ(share.size(), whole.size());
      int64_t mine = 0;
      for (size_t i = 0; i < share.size(); ++i) {
        if (share[i] < 0) continue;
        EXPECT_EQ(joined[i], -1) << "row " << i << " predicted by two members";
        EXPECT_EQ(static_cast<int64_t>(i / 7) % parts, part) << "row " << i << " is another member's";
        joined[i] = share[i];
        ++mine;
      }
      EXPECT_GT(mine, 0) << "member " << part << " of " << parts << " predicted nothing";
    }
    EXPECT_EQ(joined, whole) << parts << " members";
  }
}

// On a GPU (skipped elsewhere): two epochs stepped by CUDA graphs train what the eager step trains
// from the same weights, dropout included (the graph's masks are drawn outside it, in the eager
// step's order), and the run says which way it stepped.
TEST(StepGraphs, OnAGpuTheGraphsTrainWhatTheEagerStepTrains) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no GPU here";
  TinyExperiment x(false);
  TrainConfig cfg = x.cfg.pretrain;
  cfg.length_buckets = 4;
  cfg.epochs = 2;
  ModelConfig m = x.cfg.model;
  m.lstm = LstmKernel::padded;
  ASSERT_GT(m.dropout, 0.0);
  Encoder start(m, x.vocab.size(), x.corpus.num_classes());
  std::vector<std::vector<torch::Tensor>> weights;
  std::vector<std::string> steps;
  for (bool graphs : {true, false}) {
    if (graphs) ::unsetenv("ANCHORSWEEP_NO_CUDA_GRAPHS");
    else ::setenv("ANCHORSWEEP_NO_CUDA_GRAPHS", "1", 1);
    Encoder e(m, x.vocab.size(), x.corpus.num_classes());
    load_state_dict_bytes(*e, state_dict_bytes(*start));
    e->to(torch::Device("cuda:0"));
    const auto run = train_classifier(e, cfg, x.a_train, x.a_dev, nullptr, x.corpus.negative_index, 11);
    steps.push_back(run.step);
    weights.emplace_back();
    for (const auto& p : e->parameters()) weights.back().push_back(p.detach().cpu());
  }
  ::unsetenv("ANCHORSWEEP_NO_CUDA_GRAPHS");
  EXPECT_EQ(steps[0].rfind("cuda graphs (", 0), 0u) << steps[0];
  EXPECT_EQ(steps[1], "eager: ANCHORSWEEP_NO_CUDA_GRAPHS is set");
  for (size_t i = 0; i < weights[0].size(); ++i)
    EXPECT_TRUE(torch::allclose(weights[0][i], weights[1][i], 1e-4, 1e-6))
        << "parameter " << i << ": " << (weights[0][i] - weights[1][i]).abs().max().item<double>();
}

// The anchor file comes from elsewhere: before LibTorch's unpickler (which has known memory-safety
// bugs on crafted input) reads it, its size and its zip header are checked.
TEST(Adapter, AnchorFileIsCheckedBeforeUnpickling) {
  char tmpl[] = "/tmp/anchorsweep-anchor-file-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
    return AnchorSpec{AnchorKind::file, dir + "/" + name};
  };
  const auto saved = torch::pickle_save(torch::eye(4, 10));
  const auto good = make_anchor(write("good.pt", std::string(saved.begin(), saved.end())), 4, 10);
  EXPECT_TRUE(torch::equal(good, torch::eye(4, 10)));
  auto refusal = [&](const AnchorSpec& spec) {
    try {
      make_anchor(spec, 4, 10);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(refusal(write("text.pt", "hello")).find("adapter.anchor: not a file saved by torch.save (no zip header)"), std::string::npos);
  const std::string huge = "PK\x03\x04" + std::string((1 << 20) + 4 * 10 * 8, 'x');
  EXPECT_NE(refusal(write("huge.pt", huge)).find("more than the"), std::string::npos) << refusal(write("huge.pt", huge));
}

// FusedAdam's moments from a checkpoint of another model are refused, not broadcast.
TEST(FusedAdam, MomentsOfAnotherShapeAreRefused) {
  auto w = torch::randn({6, 3}).requires_grad_(true);
  FusedAdam first({w}, torch::optim::AdamOptions(0.1));
  w.mutable_grad() = torch::ones({6, 3});
  first.step();
  auto other = torch::randn({3, 6}).requires_grad_(true);  // as many parameters, another shape
  FusedAdam second({other}, torch::optim::AdamOptions(0.1));
  expect_load_refused(first, second, "the checkpoint belongs to another model");
}

// pretrain.length_buckets (train/buckets.hpp): widths at length quantiles; a batch padded with
// rows that weigh nothing and to a wider bucket gives the gradient of its real rows alone.
TEST(Buckets, WidthsAreLengthQuantilesAndTheLongestFitsTheLast) {
  const auto lengths = torch::tensor({20, 3, 5, 30, 5, 8, 12, 10}, torch::kLong);
  EXPECT_EQ(bucket_widths(lengths, 4), (std::vector<int64_t>{5, 8, 12, 30}));
  EXPECT_EQ(bucket_widths(lengths, 1), (std::vector<int64_t>{30}));
  EXPECT_EQ(bucket_widths(torch::tensor({7, 7, 7}, torch::kLong), 3), (std::vector<int64_t>{7}));  // distinct
  const std::vector<int64_t> widths = {5, 8, 12, 30};
  EXPECT_EQ(bucket_width(widths, 9), 12);
  EXPECT_EQ(bucket_width(widths, 5), 5);
  EXPECT_EQ(bucket_width(widths, 1), 5);
  const PaddedRows p = pad_rows(RowIndex(torch::tensor({4, 2, 9}, torch::kLong)), 5);
  EXPECT_TRUE(torch::equal(p.index.host, torch::tensor({4, 2, 9, 4, 4}, torch::kLong)));
  EXPECT_TRUE(torch::equal(p.weights, torch::tensor({1.f, 1.f, 1.f, 0.f, 0.f})));
  EXPECT_EQ(p.real, 3);
  EXPECT_EQ(pad_rows(RowIndex(torch::tensor({1, 2}, torch::kLong)), 2).index.host.numel(), 2) << "a full batch stays";
}

TEST(Buckets, PaddedRowsAndPositionsGiveNoGradient) {
  TinyExperiment x(false);
  x.encoder->eval();  // no dropout: the two batches must see the same network
  const RowIndex idx(torch::tensor({3, 0, 7, 12, 5}, torch::kLong));
  auto grads = [&](bool padded) {
    for (auto& p : x.encoder->parameters()) p.mutable_grad() = torch::Tensor();
    torch::Tensor loss;
    if (padded) {
      const PaddedRows p = pad_rows(idx, 9);  // 4 padding rows
      // A wider bucket: the split's full width (its longest sentence), past this batch's own.
      const int64_t wide = x.a_train.all.tokens.size(1);
      EXPECT_GT(wide, x.a_train.width_of(idx.host)) << "the test needs padded columns";
      const auto batch = x.a_train.rows(p.index, wide);
      EXPECT_EQ(batch.tokens.size(0), 9);
      loss = weighted_cross_entropy(x.encoder->forward(batch).logits, batch.labels, p.weights, p.real);
    } else {
      const auto batch = x.a_train.rows(idx);
      loss = torch::nn::functional::cross_entropy(x.encoder->forward(batch).logits, batch.labels);
    }
    loss.backward();
    std::vector<torch::Tensor> g;
    for (auto& p : x.encoder->parameters()) g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
    return std::make_pair(loss.item<double>(), g);
  };
  const auto [plain_loss, plain] = grads(false);
  const auto [padded_loss, padded] = grads(true);
  EXPECT_NEAR(plain_loss, padded_loss, 1e-6);
  ASSERT_EQ(plain.size(), padded.size());
  const auto names = x.encoder->named_parameters().keys();
  for (size_t i = 0; i < plain.size(); ++i) {
    // attn_v.bias shifts every attention score alike and softmax ignores a shift: its gradient is
    // 0 in exact arithmetic, rounding noise in both (as in group_test).
    if (names[i] == "attn_v.bias") continue;
    const double scale = std::max(plain[i].abs().max().item<double>(), 1e-8);
    EXPECT_LE((plain[i] - padded[i]).abs().max().item<double>() / scale, 1e-5) << names[i];
  }
}
