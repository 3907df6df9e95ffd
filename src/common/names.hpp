// The closed sets of anchorsweep and the one spelling of each member.
//
// Each enum has one table below, Names<E>::table, and that table is the only place its names are
// written: config/ parses with it, the journal and the CSV files write with it, the report prints
// with it. Nothing compares these names as strings anywhere else.
//   name_of(TrialKind::anchored)        -> "anchored"
//   parse_name<TrialKind>("scratch")    -> TrialKind::scratch (std::nullopt for an unknown name)
//   names_list<TrialKind>()             -> "anchored | pretrained | scratch" (for messages)
#pragma once

#include <array>
#include <cstddef>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace anchorsweep {

template <class E>
struct Names;  // specialised below: static constexpr std::array<std::pair<E, const char*>, N> table

template <class E>
const char* name_of(E e) {
  for (const auto& [value, name] : Names<E>::table)
    if (value == e) return name;
  return "?";
}

template <class E>
std::optional<E> parse_name(std::string_view s) {
  for (const auto& [value, name] : Names<E>::table)
    if (s == name) return value;
  return std::nullopt;
}

// An optional member: "" for none (how the journal writes an absent init or optimizer).
template <class E>
std::string name_or_empty(const std::optional<E>& e) {
  return e ? name_of(*e) : "";
}

// Every member of E, in the table's order.
template <class E>
std::vector<E> members() {
  std::vector<E> out;
  for (const auto& [value, name] : Names<E>::table) out.push_back(value);
  return out;
}

template <class E>
std::vector<std::string> names_of(const std::vector<E>& values) {
  std::vector<std::string> out;
  for (E e : values) out.push_back(name_of(e));
  return out;
}

// name -> member, for a command-line parser's choices.
template <class E>
std::map<std::string, E> names_map() {
  std::map<std::string, E> out;
  for (const auto& [value, name] : Names<E>::table) out.emplace(name, value);
  return out;
}

template <class E>
std::string names_list(const char* sep = " | ") {
  std::string out;
  for (const auto& [value, name] : Names<E>::table) out += std::string(out.empty() ? "" : sep) + name;
  return out;
}

// parse_name that throws std::invalid_argument naming `what` and the known names.
template <class E>
E parse_name_or_throw(std::string_view s, const char* what) {
  if (auto e = parse_name<E>(s)) return *e;
  throw std::invalid_argument(std::string(what) + " \"" + std::string(s) + "\" is not one of " + names_list<E>(", "));
}

template <class E>
std::optional<E> parse_name_or_empty(std::string_view s, const char* what) {
  if (s.empty()) return std::nullopt;
  return parse_name_or_throw<E>(s, what);
}

// Declares E's table; modules declare the tables of their own closed sets beside the enum.
#define ANCHORSWEEP_NAMES(E, N, ...)                                         \
  template <>                                                                \
  struct Names<E> {                                                          \
    static constexpr std::array<std::pair<E, const char*>, N> table{{__VA_ARGS__}}; \
  }

// What a trial is: an adapter finetuned with penalty weight λ, the pretrained model alone (the
// adapter frozen at the anchor: λ → ∞), or the whole classifier trained on B alone.
enum class TrialKind { anchored, pretrained, scratch };
ANCHORSWEEP_NAMES(TrialKind, 3, {TrialKind::anchored, "anchored"}, {TrialKind::pretrained, "pretrained"},
                  {TrialKind::scratch, "scratch"});

// How a trial or pretraining ended. diverged: a non-finite loss or weight; failed: any other error.
enum class Status { ok, failed, diverged };
ANCHORSWEEP_NAMES(Status, 3, {Status::ok, "ok"}, {Status::failed, "failed"}, {Status::diverged, "diverged"});

// The evaluation splits of a trial: dev and test at the best dev epoch, and both at the last.
enum class EvalSplit { dev, test, dev_last, test_last };
ANCHORSWEEP_NAMES(EvalSplit, 4, {EvalSplit::dev, "dev"}, {EvalSplit::test, "test"}, {EvalSplit::dev_last, "dev_last"},
                  {EvalSplit::test_last, "test_last"});

// data.format
enum class DataFormat { synthetic, tacred, jsonl, features };
ANCHORSWEEP_NAMES(DataFormat, 4, {DataFormat::tacred, "tacred"}, {DataFormat::jsonl, "jsonl"},
                  {DataFormat::synthetic, "synthetic"}, {DataFormat::features, "features"});

// pretrain.optimizer, finetune.optimizer
enum class Optimizer { adam, sgd };
ANCHORSWEEP_NAMES(Optimizer, 2, {Optimizer::adam, "adam"}, {Optimizer::sgd, "sgd"});

// finetune.mode: cached features computed once, or the full forward every step.
enum class FinetuneMode { cached, naive };
ANCHORSWEEP_NAMES(FinetuneMode, 2, {FinetuneMode::cached, "cached"}, {FinetuneMode::naive, "naive"});

// penalty.mode: λ‖W − A‖² in the loss, or W pulled towards A after each step.
enum class PenaltyMode { loss, decoupled };
ANCHORSWEEP_NAMES(PenaltyMode, 2, {PenaltyMode::loss, "loss"}, {PenaltyMode::decoupled, "decoupled"});

// model.lstm
enum class LstmKernel { fused, aten, padded };
ANCHORSWEEP_NAMES(LstmKernel, 3, {LstmKernel::fused, "fused"}, {LstmKernel::aten, "aten"}, {LstmKernel::padded, "padded"});

// model.attention
enum class Attention { position_aware, none };
ANCHORSWEEP_NAMES(Attention, 2, {Attention::position_aware, "position-aware"}, {Attention::none, "none"});

// adapter.init, adapter.inits: where W starts (at the anchor, or random like a fresh Linear).
enum class AdapterInit { anchor, random };
ANCHORSWEEP_NAMES(AdapterInit, 2, {AdapterInit::anchor, "anchor"}, {AdapterInit::random, "random"});

// adapter.anchor: a built-in anchor, or a tensor file (any other value is its path).
enum class AnchorKind { identity, zeros, file };
ANCHORSWEEP_NAMES(AnchorKind, 2, {AnchorKind::identity, "identity"}, {AnchorKind::zeros, "zeros"});

// The kinds of task the plan hands out.
enum class TaskType { pretrain, finetune, scratch };
ANCHORSWEEP_NAMES(TaskType, 3, {TaskType::pretrain, "pretrain"}, {TaskType::finetune, "finetune"},
                  {TaskType::scratch, "scratch"});

// The journal's record types ("type" of each results.jsonl line); journal is the header line
// that carries the format version.
enum class RecordType { journal, pretrain, trial, checkpoint };
ANCHORSWEEP_NAMES(RecordType, 4, {RecordType::journal, "journal"}, {RecordType::pretrain, "pretrain"},
                  {RecordType::trial, "trial"}, {RecordType::checkpoint, "checkpoint"});

// A sweep's state as status.json records it and `anchorsweep status` reports it: running,
// stalled (rank 0 lives but its status is over a minute old), finished, stopped (ended early),
// dead (killed or crashed), not started (no journal yet).
enum class RunState { running, stalled, finished, stopped, dead, not_started };
ANCHORSWEEP_NAMES(RunState, 6, {RunState::running, "running"}, {RunState::stalled, "stalled"},
                  {RunState::finished, "finished"}, {RunState::stopped, "stopped"}, {RunState::dead, "dead"},
                  {RunState::not_started, "not started"});

// --log-format
enum class LogFormat { text, json };
ANCHORSWEEP_NAMES(LogFormat, 2, {LogFormat::text, "text"}, {LogFormat::json, "json"});

// run.lock: how a sweep keeps a second one off its run directory (rundir/run_directory.hpp).
enum class LockMode { flock, none };
ANCHORSWEEP_NAMES(LockMode, 2, {LockMode::flock, "flock"}, {LockMode::none, "none"});

// run.encoder_transfer: how a rank that finetunes a seed gets its encoder (sweep/coordinator.hpp).
enum class EncoderTransfer { automatic, bytes };
ANCHORSWEEP_NAMES(EncoderTransfer, 2, {EncoderTransfer::automatic, "auto"}, {EncoderTransfer::bytes, "bytes"});


}  // namespace anchorsweep
