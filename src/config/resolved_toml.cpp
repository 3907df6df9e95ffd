// The resolved config text written to the run directory.
#include "config/toml_access.hpp"

namespace anchorsweep::config_detail {

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

// Only generated data reads [data.synthetic]; for files it would be a table of ignored keys.
void write_synthetic(TomlWriter& w, const SyntheticSizes& syn) {
  w.section("data.synthetic");
  for (auto [k, size] : {std::pair<const char*, int64_t>{"a_train", syn.a_train}, {"a_dev", syn.a_dev},
                         {"b_train", syn.b_train}, {"b_dev", syn.b_dev}, {"b_test", syn.b_test}})
    w.integer(k, size);
  w.integer("num_classes", syn.num_classes);
  w.number("negative_fraction", syn.negative_fraction);
  w.number("domain_shift", syn.domain_shift);
  w.integer("vocab_size", syn.vocab_size);
  w.integer("min_len", syn.min_len);
  w.integer("max_len", syn.max_len);
  w.integer("data_seed", syn.data_seed);
}

std::string resolved_toml(const SweepConfig& c, const RawInputs& raw) {
  TomlWriter w;
  w.section("run");
  w.str("name", c.run.name);
  w.str("output_dir", c.run.output_dir);
  w.integers("seeds", c.run.seeds);
  w.integer("threads", c.run.threads);
  w.str("lock", name_of(c.run.lock));
  w.str("encoder_transfer", name_of(c.run.encoder_transfer));
  w.number("rank_timeout_s", c.run.rank_timeout_s);
  w.str("encoder_store", c.run.encoder_store.empty() ? c.run.encoder_store_path() : c.run.encoder_store);
  if (c.run.sharded()) w.str("shard", std::to_string(c.run.shard_index) + "/" + std::to_string(c.run.shard_count));

  w.section("data");
  w.str("format", name_of(c.data.format));
  for (const auto& [k, path] : raw.data_paths) w.str(k, path);  // as written: see RawInputs
  w.str("negative_label", c.data.negative_label);
  w.integer("min_word_count", c.data.min_word_count);
  w.integer("max_tokens", c.data.max_tokens);

  if (c.data.format == DataFormat::synthetic) write_synthetic(w, c.data.synthetic);


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
  // Written only when set: run directories made before the key existed then compare equal on resume.
  if (c.pretrain.length_buckets > 0) w.integer("length_buckets", c.pretrain.length_buckets);

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


}  // namespace anchorsweep::config_detail
