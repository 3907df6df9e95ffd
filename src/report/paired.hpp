// Is a difference between two settings more than seed noise? Both settings ran the same seeds,
// so each seed gives one difference d_s = a_s − b_s (same pretrained encoder, same data order):
// pairing removes the noise the two share. With n paired seeds, mean d̄ and sample std s_d, the
// 95% interval is d̄ ± t(0.975, n−1)·s_d/√n; the difference is told apart from noise when the
// interval leaves out 0. One seed gives no interval at all: nothing is ranked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>

namespace anchorsweep {

struct PairedDiff {
  size_t n = 0;             // seeds present in both
  double mean = 0;          // d̄, in the values' unit
  double half_width = 0;    // t·s_d/√n; infinite when n < 2
  bool distinguishable() const { return n >= 2 && (mean - half_width > 0 || mean + half_width < 0); }
};

// Student's t quantile at 0.975 for df degrees of freedom (df ≥ 1): the table to 30, then a
// fit within 0.002 of the exact value.
double t_quantile_975(size_t df);

// a − b paired by seed (seed -> value); seeds only one side has are left out.
PairedDiff paired_difference(const std::map<int64_t, double>& a, const std::map<int64_t, double>& b);

}  // namespace anchorsweep
