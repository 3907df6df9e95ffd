// TACRED-JSON and JSONL readers.
//
// Both formats share one record parser; they differ only in how records are delimited
// (one JSON array vs one object per line), in the label key ("relation" vs "label") and in
// whether spans are required. Every error names the file, the record and the field, because
// the person reading it has a multi-megabyte file and needs to find the one bad record.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/files.hpp"
#include "common/errors.hpp"
#include "data/example.hpp"

namespace anchorsweep {
namespace {

using json = nlohmann::json;

// How one format spells its records.
struct RecordRules {
  const char* label_key;  // "relation" (TACRED) or "label" (JSONL)
  bool spans_required;    // TACRED always has spans; JSONL may leave them out
};

constexpr RecordRules kTacredRules{"relation", true};
constexpr RecordRules kJsonlRules{"label", false};

// Where a record came from: "PATH: record I" or, for JSONL, "PATH:LINE: record I".
struct RecordRef {
  const std::string& path;
  size_t index;
  int64_t line;  // 1-based; -1 when the format has no meaningful line (TACRED)

  std::string prefix() const {
    std::string where = path;
    if (line >= 0) where += ":" + std::to_string(line);
    return where + ": record " + std::to_string(index) + ": ";
  }
};

[[noreturn]] void fail(const RecordRef& ref, const std::string& field, const std::string& what) {
  throw InputError(ref.prefix() + field + ": " + what);
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; users don't need that.
std::string parser_message(const json::exception& e) {
  std::string msg = e.what();
  if (!msg.empty() && msg[0] == '[') {
    auto close = msg.find("] ");
    if (close != std::string::npos) msg = msg.substr(close + 2);
  }
  return msg;
}

std::string describe(const json& value) {
  return std::string(value.type_name()) + " " + value.dump();
}

// TACRED calls the tokens "token"; many converted files say "tokens". Accept either.
std::vector<std::string> get_tokens(const json& obj, const RecordRef& ref) {
  const char* key = obj.contains("token") ? "token" : "tokens";
  if (!obj.contains(key)) fail(ref, "token", "missing (expected \"token\" or \"tokens\")");
  const json& arr = obj.at(key);
  if (!arr.is_array()) fail(ref, key, "expected an array of strings, got " + describe(arr));
  if (arr.empty()) fail(ref, key, "empty");
  std::vector<std::string> tokens;
  tokens.reserve(arr.size());
  for (size_t i = 0; i < arr.size(); ++i) {
    if (!arr[i].is_string())
      fail(ref, key, "element " + std::to_string(i) + " is not a string: " + describe(arr[i]));
    tokens.push_back(arr[i].get<std::string>());
  }
  return tokens;
}

std::string get_label(const json& obj, const char* key, const RecordRef& ref) {
  if (!obj.contains(key)) fail(ref, key, "missing");
  const json& value = obj.at(key);
  if (!value.is_string()) fail(ref, key, "expected a string, got " + describe(value));
  std::string label = value.get<std::string>();
  if (label.empty()) fail(ref, key, "empty");
  return label;
}

// Entity types are optional everywhere; null counts as absent.
std::string get_type(const json& obj, const char* key, const RecordRef& ref) {
  if (!obj.contains(key) || obj.at(key).is_null()) return "";
  const json& value = obj.at(key);
  if (!value.is_string()) fail(ref, key, "expected a string, got " + describe(value));
  return value.get<std::string>();
}

// A span index: nullopt when absent. Floats are rejected rather than truncated, since
// "3.7" in a span field means the file was produced by something broken.
std::optional<int64_t> get_index(const json& obj, const char* key, const RecordRef& ref) {
  if (!obj.contains(key)) return std::nullopt;
  const json& value = obj.at(key);
  if (value.is_number_unsigned()) {
    auto u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(ref, key, "index " + value.dump() + " is too large");
    return static_cast<int64_t>(u);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  fail(ref, key, "expected an integer, got " + describe(value));
}

// Reads and checks one entity's inclusive span (prefix "subj" or "obj").
// Returns {-1, -1} when both fields are absent and spans are optional.
std::pair<int64_t, int64_t> get_span(const json& obj, const std::string& entity, size_t num_tokens,
                                     bool required, const RecordRef& ref) {
  const std::string start_key = entity + "_start", end_key = entity + "_end";
  auto start = get_index(obj, start_key.c_str(), ref);
  auto end = get_index(obj, end_key.c_str(), ref);
  if (!start && !end && !required) return {-1, -1};
  if (!start) fail(ref, start_key, "missing");
  if (!end) fail(ref, end_key, "missing");
  const std::string span = "span [" + std::to_string(*start) + ", " + std::to_string(*end) + "]";
  if (*start < 0) fail(ref, start_key, "negative index in " + span);
  if (*end < 0) fail(ref, end_key, "negative index in " + span);
  if (*start > *end) fail(ref, start_key, span + " starts after it ends");
  if (*end >= static_cast<int64_t>(num_tokens))
    fail(ref, end_key, span + " out of range for " + std::to_string(num_tokens) + " tokens");
  return {*start, *end};
}

Example parse_record(const json& obj, const RecordRules& rules, const RecordRef& ref) {
  if (!obj.is_object())
    throw InputError(ref.prefix() + "expected a JSON object, got " + std::string(obj.type_name()));
  Example ex;
  ex.tokens = get_tokens(obj, ref);
  ex.label = get_label(obj, rules.label_key, ref);
  auto subj = get_span(obj, "subj", ex.tokens.size(), rules.spans_required, ref);
  auto obj_span = get_span(obj, "obj", ex.tokens.size(), rules.spans_required, ref);
  // JSONL spans are all-or-nothing: downstream position features need both entities or neither.
  if ((subj.first < 0) != (obj_span.first < 0)) {
    const char* missing = subj.first < 0 ? "subj_start" : "obj_start";
    fail(ref, missing, "missing (give the spans of both entities or of neither)");
  }
  ex.subj_start = subj.first;
  ex.subj_end = subj.second;
  ex.obj_start = obj_span.first;
  ex.obj_end = obj_span.second;
  ex.subj_type = get_type(obj, "subj_type", ref);
  ex.obj_type = get_type(obj, "obj_type", ref);
  return ex;
}

bool is_blank(const std::string& line) {
  return line.find_first_not_of(" \t\r\f\v") == std::string::npos;
}

}  // namespace

std::vector<Example> read_tacred(const std::string& path) {
  const std::string text = read_file(path);
  // Said in our words: the JSON library's wording for empty input changed between versions.
  if (text.find_first_not_of(" \t\r\n\f\v") == std::string::npos)
    throw InputError(path + ": the file is empty (" + std::to_string(text.size()) +
                     " bytes); expected a JSON array of records");
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    throw InputError(path + ": malformed JSON: " + parser_message(e));
  }
  if (!doc.is_array())
    throw InputError(path + ": expected a JSON array of records, got " +
                     std::string(doc.type_name()));
  std::vector<Example> examples;
  examples.reserve(doc.size());
  for (size_t i = 0; i < doc.size(); ++i)
    examples.push_back(parse_record(doc[i], kTacredRules, RecordRef{path, i, -1}));
  return examples;
}

std::vector<Example> read_jsonl(const std::string& path) {
  const std::string text = read_file(path);
  std::vector<Example> examples;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    const std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (is_blank(line)) continue;  // skipped, but still counted so line numbers match an editor
    RecordRef ref{path, examples.size(), line_no};
    json obj;
    try {
      obj = json::parse(line);
    } catch (const json::parse_error& e) {
      throw InputError(ref.prefix() + "malformed JSON: " + parser_message(e));
    }
    examples.push_back(parse_record(obj, kJsonlRules, ref));
  }
  return examples;
}

}  // namespace anchorsweep
