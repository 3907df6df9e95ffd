// TOML -> SweepConfig: parsing, --set overrides, validation, the resolved config text, and the
// resume comparison. This is the only file that includes TOML++.
//
// How errors are found: the reader walks the schema section by section and asks for every key it
// knows, which marks the key "consumed" whether or not it is present. Problems are recorded, not
// thrown, so the walk always finishes; then any key left unconsumed is reported as unknown (a
// typo explains many follow-on errors, e.g. a "missing" required key), and otherwise the first
// recorded problem is thrown.
#include "config/config.hpp"

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

// Upstream names the single header toml.hpp; Debian's package installs it as toml.h.
#if __has_include(<toml++/toml.hpp>)
#include <toml++/toml.hpp>
#else
#include <toml++/toml.h>
#endif

#include "common/files.hpp"

namespace anchorsweep {
namespace {


constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kMaxRangeCount = 10000;  // guards against a typo allocating a giant grid

// ------------------------------------------------------------------------------------------------
// Text helpers

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Shortest text that reads back as the same double, so messages and the resolved TOML show
// "0.1" rather than "0.10000000000000001". With as_toml_float, integral values get ".0" so that
// the value re-parses as a float, not an integer.
std::string format_double(double v, bool as_toml_float = false) {
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
std::string quote(const std::string& s) {
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

std::string type_name(toml::node_type t) {
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

std::string join_quoted(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + quote(items[i]);
  return out;
}

std::string position(const std::string& file, const toml::source_position& p) {
  return file + ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
}

// "sweep.lambdas[2]" -> "sweep.lambdas": overrides are recorded per key, not per element.
std::string strip_index(const std::string& key) { return key.substr(0, key.find('[')); }

std::string parent_key(const std::string& key) {
  const auto dot = key.rfind('.');
  return dot == std::string::npos ? "" : key.substr(0, dot);
}

toml::table parse_toml(const std::string& text, const std::string& label) {
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

Section open_section(const Section& parent, const std::string& name) {
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

std::optional<int64_t> as_int(Context& ctx, const std::string& key, const toml::node& n) {
  if (const auto* v = n.as_integer()) return v->get();
  ctx.fail(key, n.source(), "expected an integer, got " + type_name(n.type()));
  return std::nullopt;
}

// Integers are fine where a float is expected; non-finite values never make sense here.
std::optional<double> as_number(Context& ctx, const std::string& key, const toml::node& n) {
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

std::optional<bool> as_bool(Context& ctx, const std::string& key, const toml::node& n) {
  if (const auto* v = n.as_boolean()) return v->get();
  ctx.fail(key, n.source(), "expected a boolean, got " + type_name(n.type()));
  return std::nullopt;
}

std::optional<std::string> as_string(Context& ctx, const std::string& key, const toml::node& n) {
  if (const auto* v = n.as_string()) return v->get();
  ctx.fail(key, n.source(), "expected a string, got " + type_name(n.type()));
  return std::nullopt;
}

const toml::array* as_array(Context& ctx, const std::string& key, const toml::node& n) {
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
const Bounds kPositive{0, true, kInf, false};
const Bounds kFraction{0, false, 1, true};     // [0, 1)
const Bounds kUnitInterval{0, false, 1, false};  // [0, 1]
const Bounds kDecayFactor{0, true, 1, false};  // (0, 1]
const Bounds kLearningRate{0, true, 100, false};  // (0, 100]: beyond that no optimizer survives
const Bounds kClip{0, false, 1e6, false};

// Upper bounds on sizes: a typo (an extra zero or three) must fail here, not as an
// out-of-memory kill on every rank an hour later.
constexpr int64_t kMaxEpochs = 100000, kMaxBatch = 1000000, kMaxWidth = 16384, kMaxLayers = 16;
constexpr int64_t kMaxGroup = 1024, kMaxShards = 10000;
constexpr int64_t kMaxThreads = 1024, kMaxFuse = 4096, kMaxExamples = 100000000, kMaxTokens = 100000;

// ------------------------------------------------------------------------------------------------
// Field readers: leave `out` at its default when the key is absent or invalid.

void read_int(const Section& s, const std::string& k, int64_t& out, int64_t min,
              int64_t max = std::numeric_limits<int64_t>::max()) {
  const toml::node* n = s.get(k);
  if (!n) return;
  auto v = as_int(*s.ctx, s.key(k), *n);
  if (!v) return;
  if (*v < min) return s.fail(k, *n, "must be >= " + std::to_string(min) + ", got " + std::to_string(*v));
  if (*v > max) return s.fail(k, *n, "must be <= " + std::to_string(max) + ", got " + std::to_string(*v));
  out = *v;
}

void read_double(const Section& s, const std::string& k, double& out, const Bounds& bounds) {
  const toml::node* n = s.get(k);
  if (!n) return;
  auto v = as_number(*s.ctx, s.key(k), *n);
  if (!v) return;
  if (!bounds.contains(*v)) {
    return s.fail(k, *n, "must be " + bounds.describe() + ", got " + format_double(*v));
  }
  out = *v;
}

void read_bool(const Section& s, const std::string& k, bool& out) {
  const toml::node* n = s.get(k);
  if (!n) return;
  if (auto v = as_bool(*s.ctx, s.key(k), *n)) out = *v;
}

// Returns whether the key was present with a string value.
bool read_string(const Section& s, const std::string& k, std::string& out, bool non_empty) {
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
std::optional<E> read_name(Context& ctx, const std::string& key, const toml::node& n,
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

std::string resolve_path(const std::string& p, const std::string& config_path) {
  return join_path(parent_dir(config_path), p);
}

// "" when the file is usable, else what is wrong with it.
std::string file_problem(const std::string& resolved) {
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

bool is_file_safe(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

void read_seeds(const Section& s, std::vector<int64_t>& out) {
  const toml::node* n = s.get("seeds");
  if (!n) return;
  const toml::array* a = as_array(*s.ctx, s.key("seeds"), *n);
  if (!a) return;
  if (a->empty()) return s.fail("seeds", *n, "must not be empty");
  std::vector<int64_t> seeds;
  for (size_t i = 0; i < a->size(); ++i) {
    const std::string key = s.key("seeds") + "[" + std::to_string(i) + "]";
    const toml::node& e = (*a)[i];
    auto v = as_int(*s.ctx, key, e);
    if (!v) return;
    if (*v < 0) return s.ctx->fail(key, e.source(), "must be >= 0, got " + std::to_string(*v));
    if (std::find(seeds.begin(), seeds.end(), *v) != seeds.end()) {
      return s.ctx->fail(key, e.source(), "duplicate seed " + std::to_string(*v));
    }
    seeds.push_back(*v);
  }
  out = seeds;
}

void read_run(const Section& root, RunConfig& run) {
  const Section s = open_section(root, "run");
  std::string name = run.name;
  if (read_string(s, "name", name, true)) {
    if (name.size() > 128) {
      s.fail("name", *s.table->get("name"), "must be at most 128 characters (it names a directory), got " +
                                                std::to_string(name.size()));
    } else if (is_file_safe(name) && name[0] != '-') {
      run.name = name;
    } else {
      s.fail("name", *s.table->get("name"),
             "must be a file-safe name ([A-Za-z0-9._-]+, not starting with -, not . or ..), got " + quote(name));
    }
  }
  read_string(s, "output_dir", run.output_dir, true);
  read_seeds(s, run.seeds);
  read_int(s, "threads", run.threads, 0, kMaxThreads);
  std::string shard;
  if (read_string(s, "shard", shard, true) && !shard.empty()) {
    long long i = 0, n = 0;
    char rest = 0;
    if (std::sscanf(shard.c_str(), "%lld/%lld%c", &i, &n, &rest) != 2 || i < 1 || n < 1 || i > n || n > kMaxShards) {
      s.fail("shard", *s.table->get("shard"),
             "must be \"i/n\" with 1 <= i <= n <= " + std::to_string(kMaxShards) + " (this run is part i of n), got " +
                 quote(shard));
    } else {
      run.shard_index = i;
      run.shard_count = n;
    }
  }
}

void read_synthetic(const Section& data, SyntheticSizes& syn) {
  const Section s = open_section(data, "synthetic");
  for (auto [k, field] : {std::pair<const char*, int64_t*>{"a_train", &syn.a_train},
                          {"a_dev", &syn.a_dev}, {"b_train", &syn.b_train},
                          {"b_dev", &syn.b_dev}, {"b_test", &syn.b_test}}) {
    read_int(s, k, *field, 1, kMaxExamples);
  }
  read_int(s, "num_classes", syn.num_classes, 2, 100000);
  read_double(s, "negative_fraction", syn.negative_fraction, kFraction);
  read_double(s, "domain_shift", syn.domain_shift, kUnitInterval);
  read_int(s, "vocab_size", syn.vocab_size, 50, kMaxExamples);
  read_int(s, "min_len", syn.min_len, 3, kMaxTokens);
  read_int(s, "max_len", syn.max_len, 3, kMaxTokens);
  if (syn.max_len < syn.min_len) {
    // Blame max_len if the user set it, else the min_len that outgrew the default max_len.
    const bool max_given = s.table && s.table->get("max_len");
    const std::string k = max_given ? "max_len" : "min_len";
    const toml::node* n = s.table ? s.table->get(k) : nullptr;
    const std::string what =
        max_given ? "must be >= min_len (" + std::to_string(syn.min_len) + "), got " + std::to_string(syn.max_len)
                  : "must be <= max_len (" + std::to_string(syn.max_len) + "), got " + std::to_string(syn.min_len);
    s.ctx->fail(s.key(k), n ? n->source() : s.region, what);
  }
  read_int(s, "data_seed", syn.data_seed, std::numeric_limits<int64_t>::min());
}

// Data files are required (and must exist) unless the data is generated.
void read_data_path(const Section& s, const std::string& k, const std::string& config_path,
                    std::string& out, RawInputs& raw, DataFormat format) {
  std::string written;
  const bool present = read_string(s, k, written, true);
  if (present) {
    raw.data_paths[k] = written;
    out = resolve_path(written, config_path);
  }
  if (format == DataFormat::synthetic) return;
  if (!present) {
    if (!s.table || !s.table->get(k)) {  // absent, as opposed to present but invalid
      s.ctx->fail(s.key(k), s.region, "required when data.format is " + quote(name_of(format)));
    }
    return;
  }
  const std::string problem = file_problem(out);
  if (!problem.empty()) s.fail(k, *s.table->get(k), problem);
}

void read_data(const Section& root, const std::string& config_path, DataConfig& data,
               RawInputs& raw) {
  const Section s = open_section(root, "data");
  read_enum(s, "format", data.format);
  for (auto [k, field] : {std::pair<const char*, std::string*>{"a_train", &data.a_train},
                          {"a_dev", &data.a_dev}, {"b_train", &data.b_train},
                          {"b_dev", &data.b_dev}, {"b_test", &data.b_test}}) {
    // Features come from the user's own frozen model: there is no data set A to pretrain on.
    if (data.format == DataFormat::features && k[0] == 'a') {
      if (const toml::node* n = s.get(k))
        s.fail(k, *n, "is not used when data.format is \"features\" (the frozen model is yours: nothing is pretrained)");
      continue;
    }
    read_data_path(s, k, config_path, *field, raw, data.format);
  }
  read_string(s, "negative_label", data.negative_label, true);
  read_int(s, "min_word_count", data.min_word_count, 1, kMaxExamples);
  read_int(s, "max_tokens", data.max_tokens, 8, kMaxTokens);
  read_synthetic(s, data.synthetic);
}

void read_model(const Section& root, ModelConfig& m) {
  const Section s = open_section(root, "model");
  read_int(s, "word_dim", m.word_dim, 1, kMaxWidth);
  read_int(s, "pos_dim", m.pos_dim, 1, kMaxWidth);
  read_int(s, "hidden", m.hidden, 1, kMaxWidth);
  read_int(s, "layers", m.layers, 1, kMaxLayers);
  read_int(s, "attn_dim", m.attn_dim, 1, kMaxWidth);
  read_bool(s, "entity_masking", m.entity_masking);
  read_bool(s, "bidirectional", m.bidirectional);
  read_enum(s, "attention", m.attention);
  read_double(s, "dropout", m.dropout, kFraction);
  read_enum(s, "lstm", m.lstm);
}

void read_train_fields(const Section& s, TrainConfig& t) {
  read_int(s, "epochs", t.epochs, 1, kMaxEpochs);
  read_int(s, "batch_size", t.batch_size, 1, kMaxBatch);
  read_enum(s, "optimizer", t.optimizer);
  read_double(s, "lr", t.lr, kLearningRate);
  read_double(s, "lr_decay", t.lr_decay, kDecayFactor);
  read_double(s, "grad_clip", t.grad_clip, kClip);
}

void read_pretrain(const Section& root, const ModelConfig& m, PretrainConfig& p) {
  const Section s = open_section(root, "pretrain");
  read_train_fields(s, p);
  read_int(s, "ranks", p.ranks, 1, kMaxGroup);
  // A group draws dropout masks for the whole global batch and takes its shard; the LSTM's
  // dropout between layers is drawn inside LibTorch per shard, which would make results depend
  // on the group size.
  if (p.ranks > 1 && m.layers > 1 && m.dropout > 0)
    if (const toml::node* n = s.get("ranks"))
      s.fail("ranks", *n, "must be 1 when model.layers > 1 and model.dropout > 0 (the LSTM's inner dropout "
                          "cannot be drawn for the whole batch), got " + std::to_string(p.ranks));
}

void read_finetune(const Section& root, FinetuneConfig& f) {
  const Section s = open_section(root, "finetune");
  read_train_fields(s, f);
  read_enum(s, "mode", f.mode);
  read_int(s, "fuse", f.fuse, 0, kMaxFuse);
  read_bool(s, "frozen_dropout", f.frozen_dropout);
}

// adapter.init: one of anchor | random, or a list of them to compare both in one sweep.
void read_inits(const Section& s, AdapterConfig& a) {
  const toml::node* n = s.get("init");
  if (n && n->is_array()) {
    auto inits = read_enum_list<AdapterInit>(s, "init", *n->as_array(), members<AdapterInit>(),
                                             [](const std::string& name) { return quote(name) + " is listed twice"; });
    if (!inits) return;
    if (inits->empty()) {
      s.fail("init", *n, "must name at least one init");
      return;
    }
    a.inits = *inits;
    a.init = inits->front();
    return;
  }
  read_enum(s, "init", a.init);
  a.inits = {a.init};
}

void read_adapter(const Section& root, const std::string& config_path, AdapterConfig& a,
                  RawInputs& raw) {
  const Section s = open_section(root, "adapter");
  read_inits(s, a);
  std::string anchor;
  if (!read_string(s, "anchor", anchor, true)) return;
  raw.anchor = anchor;
  if (auto kind = parse_name<AnchorKind>(anchor)) {
    a.anchor = {*kind, ""};
    return;
  }
  // Anything else names a tensor file.
  a.anchor = {AnchorKind::file, resolve_path(anchor, config_path)};
  const std::string problem = file_problem(a.anchor.path);
  if (!problem.empty()) {
    s.fail("anchor", *s.table->get("anchor"),
           "expected \"identity\", \"zeros\" or a tensor file; " + problem);
  }
}

void read_penalty(const Section& root, PenaltyConfig& p) {
  const Section s = open_section(root, "penalty");
  read_enum(s, "mode", p.mode);
  read_bool(s, "penalize_bias", p.penalize_bias);
}

// count values evenly spaced in log10 from lo to hi; the endpoints are exactly lo and hi.
std::vector<double> log_grid(double lo, double hi, int64_t count) {
  if (count == 1) return {lo};
  std::vector<double> out;
  const double a = std::log10(lo), b = std::log10(hi);
  for (int64_t i = 0; i < count; ++i) {
    if (i == 0) {
      out.push_back(lo);
    } else if (i == count - 1) {
      out.push_back(hi);
    } else {
      out.push_back(std::pow(10.0, a + (b - a) * static_cast<double>(i) / static_cast<double>(count - 1)));
    }
  }
  return out;
}

void sort_unique(std::vector<double>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// Returns false (after recording why) when the array is unusable.
bool read_lambda_list(const Section& s, const toml::node& n, std::vector<double>& out) {
  const toml::array* a = as_array(*s.ctx, s.key("lambdas"), n);
  if (!a) return false;
  if (a->empty()) {
    s.fail("lambdas", n, "must not be empty");
    return false;
  }
  std::vector<double> grid;
  for (size_t i = 0; i < a->size(); ++i) {
    const std::string key = s.key("lambdas") + "[" + std::to_string(i) + "]";
    const toml::node& e = (*a)[i];
    auto v = as_number(*s.ctx, key, e);
    if (!v) return false;
    if (*v < 0 || std::signbit(*v)) {  // -0.0 too: it would name a trial "lam-0"
      s.ctx->fail(key, e.source(), "must be >= 0, got " + format_double(*v));
      return false;
    }
    // A trial's id and directory come from λ's shortest round-trip text: one λ, one id.
    if (std::find(grid.begin(), grid.end(), *v) != grid.end()) {
      s.ctx->fail(key, e.source(), "duplicate λ " + format_double(*v) + " (each λ names one trial per seed)");
      return false;
    }
    grid.push_back(*v);
  }
  out = grid;
  return true;
}

std::optional<LambdaRange> read_lambda_range(const Section& sweep) {
  const Section s = open_section(sweep, "range");
  LambdaRange r{kInf, kInf, 0, false};  // sentinels: "not given"
  read_double(s, "min", r.min, kPositive);
  read_double(s, "max", r.max, kPositive);
  read_int(s, "count", r.count, 1, kMaxRangeCount);
  read_bool(s, "include_zero", r.include_zero);
  if (!s.table) return std::nullopt;
  for (const char* k : {"min", "max", "count"}) {
    if (!s.table->get(k)) s.ctx->fail(s.key(k), s.region, "required in sweep.range");
  }
  if (r.min == kInf || r.max == kInf || r.count == 0) return std::nullopt;  // already reported
  if (r.max < r.min) {
    s.fail("max", *s.table->get("max"),
           "must be >= sweep.range.min (" + format_double(r.min) + "), got " + format_double(r.max));
    return std::nullopt;
  }
  return r;
}

// The resolved lambda grid: an explicit list, a log range, or the default.
void read_lambdas(const Section& s, std::vector<double>& grid, std::optional<LambdaRange>& range) {
  const toml::node* list = s.get("lambdas");
  const toml::node* range_node = s.table ? s.table->get("range") : nullptr;
  range = read_lambda_range(s);
  if (list && range_node) {
    s.ctx->fail(s.key("range"), range_node->source(),
                "give either sweep.lambdas or sweep.range, not both");
    return;
  }
  if (list) {
    read_lambda_list(s, *list, grid);
  } else if (range) {
    grid = log_grid(range->min, range->max, range->count);
    if (range->include_zero) grid.push_back(0.0);
  } else {
    grid = {0.0, 0.01, 0.1, 1.0};
  }
  sort_unique(grid);
}

void read_baselines(const Section& s, std::vector<TrialKind>& out) {
  const toml::node* n = s.get("baselines");
  if (!n) return;
  const toml::array* a = as_array(*s.ctx, s.key("baselines"), *n);
  if (!a) return;
  auto baselines = read_enum_list<TrialKind>(s, "baselines", *a, {TrialKind::pretrained, TrialKind::scratch},
                                             [](const std::string& name) { return "duplicate baseline " + quote(name); });
  if (baselines) out = *baselines;
}

void read_sweep(const Section& root, SweepSpec& sweep, RawInputs& raw, const DataConfig& data) {
  const Section s = open_section(root, "sweep");
  read_lambdas(s, sweep.lambdas, raw.range);
  if (data.format == DataFormat::features) sweep.baselines = {TrialKind::pretrained};  // scratch needs sentences
  read_baselines(s, sweep.baselines);
  if (data.format != DataFormat::features) return;
  for (size_t i = 0; i < sweep.baselines.size(); ++i)
    if (sweep.baselines[i] == TrialKind::scratch)
      if (const toml::array* a = s.get("baselines")->as_array())
        s.ctx->fail(s.key("baselines") + "[" + std::to_string(i) + "]", (*a)[i].source(),
                    "\"scratch\" trains the whole model on B's sentences, and data.format = \"features\" gives "
                    "only the frozen model's features: refused");
}

// With data.format = "features" the adapters read the given features; nothing may need the
// frozen model itself.
void check_features_mode(const Section& root, const FinetuneConfig& f) {
  const Section s = open_section(root, "finetune");
  if (f.mode == FinetuneMode::naive)
    if (const toml::node* n = s.get("mode"))
      s.fail("mode", *n, "must be \"cached\" when data.format is \"features\" (\"naive\" reruns the frozen model, "
                         "which anchorsweep does not have)");
  if (f.frozen_dropout)
    if (const toml::node* n = s.get("frozen_dropout"))
      s.fail("frozen_dropout", *n, "must be false when data.format is \"features\" (the features are fixed)");
}

// ------------------------------------------------------------------------------------------------
// Unknown keys: whatever the reader never asked for.

struct Unknown {
  bool from_override;
  toml::source_position pos;
  std::string message;
};

void collect_unknown(const Context& ctx, const toml::table& t, const std::string& prefix,
                     std::vector<Unknown>& out) {
  for (auto&& [k, node] : t) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    const bool is_table = node.is_table();
    if (ctx.consumed(key)) {
      if (is_table) collect_unknown(ctx, *node.as_table(), key, out);
      continue;
    }
    const toml::source_region& region = k.source().begin.line ? k.source() : node.source();
    out.push_back({ctx.from_override(key), region.begin,
                   ctx.where(key, region) + ": " + key + (is_table ? ": unknown table" : ": unknown key")});
  }
}

// The first unknown key in file order (then those from --set), if any.
std::optional<std::string> first_unknown(const Context& ctx, const toml::table& root) {
  std::vector<Unknown> unknown;
  collect_unknown(ctx, root, "", unknown);
  auto before = [](const Unknown& a, const Unknown& b) {
    return std::make_tuple(a.from_override, a.pos.line, a.pos.column) <
           std::make_tuple(b.from_override, b.pos.line, b.pos.column);
  };
  auto it = std::min_element(unknown.begin(), unknown.end(), before);
  if (it == unknown.end()) return std::nullopt;
  return it->message;
}

// ------------------------------------------------------------------------------------------------
// --set overrides

toml::table parse_override_value(const std::string& value) {
  try {
    toml::table t = toml::parse(std::string_view("v = " + value), std::string("--set"));
    if (t.size() == 1 && t.contains("v")) return t;
  } catch (const toml::parse_error&) {
    // not TOML: taken as a bare string below, so `data.format=tacred` works
  }
  toml::table t;
  t.insert_or_assign("v", value);
  return t;
}

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(key);
  while (std::getline(in, part, '.')) parts.push_back(trim(part));
  if (!key.empty() && key.back() == '.') parts.push_back("");
  return parts;
}

void apply_override(toml::table& root, const std::string& text, Context& ctx) {
  const auto eq = text.find('=');
  const std::string key = eq == std::string::npos ? "" : trim(text.substr(0, eq));
  const std::vector<std::string> parts = split_key(key);
  const bool bad_part = std::any_of(parts.begin(), parts.end(), [](const auto& p) { return p.empty(); });
  if (key.empty() || bad_part) throw ConfigError("--set '" + text + "': expected key=value");

  toml::table* table = &root;
  std::string path;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    path += (i ? "." : "") + parts[i];
    toml::node* n = table->get(parts[i]);
    if (!n) {
      table = table->insert_or_assign(parts[i], toml::table{}).first->second.as_table();
      ctx.note_override(path, text);  // a table made up by --set is located by it
    } else if (n->is_table()) {
      table = n->as_table();
    } else {
      throw ConfigError("--set " + text + ": " + path + ": expected a table, got " + type_name(n->type()));
    }
  }
  const toml::table value = parse_override_value(trim(text.substr(eq + 1)));
  value.get("v")->visit([&](const auto& v) { table->insert_or_assign(parts.back(), v); });
  ctx.note_override(key, text);
}

// ------------------------------------------------------------------------------------------------
// The resolved config: every setting spelled out, so that two configs that mean the same thing
// have the same text (and hash), and a changed default shows up on resume.

class TomlWriter {
 public:
  void section(const std::string& name) {
    if (!out_.empty()) out_ += "\n";
    out_ += "[" + name + "]\n";
  }
  void str(const std::string& k, const std::string& v) { line(k, quote(v)); }
  void integer(const std::string& k, int64_t v) { line(k, std::to_string(v)); }
  void number(const std::string& k, double v) { line(k, format_double(v, true)); }
  void boolean(const std::string& k, bool v) { line(k, v ? "true" : "false"); }
  void integers(const std::string& k, const std::vector<int64_t>& v) {
    std::vector<std::string> items;
    for (int64_t x : v) items.push_back(std::to_string(x));
    line(k, list(items));
  }
  void numbers(const std::string& k, const std::vector<double>& v) {
    std::vector<std::string> items;
    for (double x : v) items.push_back(format_double(x, true));
    line(k, list(items));
  }
  void strings(const std::string& k, const std::vector<std::string>& v) {
    std::vector<std::string> items;
    for (const auto& x : v) items.push_back(quote(x));
    line(k, list(items));
  }
  const std::string& text() const { return out_; }

 private:
  static std::string list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
    return out + "]";
  }
  void line(const std::string& k, const std::string& v) { out_ += k + " = " + v + "\n"; }
  std::string out_;
};

void write_train(TomlWriter& w, const TrainConfig& t) {
  w.integer("epochs", t.epochs);
  w.integer("batch_size", t.batch_size);
  w.str("optimizer", name_of(t.optimizer));
  w.number("lr", t.lr);
  w.number("lr_decay", t.lr_decay);
  w.number("grad_clip", t.grad_clip);
}

std::string resolved_toml(const SweepConfig& c, const RawInputs& raw) {
  TomlWriter w;
  w.section("run");
  w.str("name", c.run.name);
  w.str("output_dir", c.run.output_dir);
  w.integers("seeds", c.run.seeds);
  w.integer("threads", c.run.threads);
  if (c.run.sharded()) w.str("shard", std::to_string(c.run.shard_index) + "/" + std::to_string(c.run.shard_count));

  w.section("data");
  w.str("format", name_of(c.data.format));
  for (const auto& [k, path] : raw.data_paths) w.str(k, path);  // as written: see RawInputs
  w.str("negative_label", c.data.negative_label);
  w.integer("min_word_count", c.data.min_word_count);
  w.integer("max_tokens", c.data.max_tokens);

  const SyntheticSizes& syn = c.data.synthetic;
  w.section("data.synthetic");
  w.integer("a_train", syn.a_train);
  w.integer("a_dev", syn.a_dev);
  w.integer("b_train", syn.b_train);
  w.integer("b_dev", syn.b_dev);
  w.integer("b_test", syn.b_test);
  w.integer("num_classes", syn.num_classes);
  w.number("negative_fraction", syn.negative_fraction);
  w.number("domain_shift", syn.domain_shift);
  w.integer("vocab_size", syn.vocab_size);
  w.integer("min_len", syn.min_len);
  w.integer("max_len", syn.max_len);
  w.integer("data_seed", syn.data_seed);

  w.section("model");
  w.integer("word_dim", c.model.word_dim);
  w.integer("pos_dim", c.model.pos_dim);
  w.boolean("entity_masking", c.model.entity_masking);
  w.integer("hidden", c.model.hidden);
  w.integer("layers", c.model.layers);
  w.boolean("bidirectional", c.model.bidirectional);
  w.str("attention", name_of(c.model.attention));
  w.integer("attn_dim", c.model.attn_dim);
  w.number("dropout", c.model.dropout);
  w.str("lstm", name_of(c.model.lstm));

  w.section("pretrain");
  write_train(w, c.pretrain);
  w.integer("ranks", c.pretrain.ranks);

  w.section("finetune");
  write_train(w, c.finetune);
  w.str("mode", name_of(c.finetune.mode));
  w.integer("fuse", c.finetune.fuse);
  w.boolean("frozen_dropout", c.finetune.frozen_dropout);

  w.section("adapter");
  if (c.adapter.inits.size() > 1)
    w.strings("init", names_of(c.adapter.inits));
  else
    w.str("init", name_of(c.adapter.init));
  w.str("anchor", raw.anchor);

  w.section("penalty");
  w.str("mode", name_of(c.penalty.mode));
  w.boolean("penalize_bias", c.penalty.penalize_bias);

  w.section("sweep");
  w.strings("baselines", names_of(c.sweep.baselines));
  if (raw.range) {  // kept as a range so the file says what the user meant
    w.section("sweep.range");
    w.number("min", raw.range->min);
    w.number("max", raw.range->max);
    w.integer("count", raw.range->count);
    w.boolean("include_zero", raw.range->include_zero);
  } else {
    w.numbers("lambdas", c.sweep.lambdas);
  }
  return w.text();
}

// ------------------------------------------------------------------------------------------------
// Canonical value text for flatten_toml.

std::string canonical(const toml::node& n);

std::string canonical_inline_table(const toml::table& t) {
  std::string out = "{";
  bool first = true;
  for (auto&& [k, v] : t) {
    out += (first ? "" : ", ") + std::string(k.str()) + " = " + canonical(v);
    first = false;
  }
  return out + "}";
}

std::string canonical(const toml::node& n) {
  if (const auto* v = n.as_string()) return quote(v->get());
  if (const auto* v = n.as_integer()) return std::to_string(v->get());
  if (const auto* v = n.as_floating_point()) return format_double(v->get(), true);
  if (const auto* v = n.as_boolean()) return v->get() ? "true" : "false";
  if (const auto* a = n.as_array()) {
    std::string out = "[";
    for (size_t i = 0; i < a->size(); ++i) out += (i ? ", " : "") + canonical((*a)[i]);
    return out + "]";
  }
  if (const auto* t = n.as_table()) return canonical_inline_table(*t);
  std::ostringstream os;  // dates and times: TOML++ prints them in TOML form
  n.visit([&](const auto& v) { os << v; });
  return os.str();
}

void flatten_into(const toml::table& t, const std::string& prefix,
                  std::map<std::string, std::string>& out) {
  for (auto&& [k, v] : t) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = v.as_table()) {
      flatten_into(*sub, key, out);
    } else {
      out[key] = canonical(v);
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Growth checks for incompatible_changes.

struct GrowableParts {
  std::vector<int64_t> seeds = RunConfig{}.seeds;
  std::vector<double> lambdas;
};

GrowableParts read_growable(const std::string& text, const std::string& label) {
  toml::table root = parse_toml(text, label);
  Context ctx(label);
  const Section top{&ctx, "", &root, root.source()};
  GrowableParts parts;
  read_seeds(open_section(top, "run"), parts.seeds);
  std::optional<LambdaRange> range;
  read_lambdas(open_section(top, "sweep"), parts.lambdas, range);
  ctx.throw_if_failed();
  return parts;
}

// The log grid is computed, so allow for last-bit differences between builds.
bool near_equal(double a, double b) {
  return a == b || std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b));
}

template <typename T, typename Eq>
bool contains_all(const std::vector<T>& big, const std::vector<T>& small, Eq eq) {
  return std::all_of(small.begin(), small.end(), [&](const T& x) {
    return std::any_of(big.begin(), big.end(), [&](const T& y) { return eq(x, y); });
  });
}

// Keys compared by the growth rules instead of by text. run.threads is compared as text: float
// sums depend on the thread count, so a resumed run must keep it to stay bit-identical.
bool compared_separately(const std::string& key) {
  return key == "run.seeds" || key == "sweep.lambdas" ||
         key.rfind("sweep.range.", 0) == 0;
}

}  // namespace

// ================================================================================================
// Public API

SweepConfig parse_config(const std::string& toml_text, const std::string& path,
                         const std::vector<std::string>& sets) {
  toml::table root = parse_toml(toml_text, path);
  Context ctx(path);
  for (const std::string& s : sets) apply_override(root, s, ctx);

  SweepConfig c;
  c.source_path = path;
  RawInputs raw;
  const Section top{&ctx, "", &root, root.source()};
  read_run(top, c.run);
  read_data(top, path, c.data, raw);
  read_model(top, c.model);
  read_pretrain(top, c.model, c.pretrain);
  read_finetune(top, c.finetune);
  read_adapter(top, path, c.adapter, raw);
  read_penalty(top, c.penalty);
  read_sweep(top, c.sweep, raw, c.data);
  if (c.data.format == DataFormat::features) check_features_mode(top, c.finetune);

  if (auto unknown = first_unknown(ctx, root)) throw ConfigError(*unknown);
  ctx.throw_if_failed();

  c.resolved_toml = resolved_toml(c, raw);
  c.hash = fnv1a_hex(c.resolved_toml);
  return c;
}

SweepConfig load_config(const std::string& path, const std::vector<std::string>& sets) {
  // An ifstream opens a directory without complaint and reads nothing, which would parse as an
  // empty config of all defaults.
  if (is_directory(path)) throw ConfigError(path + ": cannot read: is a directory");
  std::string text;
  try {
    text = read_file(path);
  } catch (const ConfigError&) {
    throw;
  } catch (const InputError& e) {
    throw ConfigError(e.what());
  }
  return parse_config(text, path, sets);
}

std::map<std::string, std::string> flatten_toml(const std::string& toml_text) {
  std::map<std::string, std::string> out;
  flatten_into(parse_toml(toml_text, "<config>"), "", out);
  return out;
}

std::vector<std::string> incompatible_changes(const std::string& old_toml, const std::string& new_toml) {
  const auto before = flatten_toml(old_toml);
  const auto after = flatten_toml(new_toml);
  std::set<std::string> changed;
  for (const auto* map : {&before, &after}) {
    for (const auto& [key, value] : *map) {
      if (compared_separately(key)) continue;
      auto a = before.find(key), b = after.find(key);
      if (a == before.end() || b == after.end() || a->second != b->second) changed.insert(key);
    }
  }
  const GrowableParts old_parts = read_growable(old_toml, "<old config>");
  const GrowableParts new_parts = read_growable(new_toml, "<new config>");
  if (!contains_all(new_parts.seeds, old_parts.seeds, std::equal_to<int64_t>())) {
    changed.insert("run.seeds");
  }
  if (!contains_all(new_parts.lambdas, old_parts.lambdas, near_equal)) changed.insert("sweep.lambdas");
  return {changed.begin(), changed.end()};
}

}  // namespace anchorsweep
