// anchorsweep validate CONFIG: the config and its data files checked, nothing trained.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "config/config.hpp"
#include "data/example.hpp"
#include "data/feature_files.hpp"

namespace anchorsweep::cli {

Command add_validate_command(CLI::App& app) {
  struct Options {
    std::string config_path;
    std::vector<std::string> sets;
  };
  auto o = std::make_shared<Options>();
  auto* sub = app.add_subcommand("validate", "Check CONFIG (and its data files) without training.");
  sub->add_option("config", o->config_path, "TOML config file")->required();
  sub->add_option("--set", o->sets, "override a config key (repeatable)");
  return {sub, [o] {
            const auto cfg = load_config(o->config_path, o->sets);
            const auto corpus = load_corpus(cfg.data);
            const auto b_rows = corpus.features ? corpus.features->train.x.size(0)
                                                : static_cast<int64_t>(corpus.b_train.examples.size());
            std::cout << o->config_path << ": ok (" << corpus.num_classes() << " labels, " << corpus.a_train.examples.size()
                      << " A-train / " << b_rows << " B-train examples, " << cfg.sweep.lambdas.size() << " λ values x "
                      << cfg.run.seeds.size() << " seeds)\n";
            if (corpus.truncated > 0)
              std::cout << "  " << corpus.truncated << " sentence(s) longer than data.max_tokens = " << cfg.data.max_tokens
                        << " were cut around their entities (longest: " << corpus.longest << " tokens)\n";
            return 0;
          }};
}

}  // namespace anchorsweep::cli
