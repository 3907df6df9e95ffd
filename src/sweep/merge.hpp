// anchorsweep merge OUT RUN_DIR...: the shards of one sweep (run.shard = "i/n", the tasks of a
// SLURM job array) joined into one complete run directory, on which `report` and `--resume` work
// as on any other.
//
// The shards must hold the same resolved config but for run.shard, and the same data files.
// OUT gets config.toml without the shard line (so `run CONFIG --resume` with the unsharded
// config accepts it when OUT is that config's run directory), one journal with every trial
// once, the encoders and trial checkpoints (hard links where the filesystem allows, else
// copies), and a run.json that says which shards it came from.
#pragma once

#include <string>
#include <vector>

namespace anchorsweep {

struct MergeResult {
  std::string out_dir;
  int64_t shards = 0, shard_count = 0;
  int64_t trials = 0;                      // trial records in the merged journal
  std::vector<std::string> duplicates;     // "s1-lam0.1: in A and B; kept A's"
  std::vector<std::string> missing_shards; // "2/3"
  std::vector<std::string> gaps;           // planned trial ids with no ok record
  int64_t linked = 0, copied = 0;          // checkpoint files
};

// Throws InputError when a directory is not a shard, the configs or data differ, a shard is
// given twice, the shard counts differ, or OUT exists and is not empty.
MergeResult merge_shards(const std::string& out_dir, const std::vector<std::string>& shard_dirs);

// The text of a resolved config without its [run] shard line (what the unsharded run writes).
std::string without_shard_line(const std::string& resolved_toml);

}  // namespace anchorsweep
