#include "report/summary_table.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "report/groups.hpp"
#include "report/headline.hpp"
#include "rundir/journal.hpp"
#include "rundir/run_facts.hpp"

namespace anchorsweep {

std::string summary_table(const std::string& run_dir) {
  const RunResults results = read_results(run_dir);
  const auto groups = group_trials(results.trials);
  std::ostringstream out;
  out << "\n  setting                          seeds  failed   dev micro-F1 (%)   test micro-F1 (%)\n";
  for (const auto& g : groups) {
    const Stat dev = split_stat(g, EvalSplit::dev, &Scores::micro_f1);
    const Stat test = split_stat(g, EvalSplit::test, &Scores::micro_f1);
    auto cell = [](const Stat& s) {
      char buf[32];
      if (s.n == 0) return std::string("        -");
      std::snprintf(buf, sizeof buf, "%6.2f ± %5.2f", 100 * s.mean, 100 * s.std);
      return std::string(buf);
    };
    // Pad by characters, not bytes: "λ→∞" is 3 characters in 8 bytes.
    std::string label = group_label(g.key, g.key.kind == TrialKind::anchored);
    size_t chars = 0;
    for (unsigned char c : label) chars += (c & 0xC0) != 0x80;
    if (chars < 32) label += std::string(32 - chars, ' ');
    char line[256];
    std::snprintf(line, sizeof line, "  %s %5zu  %6zu   %s     %s\n", label.c_str(),
                  g.ok.size() + g.failed.size(), g.failed.size(), cell(dev).c_str(), cell(test).c_str());
    out << line;
  }
  for (const auto& h : headline(groups)) out << "  " << h << "\n";
  return out.str();
}

}  // namespace anchorsweep
