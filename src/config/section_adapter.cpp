// [adapter] and [penalty]: the adapter's init and anchor, and how λ pulls it.
#include "config/toml_access.hpp"

namespace anchorsweep::config_detail {

namespace {

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

}  // namespace

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

}  // namespace anchorsweep::config_detail
