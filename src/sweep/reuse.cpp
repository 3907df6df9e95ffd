#include "sweep/reuse.hpp"

#include <cctype>
#include <iostream>
#include <optional>

#include "comm/versions.hpp"
#include "common/files.hpp"
#include "rundir/run_directory.hpp"
#include "rundir/run_writer.hpp"
#include "sweep/plan.hpp"

namespace anchorsweep {

namespace {

// "cuda:1 (NVIDIA H100)" -> "cuda (NVIDIA H100)": which GPU of a node does not change the bits.
std::string device_kind(const std::string& device) {
  if (device.rfind("cuda:", 0) != 0) return device;
  size_t i = 5;
  while (i < device.size() && std::isdigit(static_cast<unsigned char>(device[i]))) ++i;
  return "cuda" + device.substr(i);
}

bool is_data_path(const std::string& key) {
  for (const char* k : {"data.a_train", "data.a_dev", "data.b_train", "data.b_dev", "data.b_test"})
    if (key == k) return true;
  return false;
}

std::vector<std::string> common_fields(const SweepConfig& cfg, const nlohmann::json& data_files, int64_t seed,
                                       const StoreFacts& f, const std::vector<std::string>& files) {
  std::vector<std::string> out = {"seed = " + std::to_string(seed), "anchorsweep = " + f.anchorsweep,
                                  "libtorch = " + f.libtorch, "device = " + f.device, "blas = " + f.blas,
                                  "threads = " + std::to_string(f.threads)};
  for (const auto& [key, value] : flatten_toml(cfg.resolved_toml))
    if ((key.rfind("model.", 0) == 0 || key.rfind("pretrain.", 0) == 0 || key.rfind("data.", 0) == 0) && !is_data_path(key))
      out.push_back(key + " = " + value);
  for (const auto& k : files)
    if (data_files.contains(k))
      out.push_back("data." + k + " content = " + std::to_string(data_files[k].value("size", uint64_t{0})) + " bytes, FNV-1a " +
                    data_files[k].value("fnv1a", std::string()));
  return out;
}

struct Lookup {
  std::string type;  // "pretrain" or "scratch"
  int64_t seed = 0;
  std::string trial_id;  // scratch: its trial's id
  StoreKey key;
  std::optional<StoreEntry> entry;
  std::string problem;
};

// What the store holds of this run's plan, less what the run directory already has.
std::vector<Lookup> look_up(const SweepConfig& cfg, const nlohmann::json& data_files, const std::set<int64_t>& pretrained,
                            const std::set<std::string>& done, const StoreFacts& rank0) {
  std::vector<Lookup> out;
  if (!cfg.run.store_enabled() || cfg.data.format == DataFormat::features) return out;
  const EncoderStore store(cfg.run.encoder_store_path());
  for (const Task& t : make_plan(cfg, 1).tasks) {
    Lookup l;
    l.seed = t.seed;
    if (t.type == TaskType::pretrain && !pretrained.count(t.seed)) {
      l.type = "pretrain";
      l.key = pretrain_store_key(cfg, data_files, t.seed, rank0);
    } else if (t.type == TaskType::scratch && !t.trials.empty() && !done.count(t.trials.front().id())) {
      l.type = "scratch";
      l.trial_id = t.trials.front().id();
      l.key = scratch_store_key(cfg, data_files, t.seed, rank0);
    } else {
      continue;
    }
    l.entry = store.get(l.key.hash, &l.problem);
    out.push_back(std::move(l));
  }
  return out;
}

std::string what(const Lookup& l) {
  return l.type == "pretrain" ? "seed " + std::to_string(l.seed) + "'s encoder" : "seed " + std::to_string(l.seed) + "'s scratch baseline";
}

}  // namespace

StoreFacts store_facts(const nlohmann::json& p) {
  StoreFacts f;
  // One build on every rank (the wire format's version sees to it): this process's versions.
  f.anchorsweep = comm::anchorsweep_version() + " (commit " + comm::git_commit() + ")";
  f.libtorch = comm::libtorch_version();
  f.device = device_kind(p.value("device", std::string("cpu")));
  const std::string blas = p.value("blas_kernels", std::string());
  f.blas = blas.substr(0, blas.find(" ("));  // the kernels, not why they were chosen
  f.threads = p.value("threads", int64_t{1});
  return f;
}

StoreKey pretrain_store_key(const SweepConfig& cfg, const nlohmann::json& data_files, int64_t seed, const StoreFacts& f) {
  auto fields = common_fields(cfg, data_files, seed, f, {"a_train", "a_dev", "b_train"});
  fields.push_back("kind = pretrain");
  return make_store_key(std::move(fields));
}

StoreKey scratch_store_key(const SweepConfig& cfg, const nlohmann::json& data_files, int64_t seed, const StoreFacts& f) {
  auto fields = common_fields(cfg, data_files, seed, f, {"a_train", "a_dev", "b_train", "b_dev", "b_test"});
  fields.push_back("kind = scratch");
  return make_store_key(std::move(fields));
}

std::vector<std::string> reuse_from_store(const SweepConfig& cfg, RunDirectory& dir, const StoreFacts& rank0) {
  std::vector<std::string> notes;
  const auto& prior = dir.prior();
  auto lookups = look_up(cfg, dir.data_files(), prior.pretrained_seeds, prior.done_trials, rank0);
  const EncoderStore store(cfg.run.encoder_store_path());
  for (auto& l : lookups) {
    if (!l.entry) {
      if (!l.problem.empty())
        notes.push_back("encoder store: " + l.problem + ": not used; " + what(l) + " is trained again and replaces it");
      continue;
    }
    nlohmann::json record = l.entry->info.at("record");
    const std::string from = l.entry->info.value("made_by", std::string("?"));
    record["store_key"] = l.key.hash;
    record["reused_from"] = from;
    if (l.type == "pretrain")
      dir.adopt_pretrain(l.seed, l.entry->payload, record);
    else
      dir.adopt_trial(l.trial_id, l.entry->payload, record);
    try {
      store.note_use(l.key.hash, dir.path());
    } catch (const std::exception& e) {
      notes.push_back("encoder store: " + std::string(e.what()) + " (the reuse stands)");
    }
    notes.push_back(what(l) + " reused from the encoder store (" + store.path() + "/" + l.key.hash + ", made by " + from +
                    "): not trained again");
  }
  return notes;
}

std::vector<std::string> describe_reuse(const SweepConfig& cfg, const std::set<int64_t>& pretrained,
                                        const std::set<std::string>& done, const StoreFacts& rank0) {
  if (!cfg.run.store_enabled()) return {"encoder store: off (run.encoder_store = \"none\")"};
  std::vector<std::string> out;
  for (const auto& l : look_up(cfg, data_fingerprints(cfg), pretrained, done, rank0)) {
    if (l.entry)
      out.push_back(what(l) + ": reused from the encoder store (" + cfg.run.encoder_store_path() + "/" + l.key.hash +
                    ", made by " + l.entry->info.value("made_by", std::string("?")) + ")");
    else
      out.push_back(what(l) + ": not in the encoder store" + (l.problem.empty() ? "" : " (broken entry: " + l.problem + ")") +
                    ": trained");
  }
  return out;
}

StoreFiler::StoreFiler(const SweepConfig& cfg, nlohmann::json data_files, std::vector<StoreFacts> rank_facts,
                       std::string run_dir, RunWriter& writer)
    : cfg_(cfg), data_files_(std::move(data_files)), facts_(std::move(rank_facts)), run_dir_(std::move(run_dir)),
      writer_(writer) {
  if (cfg.run.store_enabled() && cfg.data.format != DataFormat::features)
    store_ = std::make_shared<EncoderStore>(cfg.run.encoder_store_path());
}

void StoreFiler::file(const std::string& type, int64_t seed, int64_t rank, const nlohmann::json& record,
                      std::shared_ptr<const std::vector<char>> payload) {
  if (!store_ || rank < 0 || rank >= static_cast<int64_t>(facts_.size())) return;
  const StoreFacts& f = facts_[rank];  // the rank that trained it (a group's leader)
  const StoreKey key = type == "pretrain" ? pretrain_store_key(cfg_, data_files_, seed, f) : scratch_store_key(cfg_, data_files_, seed, f);
  auto store = store_;
  const std::string made_by = run_dir_;
  writer_.write([store, key, type, seed, record, payload, made_by] {
    try {
      store->put(key, type, seed, record, *payload, made_by);
    } catch (const std::exception& e) {
      std::cerr << "anchorsweep: encoder store: " << e.what() << "; the sweep goes on without storing it" << std::endl;
    }
  });
}

}  // namespace anchorsweep
