// anchorsweep score --gold FILE --pred FILE: the official TACRED scorer's numbers.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.hpp"
#include "train/metrics.hpp"

namespace anchorsweep::cli {

Command add_score_command(CLI::App& app) {
  struct Options {
    std::string gold, pred, negative = "no_relation";
  };
  auto o = std::make_shared<Options>();
  auto* sub = app.add_subcommand("score", "Score predictions like the official TACRED scorer: micro P/R/F1, negative label excluded.");
  sub->add_option("--gold", o->gold, "file with one gold label per line")->required();
  sub->add_option("--pred", o->pred, "file with one predicted label per line")->required();
  sub->add_option("--negative", o->negative, "the negative label (default no_relation)");
  return {sub, [o] {
            const auto s = score_files(o->gold, o->pred, o->negative);
            std::printf("Precision (micro): %.3f%%\n   Recall (micro): %.3f%%\n       F1 (micro): %.3f%%\n",
                        100 * s.micro_p, 100 * s.micro_r, 100 * s.micro_f1);
            return 0;
          }};
}

}  // namespace anchorsweep::cli
