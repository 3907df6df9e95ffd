// The report's figures, drawn by gnuplot into RUN_DIR/plots/ as PNG (for report.md) and SVG
// (inlined in report.html). Plot data goes to plots/NAME.dat (comma separated) beside NAME.gp.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "report/groups.hpp"

namespace anchorsweep {

struct Figure {
  std::string name;      // file stem: plots/NAME.png, plots/NAME.svg
  std::string caption;
  std::string png_path;  // RUN_DIR/plots/NAME.png
  std::string png_rel;   // plots/NAME.png (relative to the run directory)
  std::string svg;       // the <svg> element to inline; "" when not drawn
  std::string error;     // why it was not drawn; "" when drawn
  bool drawn() const { return error.empty(); }
};

// Dev and test micro-F1 (mean ± std over seeds) against lambda on a log axis, lambda = 0 one
// decade left of the smallest positive lambda behind a dotted break, baselines as lines.
Figure plot_f1_vs_lambda(const std::string& run_dir, const std::vector<Group>& groups,
                         const std::string& gnuplot);

// B-dev micro-F1 per epoch and the penalty's share of the training loss per epoch.
Figure plot_curves(const std::string& run_dir, const std::vector<Group>& groups,
                   const std::string& gnuplot);

// Shared by the two plots: writes NAME.gp (PNG then SVG of `body`) and runs gnuplot.
Figure draw_figure(const std::string& run_dir, const std::string& name, const std::string& caption,
                   const std::string& body, const std::string& gnuplot, int width, int height);

// Layout of a two-panel figure with one legend column at the right: `panel[i]` (margins, and
// the key for panel 0 / `set key off` for panel 1) goes before panel i's plot command. The
// figure grows taller when the legend needs more rows than the base height holds.
struct TwoPanels {
  int width = 1600, height = 0;  // two 400-px panels and a legend column of 600 px
  std::string panel[2];
};
TwoPanels two_panels(size_t legend_entries, int base_height, int bottom_px = 62);

// Where each lambda sits on the log x axis of the F1 plots: itself, or for 0 one decade left of
// the smallest positive lambda (behind a dotted break when both occur).
struct LambdaAxis {
  std::set<double> lambdas;
  double zero_x = 1, lo = 0.1, hi = 10;
  bool has_zero = false, has_positive = false;

  explicit LambdaAxis(const std::set<double>& lams);
  double x(double lambda) const { return lambda > 0 ? lambda : zero_x; }
  bool broken() const { return has_zero && has_positive; }
  // gnuplot lines: log x range, a tic per lambda, the x label and the break.
  std::string gnuplot_axis() const;
};

// Colours for an ordered series (deep blue -> purple -> red -> orange, a plasma-like ramp that
// changes hue between neighbours), as '#rrggbb'; and a point type per position, so that two
// neighbouring λ differ in shape too.
std::string series_colour(size_t i, size_t n);
int series_point_type(size_t i);

// The step between epoch tics so that at most 8 labels share a panel: 1, 2, 5, 10, 20, 50, ...
int64_t epoch_tic_step(int64_t max_epoch);

// The F1 axis (in %) for the values that must show: the band they span with 3 points of margin,
// rounded out to 5, within [0, 100]. Never below 0: F1 has no negative values.
struct F1Range {
  double lo = 0, hi = 100;
};
F1Range f1_axis_range(const std::vector<double>& percents);

}  // namespace anchorsweep
