// [data] and [data.synthetic]: the data files (or the generator's sizes), labels, tokens.
#include "config/toml_access.hpp"

namespace anchorsweep::config_detail {

namespace {

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
  // A path the format would never open is a mistake to name, not to skip in silence.
  if (format == DataFormat::synthetic) {
    if (const toml::node* n = s.get(k))
      s.fail(k, *n, "is ignored when data.format is \"synthetic\" (the data is generated from [data.synthetic]); "
                    "remove it, or set data.format to the files' format (tacred, jsonl)");
    return;
  }
  std::string written;
  const bool present = read_string(s, k, written, true);
  if (present) {
    raw.data_paths[k] = written;
    out = resolve_path(written, config_path);
  }
  if (!present) {
    if (!s.table || !s.table->get(k)) {  // absent, as opposed to present but invalid
      s.ctx->fail(s.key(k), s.region, "required when data.format is " + quote(name_of(format)));
    }
    return;
  }
  const std::string problem = file_problem(out);
  if (!problem.empty()) s.fail(k, *s.table->get(k), problem);
}

}  // namespace

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
  if (data.format == DataFormat::synthetic) {
    read_synthetic(s, data.synthetic);
  } else if (const toml::node* n = s.get("synthetic")) {
    SyntheticSizes ignored;  // read only so that its keys count as known: the table is the mistake
    read_synthetic(s, ignored);
    s.fail("synthetic", *n, "is ignored when data.format is " + quote(name_of(data.format)) +
                                " (the data comes from the files); remove the table, or set data.format = \"synthetic\"");
  }
}

}  // namespace anchorsweep::config_detail
