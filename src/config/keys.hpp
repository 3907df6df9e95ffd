// Every config key, declared once: its type and what it means. Defaults are not repeated here:
// they come from the parser itself (the resolved text of a config that sets nothing), and the
// names an enum key accepts from its table in common/names.hpp. `anchorsweep keys` prints the
// reference (docs/config-reference.md is that output, checked by docs_test); config_test checks
// that this table and the parser know exactly the same keys.
#pragma once

#include <string>
#include <vector>

namespace anchorsweep {

struct KeyDoc {
  std::string key;     // "pretrain.lr"
  std::string type;    // "float", "one of adam | sgd", ...
  std::string doc;     // one line, Markdown
  std::string unset;   // shown as the default when a config that sets nothing lacks the key
};

const std::vector<KeyDoc>& config_keys();

// The reference as Markdown: one table per section, key | type | default | what.
std::string config_reference();

}  // namespace anchorsweep
