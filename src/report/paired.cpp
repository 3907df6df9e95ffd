#include "report/paired.hpp"

#include <cmath>
#include <limits>
#include <vector>

namespace anchorsweep {

double t_quantile_975(size_t df) {
  static const double table[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                                 2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                                 2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (df == 0) return std::numeric_limits<double>::infinity();
  if (df <= 30) return table[df - 1];
  return 1.960 + 2.5 / static_cast<double>(df);  // 2.000 at df = 60 (exact 2.000), 1.985 at 100 (1.984)
}

PairedDiff paired_difference(const std::map<int64_t, double>& a, const std::map<int64_t, double>& b) {
  std::vector<double> d;
  for (const auto& [seed, va] : a) {
    const auto it = b.find(seed);
    if (it != b.end()) d.push_back(va - it->second);
  }
  PairedDiff p;
  p.n = d.size();
  p.half_width = std::numeric_limits<double>::infinity();
  if (d.empty()) return p;
  for (double x : d) p.mean += x;
  p.mean /= static_cast<double>(d.size());
  if (d.size() < 2) return p;
  double ss = 0;
  for (double x : d) ss += (x - p.mean) * (x - p.mean);
  const double sd = std::sqrt(ss / static_cast<double>(d.size() - 1));
  p.half_width = t_quantile_975(d.size() - 1) * sd / std::sqrt(static_cast<double>(d.size()));
  return p;
}

}  // namespace anchorsweep
