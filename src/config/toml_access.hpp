// The config reader's toolkit, shared by the files of src/config/ (and only them: nothing
// outside config/ sees TOML++). How errors are found: the reader walks the schema section by
// section and asks for every key it knows, which marks the key "consumed" whether or not it is
// present. Problems are recorded, not thrown, so the walk always finishes; then any key left
// unconsumed is reported as unknown (a typo explains many follow-on errors, e.g. a "missing"
// required key), and otherwise the first recorded problem is thrown.
#pragma once

#include <algorithm>
#include <functional>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <functional>
#include <map>
#include <string>
#include <vector>

// Upstream names the single header toml.hpp; Debian's package installs it as toml.h.
#if __has_include(<toml++/toml.hpp>)
#include <toml++/toml.hpp>
#else
#include <toml++/toml.h>
#endif

#include "common/files.hpp"
#include "config/config.hpp"

namespace anchorsweep::config_detail {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kMaxRangeCount = 10000;  // guards against a typo allocating a giant grid

// ------------------------------------------------------------------------------------------------
// Text helpers

inline std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Shortest text that reads back as the same double, so messages and the resolved TOML show
// "0.1" rather than "0.10000000000000001". With as_toml_float, integral values get ".0" so that
// the value re-parses as a float, not an integer.
inline std::string format_double(double v, bool as_toml_float = false) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  // 100, not 1e+02: whole numbers below 1e15 read better without an exponent.
  if (std::strchr(buf, 'e') && v == std::floor(v) && std::fabs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
  std::string s = buf;
  if (as_toml_float && s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

// A TOML basic string literal.
inline std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

inline std::string type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    default: return "nothing";
  }
}

inline std::string join_quoted(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + quote(items[i]);
  return out;
}

inline std::string position(const std::string& file, const toml::source_position& p) {
  return file + ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
}

// "sweep.lambdas[2]" -> "sweep.lambdas": overrides are recorded per key, not per element.
inline std::string strip_index(const std::string& key) { return key.substr(0, key.find('[')); }

inline std::string parent_key(const std::string& key) {
  const auto dot = key.rfind('.');
  return dot == std::string::npos ? "" : key.substr(0, dot);
}

inline toml::table parse_toml(const std::string& text, const std::string& label) {
  try {
    return toml::parse(std::string_view(text), std::string(label));
  } catch (const toml::parse_error& e) {
    throw ConfigError(position(label, e.source().begin) + ": syntax error: " +
                      std::string(e.description()));
  }
}

// ------------------------------------------------------------------------------------------------
// Error context: where a key came from, what the reader consumed, the first problem found.

class Context {
 public:
  explicit Context(std::string file) : file_(std::move(file)) {}

  // Values set by --set are located by the override text, since they have no file position.
  void note_override(const std::string& key, const std::string& text) {
    for (auto it = overrides_.lower_bound(key + "."); it != overrides_.end() &&
                                                      it->first.rfind(key + ".", 0) == 0;) {
      it = overrides_.erase(it);  // a later --set of a whole table supersedes ones inside it
    }
    overrides_[key] = text;
  }

  bool from_override(const std::string& key) const { return !override_for(key).empty(); }

  std::string where(const std::string& key, const toml::source_region& region) const {
    const std::string text = override_for(key);
    if (!text.empty()) return "--set " + text;
    if (region.begin.line == 0) return file_ + ":1:1";  // e.g. a table the file never opened
    return position(file_, region.begin);
  }

  void fail(const std::string& key, const toml::source_region& region, const std::string& what) {
    if (!first_error_) first_error_ = where(key, region) + ": " + key + ": " + what;
  }

  const std::optional<std::string>& first_error() const { return first_error_; }
  void throw_if_failed() const {
    if (first_error_) throw ConfigError(*first_error_);
  }

  void consume(const std::string& key) { consumed_.insert(key); }
  bool consumed(const std::string& key) const { return consumed_.count(key) > 0; }

 private:
  std::string override_for(const std::string& key) const {
    for (std::string k = strip_index(key); !k.empty(); k = parent_key(k)) {
      auto it = overrides_.find(k);
      if (it != overrides_.end()) return it->second;
    }
    return "";
  }

  std::string file_;
  std::map<std::string, std::string> overrides_;  // dotted key -> the --set text that set it
  std::set<std::string> consumed_;                // dotted keys and tables the reader asked for
  std::optional<std::string> first_error_;
};

// One table of the schema. `table` is null when the file does not have it (all defaults).
struct Section {
  Context* ctx;
  std::string path;
  const toml::table* table = nullptr;
  toml::source_region region;  // the table header, for "required key missing"

  std::string key(const std::string& k) const { return path.empty() ? k : path + "." + k; }

  // The node under k or null. Marks k consumed either way: a known key is never "unknown".
  const toml::node* get(const std::string& k) const {
    ctx->consume(key(k));
    return table ? table->get(k) : nullptr;
  }

  void fail(const std::string& k, const toml::node& n, const std::string& what) const {
    ctx->fail(key(k), n.source(), what);
  }
};

inline Section open_section(const Section& parent, const std::string& name) {
  Section s{parent.ctx, parent.key(name), nullptr, {}};
  const toml::node* n = parent.get(name);
  if (!n) return s;
  if (const toml::table* t = n->as_table()) {
    s.table = t;
    s.region = t->source();
  } else {
    parent.fail(name, *n, "expected a table, got " + type_name(n->type()));
  }
  return s;
}

// ------------------------------------------------------------------------------------------------
// Typed access. Each returns nullopt after recording a type error.

inline std::optional<int64_t> as_int(Context& ctx, const std::string& key, const toml::node& n) {
  if (const auto* v = n.as_integer()) return v->get();
  ctx.fail(key, n.source(), "expected an integer, got " + type_name(n.type()));
  return std::nullopt;
}

// Integers are fine where a float is expected; non-finite values never make sense here.
inline std::optional<double> as_number(Context& ctx, const std::string& key, const toml::node& n) {
  double v;
  if (const auto* i = n.as_integer()) {
    v = static_cast<double>(i->get());
  } else if (const auto* f = n.as_floating_point()) {
    v = f->get();
  } else {
    ctx.fail(key, n.source(), "expected a number, got " + type_name(n.type()));
    return std::nullopt;
  }
  if (!std::isfinite(v)) {
    ctx.fail(key, n.source(), "must be a finite number, got " + format_double(v));
    return std::nullopt;
  }
  return v;
}

inline std::optional<bool> as_bool(Context& ctx, const std::string& key, const toml::node& n) {
  if (const auto* v = n.as_boolean()) return v->get();
  ctx.fail(key, n.source(), "expected a boolean, got " + type_name(n.type()));
  return std::nullopt;
}

inline std::optional<std::string> as_string(Context& ctx, const std::string& key, const toml::node& n) {
  if (const auto* v = n.as_string()) return v->get();
  ctx.fail(key, n.source(), "expected a string, got " + type_name(n.type()));
  return std::nullopt;
}

inline const toml::array* as_array(Context& ctx, const std::string& key, const toml::node& n) {
  if (const auto* a = n.as_array()) return a;
  ctx.fail(key, n.source(), "expected an array, got " + type_name(n.type()));
  return nullptr;
}

// A closed or open interval for float settings, with its own wording for messages.
struct Bounds {
  double lo = -kInf;
  bool lo_open = false;
  double hi = kInf;
  bool hi_open = false;

  bool contains(double v) const {
    return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }
  std::string describe() const {
    if (hi == kInf) return (lo_open ? "> " : ">= ") + format_double(lo);
    return std::string("in ") + (lo_open ? "(" : "[") + format_double(lo) + ", " +
           format_double(hi) + (hi_open ? ")" : "]");
  }
};
inline const Bounds kPositive{0, true, kInf, false};
inline const Bounds kFraction{0, false, 1, true};     // [0, 1)
inline const Bounds kUnitInterval{0, false, 1, false};  // [0, 1]
inline const Bounds kDecayFactor{0, true, 1, false};  // (0, 1]
inline const Bounds kLearningRate{0, true, 100, false};  // (0, 100]: beyond that no optimizer survives
inline const Bounds kClip{0, false, 1e6, false};
inline const Bounds kRankTimeout{0, false, 86400, false};  // seconds, [0, a day]; 0 = off

// Upper bounds on sizes: a typo (an extra zero or three) must fail here, not as an
// out-of-memory kill on every rank an hour later.
constexpr int64_t kMaxEpochs = 100000, kMaxBatch = 1000000, kMaxWidth = 16384, kMaxLayers = 16;
constexpr int64_t kMaxGroup = 1024, kMaxShards = 10000;
constexpr int64_t kMaxThreads = 1024, kMaxFuse = 4096, kMaxExamples = 100000000, kMaxTokens = 100000;

// ------------------------------------------------------------------------------------------------
// Field readers: leave `out` at its default when the key is absent or invalid.

inline void read_int(const Section& s, const std::string& k, int64_t& out, int64_t min,
              int64_t max = std::numeric_limits<int64_t>::max()) {
  const toml::node* n = s.get(k);
  if (!n) return;
  auto v = as_int(*s.ctx, s.key(k), *n);
  if (!v) return;
  if (*v < min) return s.fail(k, *n, "must be >= " + std::to_string(min) + ", got " + std::to_string(*v));
  if (*v > max) return s.fail(k, *n, "must be <= " + std::to_string(max) + ", got " + std::to_string(*v));
  out = *v;
}

inline void read_double(const Section& s, const std::string& k, double& out, const Bounds& bounds) {
  const toml::node* n = s.get(k);
  if (!n) return;
  auto v = as_number(*s.ctx, s.key(k), *n);
  if (!v) return;
  if (!bounds.contains(*v)) {
    return s.fail(k, *n, "must be " + bounds.describe() + ", got " + format_double(*v));
  }
  out = *v;
}

inline void read_bool(const Section& s, const std::string& k, bool& out) {
  const toml::node* n = s.get(k);
  if (!n) return;
  if (auto v = as_bool(*s.ctx, s.key(k), *n)) out = *v;
}

// Returns whether the key was present with a string value.
inline bool read_string(const Section& s, const std::string& k, std::string& out, bool non_empty) {
  const toml::node* n = s.get(k);
  if (!n) return false;
  auto v = as_string(*s.ctx, s.key(k), *n);
  if (!v) return false;
  if (non_empty && v->empty()) {
    s.fail(k, *n, "must not be empty");
    return false;
  }
  out = *v;
  return true;
}

// One member of an enum of common/names.hpp (of `allowed` only), given by its name.
template <class E>
inline std::optional<E> read_name(Context& ctx, const std::string& key, const toml::node& n,
                           const std::vector<E>& allowed = members<E>()) {
  auto v = as_string(ctx, key, n);
  if (!v) return std::nullopt;
  if (auto e = parse_name<E>(*v); e && std::find(allowed.begin(), allowed.end(), *e) != allowed.end()) return e;
  ctx.fail(key, n.source(), "must be one of " + join_quoted(names_of(allowed)) + "; got " + quote(*v));
  return std::nullopt;
}

template <class E>
void read_enum(const Section& s, const std::string& k, E& out) {
  if (const toml::node* n = s.get(k))
    if (auto e = read_name<E>(*s.ctx, s.key(k), *n)) out = *e;
}

// A list of distinct members of an enum (of `allowed` only); the caller decides whether an empty
// one is allowed. `duplicate` says what is wrong with a name listed twice.
template <class E>
std::optional<std::vector<E>> read_enum_list(const Section& s, const std::string& k, const toml::array& arr,
                                             const std::vector<E>& allowed,
                                             const std::function<std::string(const std::string&)>& duplicate) {
  std::vector<E> out;
  for (size_t i = 0; i < arr.size(); ++i) {
    const std::string key = s.key(k) + "[" + std::to_string(i) + "]";
    auto e = read_name<E>(*s.ctx, key, arr[i], allowed);
    if (!e) return std::nullopt;
    if (std::find(out.begin(), out.end(), *e) != out.end()) {
      s.ctx->fail(key, arr[i].source(), duplicate(name_of(*e)));
      return std::nullopt;
    }
    out.push_back(*e);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Paths

inline std::string resolve_path(const std::string& p, const std::string& config_path) {
  return join_path(parent_dir(config_path), p);
}

// "" when the file is usable, else what is wrong with it.
inline std::string file_problem(const std::string& resolved) {
  if (!file_exists(resolved)) return "file not found: " + resolved;
  if (is_directory(resolved)) return "is a directory, not a file: " + resolved;
  return "";
}


// ------------------------------------------------------------------------------------------------
// Sections. What the user wrote for paths and the lambda range is kept for the resolved TOML.

struct LambdaRange {
  double min = 0, max = 0;
  int64_t count = 0;
  bool include_zero = false;
};

struct RawInputs {
  std::map<std::string, std::string> data_paths;  // data key -> path as written
  std::string anchor = "identity";
  std::optional<LambdaRange> range;
};

// ------------------------------------------------------------------------------------------------
// The readers of each section (config/section_*.cpp, one file per section) and of the rest.

void read_seeds(const Section& s, std::vector<int64_t>& out);
void read_run(const Section& root, const std::string& config_path, RunConfig& r);
void read_data(const Section& root, const std::string& config_path, DataConfig& d, RawInputs& raw);
void read_model(const Section& root, ModelConfig& m);
void read_pretrain(const Section& root, const ModelConfig& model, PretrainConfig& p);
void read_finetune(const Section& root, FinetuneConfig& f);
void read_adapter(const Section& root, const std::string& config_path, AdapterConfig& a, RawInputs& raw);
void read_penalty(const Section& root, PenaltyConfig& p);
void read_lambdas(const Section& s, std::vector<double>& out, std::optional<LambdaRange>& range);
void read_sweep(const Section& root, SweepSpec& sw, RawInputs& raw, const DataConfig& data);
void check_features_mode(const Section& root, const FinetuneConfig& f);

// The first key the reader never asked for, as an error message (config/overrides.cpp).
std::optional<std::string> first_unknown(const Context& ctx, const toml::table& root);
// Applies one --set KEY=VALUE to the table (config/overrides.cpp).
void apply_override(toml::table& root, const std::string& text, Context& ctx);
// Every setting spelled out (config/resolved_toml.cpp).
std::string resolved_toml(const SweepConfig& c, const RawInputs& raw);

}  // namespace anchorsweep::config_detail
