#include "config/keys.hpp"

#include <algorithm>
#include <map>

#include "config/config.hpp"

namespace anchorsweep {

namespace {

template <class E>
std::string one_of() {
  return "one of " + names_list<E>();
}

std::string escape_cell(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

}  // namespace

const std::vector<KeyDoc>& config_keys() {
  static const std::vector<KeyDoc> keys = {
      {"run.name", "string", "the run directory is `output_dir/name`; file-safe (`[A-Za-z0-9._-]`, not starting with `-`), at most 128 characters", "the config file's name (`configs/demo.toml` → `demo`)"},
      {"run.output_dir", "string", "where run directories go", ""},
      {"run.seeds", "list of integers", "the seeds; a list of integers ≥ 0, not empty, no duplicates", ""},
      {"run.threads", "integer", "intra-op threads per rank (≤ 1024); 0 = the CPUs the rank has (see [clusters.md](clusters.md#placement)). Part of the arithmetic: set it for bit-identical results across rank counts", ""},
      {"run.lock", one_of<LockMode>(), "`flock` keeps a second sweep off a run directory; `none` is for file systems that cannot lock (Lustre mounted `noflock`, NFSv3 without lockd): then nothing does, and you must (see [run-directory.md](run-directory.md#resume-change-lock))", ""},
      {"run.encoder_transfer", one_of<EncoderTransfer>(), "how a rank that finetunes a seed gets its pretrained encoder: `auto` reads it from the run directory where that rank sees rank 0's (a shared file system, checked at start-up by a probe file; size and FNV-1a are checked on every read), and gets the bytes from rank 0 otherwise; `bytes`: always from rank 0 over MPI ([scaling.md](scaling.md#encoder-fan-out))", ""},
      {"run.rank_timeout_s", "number", "seconds (0 to 86400) after which rank 0 takes another rank for lost: no heartbeat from it (killed, OOM-killed, stopped, cut off), or its training thread stuck (a hung file system read or GPU). The task it ran is journaled as failed and the job ends with exit 1; `--resume` completes it. 0 = never (see [clusters.md](clusters.md#lost-ranks))", ""},
      {"run.encoder_store", "path", "by default the folder `encoder-store` in `run.output_dir`: where pretrained encoders and scratch baselines are kept for later sweeps to reuse (a sweep that changes only the adapter, penalty or λ pretrains nothing); a project-wide folder on a shared file system works; `\"none\"` turns reuse off (see [encoder-store.md](encoder-store.md))", "`output_dir/encoder-store`"},
      {"run.shard", "string \"i/n\"", "`\"i/n\"`: run part i of n of the plan in `output_dir/name-shard<i>of<n>` (the same as `run --shard i/n`; see [run-directory.md](run-directory.md#job-arrays-shards-and-merge))", "(none)"},
      {"data.format", one_of<DataFormat>(), "what the data files are, or `synthetic` for generated data ([real-data.md](real-data.md) describes each)", ""},
      {"data.a_train", "path", "data set A's files, relative to the config file; required unless the format is `synthetic`; refused with `features` (there is no A)", "(none)"},
      {"data.a_dev", "path", "data set A's files, relative to the config file; required unless the format is `synthetic`; refused with `features` (there is no A)", "(none)"},
      {"data.b_train", "path", "data set B's files, relative to the config file; required unless the format is `synthetic`", "(none)"},
      {"data.b_dev", "path", "data set B's files, relative to the config file; required unless the format is `synthetic`", "(none)"},
      {"data.b_test", "path", "data set B's files, relative to the config file; required unless the format is `synthetic`", "(none)"},
      {"data.negative_label", "string", "the label micro-F1 leaves out; must occur in A-train", ""},
      {"data.min_word_count", "integer", "training words rarer than this map to UNK", ""},
      {"data.max_tokens", "integer", "longer sentences are cut around their two entities (≥ 8)", ""},
      {"data.synthetic.a_train", "integer", "sizes of A's splits", ""},
      {"data.synthetic.a_dev", "integer", "sizes of A's splits", ""},
      {"data.synthetic.b_train", "integer", "sizes of B's splits", ""},
      {"data.synthetic.b_dev", "integer", "sizes of B's splits", ""},
      {"data.synthetic.b_test", "integer", "sizes of B's splits", ""},
      {"data.synthetic.num_classes", "integer", "labels, the negative one included (≥ 2)", ""},
      {"data.synthetic.negative_fraction", "float", "share of examples with the negative label, in [0, 1)", ""},
      {"data.synthetic.domain_shift", "float", "in [0, 1]: the share of each relation's cue words that B replaces", ""},
      {"data.synthetic.vocab_size", "integer", "≥ 50", ""},
      {"data.synthetic.min_len", "integer", "sentence length range (≥ 3, min ≤ max)", ""},
      {"data.synthetic.max_len", "integer", "sentence length range (≥ 3, min ≤ max)", ""},
      {"data.synthetic.data_seed", "integer", "the generator's seed; independent of `run.seeds`", ""},
      {"model.word_dim", "integer", "word embedding width", ""},
      {"model.pos_dim", "integer", "subject/object relative-position embedding width", ""},
      {"model.entity_masking", "boolean", "replace entity tokens by `SUBJ-<type>` / `OBJ-<type>`", ""},
      {"model.hidden", "integer", "LSTM hidden size per direction (H)", ""},
      {"model.layers", "integer", "LSTM layers (≤ 16)", ""},
      {"model.bidirectional", "boolean", "a second LSTM direction; the summary is then 2H wide", ""},
      {"model.attention", one_of<Attention>(), "the PA-LSTM attention over the LSTM states, or `none` (the summary is then the last hidden state)", ""},
      {"model.attn_dim", "integer", "width of the attention's tanh layer", ""},
      {"model.dropout", "float", "in [0, 1)", ""},
      {"model.lstm", one_of<LstmKernel>(), "`fused`: the CPU kernels of [performance.md](performance.md#pretraining-speed) for one layer and one direction on the CPU | `aten`: always nn::LSTM on a packed sequence (cuDNN's packed LSTM on a GPU) and the padded attention | `padded`: nn::LSTM over each batch's whole padded width, states past each sentence's end masked; one direction only; the static shapes a CUDA graph needs ([performance.md](performance.md#cuda-graphs)). GPUs, two layers and two directions use nn::LSTM under `fused`", ""},
      {"pretrain.epochs", "integer", "≤ 100,000", ""},
      {"finetune.epochs", "integer", "≤ 100,000", ""},
      {"pretrain.batch_size", "integer", "≤ 1,000,000", ""},
      {"finetune.batch_size", "integer", "≤ 1,000,000", ""},
      {"pretrain.optimizer", one_of<Optimizer>(), "the optimizer", ""},
      {"finetune.optimizer", one_of<Optimizer>(), "the optimizer", ""},
      {"pretrain.lr", "float", "in (0, 100]", ""},
      {"finetune.lr", "float", "in (0, 100]", ""},
      {"pretrain.lr_decay", "float", "in (0, 1]: lr is multiplied by it after an epoch whose dev F1 did not improve", ""},
      {"finetune.lr_decay", "float", "in (0, 1]: lr is multiplied by it after an epoch whose dev F1 did not improve", ""},
      {"pretrain.grad_clip", "float", "max global L2 norm; 0 = off", ""},
      {"finetune.grad_clip", "float", "max global L2 norm; 0 = off", ""},
      {"pretrain.length_buckets", "integer", "0 (0 to 64): each batch is padded to its longest sentence; N: every batch is padded to one of N widths (quantiles of A train's sentence lengths) and the last partial batch to `batch_size` with rows that weigh nothing, so every step has one of N static shapes (what a CUDA graph needs); changes dropout's draws, so results move within seed noise ([performance.md](performance.md#length-buckets))", ""},
      {"pretrain.ranks", "integer", "data-parallel group size for pretraining and the scratch baseline ([clusters.md](clusters.md#data-parallel-pretraining-groups)); must not exceed the ranks of the job; must be 1 when `model.layers > 1` and `model.dropout > 0`", ""},
      {"finetune.mode", one_of<FinetuneMode>(), "`cached`: the frozen layers' outputs are computed once per seed | `naive`: the full forward at every step, as the original did ([performance.md](performance.md#the-fast-finetune-stage))", ""},
      {"finetune.fuse", "integer", "trials per finetune task (≤ 4096); 0 = automatic: enough tasks for every rank, at most 32 trials a task", ""},
      {"finetune.frozen_dropout", "boolean", "leave dropout on in the frozen layers (a common mistake, reproduced on purpose); the features are then random and the full forward is used", ""},
      {"adapter.init", one_of<AdapterInit>() + ", or a list of them", "`random` (like a fresh linear layer; what the original did) | `anchor` (start at A), or a list of both, `[\"random\", \"anchor\"]`, to compare them in one sweep", ""},
      {"adapter.anchor", "identity | zeros | a path", "`identity`: A = [I_K | 0] | `zeros` | the path of a tensor file (K × (K + H), written by `torch.save` of one tensor or `torch::pickle_save`), relative to the config file", ""},
      {"penalty.mode", one_of<PenaltyMode>(), "`loss`: λ‖W − A‖²_F added to the loss | `decoupled`: W ← W − lr·λ·(W − A) after each optimizer step, AdamW-style", ""},
      {"penalty.penalize_bias", "boolean", "also add λ‖b‖² (or pull b towards 0)", ""},
      {"sweep.lambdas", "list of numbers", "the λ grid: numbers ≥ 0, no two equal (a trial's id comes from λ's shortest round-trip text, so `0.1` and `0.1000001` are two trials); sorted", ""},
      {"sweep.baselines", "list of strings", "which baselines run: `pretrained` (the adapter frozen at the anchor, the λ → ∞ limit) and `scratch` (the classifier trained on B alone); with `data.format = \"features\"` only `pretrained` is allowed, and it is the default", ""},
      {"sweep.range.min", "float", "> 0, max ≥ min; the grid's endpoints are exactly these (count 1 gives min alone)", "(required in [sweep.range])"},
      {"sweep.range.max", "float", "> 0, max ≥ min; the grid's endpoints are exactly these (count 1 gives min alone)", "(required in [sweep.range])"},
      {"sweep.range.count", "integer", "points, 1 to 10,000, evenly spaced in log10", "(required in [sweep.range])"},
      {"sweep.range.include_zero", "boolean", "add λ = 0", "false"},
  };
  return keys;
}

std::string config_reference() {
  // The defaults, as the resolved config of a config that sets only the format spells them;
  // run.name's default is the config file's name, which the table's own text says.
  auto defaults = flatten_toml(parse_config("[data]\nformat = \"synthetic\"\n", "defaults.toml").resolved_toml);
  defaults.erase("run.name");
  std::string out =
      "# Configuration reference\n\n"
      "Generated by `anchorsweep keys` from the key table in `src/config/keys.cpp` (types, meanings) and the\n"
      "parser's own defaults; `tests/docs_test.sh` checks that this file is its output. The rules that hold\n"
      "for every key (located errors, unknown keys, `--set`, bounds, the resolved config) are in\n"
      "[configuration.md](configuration.md).\n";
  // Sections in the order the table first names them ([pretrain] and [finetune] share keys).
  auto section_of = [](const KeyDoc& k) { return k.key.substr(0, k.key.rfind('.')); };
  std::vector<std::string> sections;
  for (const KeyDoc& k : config_keys())
    if (std::find(sections.begin(), sections.end(), section_of(k)) == sections.end()) sections.push_back(section_of(k));
  for (const std::string& s : sections) {
    out += "\n## `[" + s + "]`\n\n| key | type | default | what |\n|---|---|---|---|\n";
    for (const KeyDoc& k : config_keys()) {
      if (section_of(k) != s) continue;
      const auto d = defaults.find(k.key);
      const std::string def = d != defaults.end() ? "`" + d->second + "`" : k.unset;
      out += "| `" + k.key + "` | " + escape_cell(k.type) + " | " + escape_cell(def) + " | " + escape_cell(k.doc) + " |\n";
    }
  }
  return out;
}

}  // namespace anchorsweep
