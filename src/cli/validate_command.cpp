// anchorsweep validate CONFIG: the config and its data files checked, nothing trained; and what
// `run` would make of the run directory, as the dry run says it.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.hpp"
#include "config/config.hpp"
#include "data/example.hpp"
#include "data/feature_files.hpp"
#include "sweep/sweep.hpp"

namespace anchorsweep::cli {

Command add_validate_command(CLI::App& app) {
  struct Options {
    std::string config_path;
    std::vector<std::string> sets;
    bool resume = false;
  };
  auto o = std::make_shared<Options>();
  auto* sub = app.add_subcommand("validate", "Check CONFIG (and its data files) without training, and whether `run` would accept its run directory.");
  sub->add_option("config", o->config_path, "TOML config file")->required();
  sub->add_option("--set", o->sets, "override a config key (repeatable)");
  sub->add_flag("--resume", o->resume, "check the run directory as `run --resume` would");
  return {sub, [o] {
            const auto cfg = load_config(o->config_path, o->sets);
            const auto corpus = load_corpus(cfg.data);
            const std::string directory = describe_run_directory(cfg, o->resume);  // throws where `run` would refuse
            const auto b_rows = corpus.features ? corpus.features->train.x.size(0)
                                                : static_cast<int64_t>(corpus.b_train.examples.size());
            std::cout << o->config_path << ": ok (" << corpus.num_classes() << " labels, " << corpus.a_train.examples.size()
                      << " A-train / " << b_rows << " B-train examples, " << cfg.sweep.lambdas.size() << " λ values x "
                      << cfg.run.seeds.size() << " seeds)\n"
                      << directory;
            if (corpus.truncated > 0)
              std::cout << "  " << corpus.truncated << " sentence(s) longer than data.max_tokens = " << cfg.data.max_tokens
                        << " were cut around their entities (longest: " << corpus.longest << " tokens)\n";
            return 0;
          }};
}

}  // namespace anchorsweep::cli
