// The console table a sweep ends with: λ and baselines against dev/test micro-F1,
// mean ± std over seeds, read back from the journal.
#pragma once

#include <string>

namespace anchorsweep {

std::string summary_table(const std::string& run_dir);

}  // namespace anchorsweep
