// EncoderStore: pretrained encoders (and scratch baselines) shared across sweeps, the way a
// build cache shares object files. A sweep that asks the next question about the adapter
// (another penalty mode, init, λ range, adapter learning rate) reuses every encoder whose bits
// would come out the same, instead of pretraining again.
//
//   STORE/<key>/entry.json   what the key covers (its fields), the journal record (a pretrain
//                            record, or a scratch trial), the payload's size and FNV-1a, when and
//                            by which run it was made
//   STORE/<key>/payload.pt   the encoder's state dict (pretrain), or the scratch model
//   STORE/<key>/uses.jsonl   one line per run that reused it
//
// The key is the FNV-1a of its fields (StoreKey): everything that decides the bits. An entry is
// written as the run directory writes: into a temporary folder, fsynced, renamed into place,
// the store fsynced. Two sweeps writing one key both succeed; the first rename wins. A payload
// whose size or hash disagrees with entry.json is reported and never used. Only rank 0 reads
// and writes the store: no file system shared between nodes is assumed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace anchorsweep {

struct StoreKey {
  std::string hash;                 // 16 hex digits: the entry's folder name
  std::vector<std::string> fields;  // "name = value", sorted: what the hash covers
};

// Makes a key of `fields` (sorted here).
StoreKey make_store_key(std::vector<std::string> fields);

struct StoreEntry {
  std::string key;
  nlohmann::json info;        // entry.json
  std::vector<char> payload;  // payload.pt
};

// What `anchorsweep store` lists of an entry.
struct StoreEntryInfo {
  std::string key, kind, made_by;
  int64_t seed = 0;
  uint64_t bytes = 0;         // the entry's files together
  double age_s = 0;           // since it was made
  std::vector<std::string> fields;
  std::vector<std::string> used_by;  // runs that reused it
  std::string problem;        // why it is unreadable, "" when fine
};

class EncoderStore {
 public:
  explicit EncoderStore(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }

  // The entry under `key`: nullopt on a miss, and on a broken entry, with the reason in
  // `problem` (a payload of other size or bytes than entry.json says, an unreadable file).
  std::optional<StoreEntry> get(const std::string& key, std::string* problem) const;

  // Stores an entry (see the top). A valid entry already under `key` stays (it has the same
  // bits, by the key's definition); a broken one is replaced. Throws std::runtime_error when the
  // store cannot be written.
  void put(const StoreKey& key, const std::string& kind, int64_t seed, const nlohmann::json& record,
           const std::vector<char>& payload, const std::string& made_by);

  // Appends `run_dir` to the entry's uses.jsonl (fsynced).
  void note_use(const std::string& key, const std::string& run_dir) const;

  std::vector<StoreEntryInfo> list() const;  // oldest first
  void remove(const std::string& key) const;

 private:
  std::string entry_dir(const std::string& key) const { return path_ + "/" + key; }
  std::string path_;
};

}  // namespace anchorsweep
