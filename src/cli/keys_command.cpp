// anchorsweep keys: every config key with its type, default and meaning, as Markdown
// (docs/config-reference.md is this output).
#include <iostream>

#include "cli/command.hpp"
#include "config/keys.hpp"

namespace anchorsweep::cli {

Command add_keys_command(CLI::App& app) {
  auto* sub = app.add_subcommand("keys", "Print every config key with its type, default and meaning (Markdown; "
                                         "docs/config-reference.md is this output).");
  return {sub, [] {
            std::cout << config_reference();
            return 0;
          }};
}

}  // namespace anchorsweep::cli
