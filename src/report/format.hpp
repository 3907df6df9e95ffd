// Number and text formatting shared by the CSV, Markdown and HTML writers.
#pragma once

#include <string>

namespace anchorsweep {

// Shortest text that reads back to the same double ("0.22", "1e-05"); "nan" / "inf" for
// non-finite values (pandas reads both).
std::string fmt_num(double v);

// A lambda as in trial ids: printf %g ("0", "0.01", "1e-05").
std::string fmt_lambda(double v);

// A score in [0, 1] as a percentage with two decimals ("22.10"); "–" for NaN.
std::string fmt_pct(double v);

// printf-style "%.*g" with the given significant digits; "–" for NaN.
std::string fmt_sig(double v, int digits);

// A duration in seconds as "1 h 02 min", "3 min 05 s" or "12.3 s".
std::string fmt_duration(double seconds);

}  // namespace anchorsweep
