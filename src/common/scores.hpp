// Scores: the metrics of one split, as the journal and the report carry them.
#pragma once

#include <cstdint>

namespace anchorsweep {

struct Scores {
  double micro_p = 0, micro_r = 0, micro_f1 = 0;
  double macro_f1 = 0;   // mean over positive classes present in gold or predictions
  double accuracy = 0;   // all labels, the negative one included
  int64_t n = 0;
};

}  // namespace anchorsweep
