// The console table a sweep ends with: λ and baselines against dev/test micro-F1,
// mean ± std over seeds, from the journal through the report's own grouping.
#pragma once

#include <string>

namespace anchorsweep {

std::string summary_table(const std::string& run_dir);

}  // namespace anchorsweep
