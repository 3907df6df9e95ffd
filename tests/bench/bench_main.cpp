// anchorsweep_bench: benchmarks that print figures (never part of the test suite).
//
//   anchorsweep_bench blas-check                 GFLOP/s of a LibTorch matrix product, and which BLAS
//   anchorsweep_bench finetune SIZE MODE [G]     finetune-stage throughput in trial-epochs/s
//        SIZE: demo | tacred     MODE: naive | cached     G: adapters per pass (cached only)
//   anchorsweep_bench export SIZE DIR            the synthetic corpus as TACRED JSON (for tests/bench/pytorch_pretrain.py)
//
// Every command ends with its peak RSS.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "common/files.hpp"
#include "data/example.hpp"
#include "data/tensors.hpp"
#include "data/vocab.hpp"
#include "model/adapter.hpp"
#include "model/encoder.hpp"
#include "train/adapter_training.hpp"
#include "train/features.hpp"
#include "sweep/placement.hpp"

using namespace anchorsweep;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

// The two sizes of the benchmark: the demo's, and TACRED's (68,124 B-train sentences,
// 42 classes, H = 200, so the adapter is 42 x 242).
SweepConfig bench_config(const std::string& size) {
  SweepConfig cfg;
  auto& s = cfg.data.synthetic;
  if (size == "tacred") {
    s.a_train = 2000;  // the encoder only needs to exist: features, not accuracy, are timed
    s.a_dev = 200;
    s.b_train = 68124;
    s.b_dev = 22631;
    s.b_test = 15509;
    s.vocab_size = 20000;
    cfg.model.word_dim = 300;
    cfg.model.hidden = 200;
    cfg.model.attn_dim = 200;
    cfg.model.pos_dim = 30;
  } else {
    s.a_train = 4000;
    s.a_dev = 300;
    s.b_train = 500;
    s.b_dev = 300;
    s.b_test = 300;
    cfg.model.word_dim = 50;
    cfg.model.hidden = 64;
    cfg.model.attn_dim = 64;
    cfg.model.pos_dim = 10;
  }
  s.num_classes = 42;
  cfg.finetune.batch_size = 50;
  cfg.finetune.lr = 0.01;
  return cfg;
}

int blas_check() {
  const int64_t n = 1024;
  auto a = torch::randn({n, n}), b = torch::randn({n, n});
  torch::mm(a, b);  // warm up
  const int reps = 10;
  auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) torch::mm(a, b);
  const double gflops = reps * 2.0 * n * n * n / since(t0) / 1e9;
  std::string blas = "unknown";
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);)
    if (line.find("blas") != std::string::npos || line.find("mkl") != std::string::npos) {
      blas = line.substr(line.find('/'));
      break;
    }
  const std::string core = anchorsweep::openblas_core();
  std::printf("blas-check: %.1f GFLOP/s for a %lldx%lld float matrix product with %d threads; BLAS: %s%s\n", gflops,
              (long long)n, (long long)n, torch::get_num_threads(), blas.c_str(),
              core.empty() ? "" : (", OpenBLAS kernels " + core).c_str());
  if (blas.find("openblas") == std::string::npos && blas.find("mkl") == std::string::npos) {
    std::printf("blas-check: FAILED: LibTorch is not using OpenBLAS (reference BLAS runs ~35x slower)\n");
    return 1;
  }
  return 0;
}

// Waits for the device, so that a timer read next covers the work queued before it.
void sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

int finetune(const std::string& size, const std::string& mode, int64_t G, const torch::Device& device) {
  auto cfg = bench_config(size);
  auto t0 = Clock::now();
  Corpus corpus = generate_synthetic(cfg.data.synthetic, cfg.data.negative_label);
  auto vocab = Vocabulary::build({&corpus.a_train, &corpus.b_train}, 1, true);
  auto b_train = encode(corpus.b_train, vocab, corpus, true).to(device);
  auto b_dev = encode(corpus.b_dev, vocab, corpus, true).to(device);
  auto b_test = encode(corpus.b_test, vocab, corpus, true).to(device);
  std::printf("data: %lld B-train sentences, %lld classes, H = %lld (%.1f s to generate and encode)\n",
              (long long)b_train.size(), (long long)corpus.num_classes(), (long long)cfg.model.hidden, since(t0));
  torch::manual_seed(1);
  Encoder encoder(cfg.model, vocab.size(), corpus.num_classes());
  encoder->to(device);
  freeze(*encoder);
  const int64_t K = corpus.num_classes(), D = K + cfg.model.hidden;
  auto anchor = make_anchor(AnchorSpec{}, K, D).to(device);
  AdapterSetup setup{&cfg.finetune, &cfg.penalty, AdapterInit::random, anchor, corpus.negative_index, 7};
  std::vector<double> lambdas;
  for (int64_t g = 0; g < G; ++g) lambdas.push_back(g == 0 ? 0.0 : std::pow(10.0, -4 + 5.0 * g / G));

  if (mode == "naive") {
    // The original path: the frozen LSTM runs at every step. One epoch of one trial is
    // enough to time it (and at TACRED size, one epoch is already minutes).
    LiveFeatures live(encoder, b_train, b_dev, b_test, false);
    cfg.finetune.epochs = 1;
    auto t1 = Clock::now();
    train_adapters(setup, {0.01}, live);
    sync(device);
    const double s = since(t1);
    std::printf("finetune %s naive: 1 trial-epoch in %.2f s -> %.4f trial-epochs/s\n", size.c_str(), s, 1.0 / s);
  } else {
    auto t1 = Clock::now();
    CachedFeatures cached(encoder, b_train, b_dev, b_test);
    sync(device);
    const double cache_s = since(t1);
    const auto bytes = (b_train.size() + b_dev.size() + b_test.size()) * D * 4;
    cfg.finetune.epochs = size == "tacred" ? 2 : 10;
    auto t2 = Clock::now();
    train_adapters(setup, lambdas, cached);
    sync(device);
    const double s = since(t2);
    const double rate = G * cfg.finetune.epochs / s;
    std::printf("finetune %s cached G=%lld: feature cache %.1f s (%.1f MB), then %lld trials x %lld epochs in %.2f s -> %.2f trial-epochs/s\n",
                size.c_str(), (long long)G, cache_s, bytes / 1e6, (long long)G, (long long)cfg.finetune.epochs, s, rate);
  }
  std::printf("peak RSS: %.0f MB\n", peak_rss_mb());
  return 0;
}

int export_corpus(const std::string& size, const std::string& dir) {
  auto cfg = bench_config(size);
  Corpus corpus = generate_synthetic(cfg.data.synthetic, cfg.data.negative_label);
  make_dirs(dir);
  for (const Split* s : {&corpus.a_train, &corpus.a_dev, &corpus.b_train, &corpus.b_dev, &corpus.b_test}) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& ex : s->examples)
      arr.push_back({{"token", ex.tokens}, {"relation", ex.label}, {"subj_start", ex.subj_start}, {"subj_end", ex.subj_end},
                     {"obj_start", ex.obj_start}, {"obj_end", ex.obj_end}, {"subj_type", ex.subj_type}, {"obj_type", ex.obj_type}});
    write_file_atomic(dir + "/" + s->name + ".json", arr.dump());
  }
  std::printf("wrote %s/{a_train,a_dev,b_train,b_dev,b_test}.json\n", dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  anchorsweep::tune_cpu_libraries(argv);  // the OpenMP wait and OpenBLAS kernels `anchorsweep run` gets
  // The same thread count a one-rank sweep uses: every core of the machine.
  torch::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  try {
    if (cmd == "blas-check") return blas_check();
    if (cmd == "finetune" && argc >= 4)
      return finetune(argv[2], argv[3], argc > 4 ? std::atoll(argv[4]) : 1, torch::Device(argc > 5 ? argv[5] : "cpu"));
    if (cmd == "export" && argc == 4) return export_corpus(argv[2], argv[3]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "anchorsweep_bench: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: anchorsweep_bench blas-check | finetune demo|tacred naive|cached [G [DEVICE]] | export demo|tacred DIR\n");
  return 2;
}
