// Reuse: the encoder store (rundir/encoder_store.hpp) seen from a sweep. Before planning, rank 0
// looks up every pretraining and scratch baseline the run plans and has not done; a hit is
// copied into the run directory with its journal line (marked with the store key and the run
// that made it), and the plan leaves it out. After the sweep trains one, the same key files it
// in the store, from the writer thread.
//
// A key covers everything that decides the bits (StoreFacts and the config below); so a reuse is
// exact, and a miss is expected wherever any of it differs (another node's BLAS kernels, another
// thread count, another LibTorch). docs/encoder-store.md says it for users.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.hpp"
#include "rundir/encoder_store.hpp"

namespace anchorsweep {

class RunDirectory;
class RunWriter;

// What decides a trained model's floating-point result besides the config: this build's
// versions, and of the rank that trains it (its entry of run.json's rank_placement) the device
// kind, BLAS kernels and thread count.
struct StoreFacts {
  std::string anchorsweep, libtorch, device, blas;
  int64_t threads = 1;
};
StoreFacts store_facts(const nlohmann::json& rank_placement);

// The store keys. Both cover: the seed; every resolved model.*, pretrain.* (the group size
// included) and data.* key but the data paths; the data files' contents (A train and dev, and B
// train, which the vocabulary reads) by size and FNV-1a; and the facts. A scratch baseline also
// covers B dev and test, on which its metrics are measured.
StoreKey pretrain_store_key(const SweepConfig& cfg, const nlohmann::json& data_files, int64_t seed, const StoreFacts& f);
StoreKey scratch_store_key(const SweepConfig& cfg, const nlohmann::json& data_files, int64_t seed, const StoreFacts& f);

// Rank 0, before planning: adopts into `dir` what the store holds of this run's plan. Returns one
// line per seed for the console ("seed 1: encoder and scratch baseline reused from ...").
std::vector<std::string> reuse_from_store(const SweepConfig& cfg, RunDirectory& dir, const StoreFacts& rank0);

// The dry run's account of the same, touching nothing: `pretrained` and `done` are what the run
// directory already holds.
std::vector<std::string> describe_reuse(const SweepConfig& cfg, const std::set<int64_t>& pretrained,
                                        const std::set<std::string>& done, const StoreFacts& rank0);

// Files each ok pretraining and scratch baseline of the sweep in the store, on the writer's
// thread; a store that cannot be written warns and the sweep goes on.
class StoreFiler {
 public:
  StoreFiler(const SweepConfig& cfg, nlohmann::json data_files, std::vector<StoreFacts> rank_facts, std::string run_dir,
             RunWriter& writer);
  // type: "pretrain" or "scratch"; `record` as journaled; `payload`: the encoder or scratch model.
  void file(const std::string& type, int64_t seed, int64_t rank, const nlohmann::json& record,
            std::shared_ptr<const std::vector<char>> payload);

 private:
  const SweepConfig& cfg_;
  nlohmann::json data_files_;
  std::vector<StoreFacts> facts_;
  std::string run_dir_;
  RunWriter& writer_;
  std::shared_ptr<EncoderStore> store_;
};

}  // namespace anchorsweep
