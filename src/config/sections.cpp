// The sections of the config file, one reader each: [run], [data], [model], [pretrain],
// [finetune], [adapter], [penalty], [sweep] (the λ grid), with their checks.
#include "config/toml_access.hpp"

namespace anchorsweep::config_detail {

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


}  // namespace anchorsweep::config_detail
