// plots/f1_vs_lambda: micro-F1 against lambda, dev and test side by side.
#include <cmath>
#include <map>
#include <set>

#include "common/files.hpp"
#include "report/format.hpp"
#include "report/gnuplot.hpp"
#include "report/plots.hpp"

namespace anchorsweep {


namespace {

using Series = std::map<std::optional<AdapterInit>, std::vector<const Group*>>;  // init -> anchored groups

// The two data files: per λ the mean and std over seeds (one block per init, gnuplot `index`),
// and each seed's point, in percent.
void f1_data(const Series& series, const LambdaAxis& ax, std::string& sum, std::string& pts) {
  sum = "# B micro-F1 (%) per lambda, mean and sample std over seeds; one block per adapter init\n";
  pts = "# B micro-F1 (%) per seed; x is jittered a little so seeds do not hide each other\n";
  for (const auto& [init, gs] : series) {
    sum += "# init=" + name_or_empty(init) + "\n# x,lambda,dev_mean,dev_std,test_mean,test_std,n_seeds\n";
    pts += "# init=" + name_or_empty(init) + "\n# x,lambda,seed,dev,test\n";
    bool after_zero = false;
    for (const Group* g : gs) {
      if (after_zero) sum += "\n";  // a single blank line: lambda = 0 is not joined to the rest
      after_zero = g->key.lambda == 0;
      Stat d = split_stat(*g, EvalSplit::dev, &Scores::micro_f1), t = split_stat(*g, EvalSplit::test, &Scores::micro_f1);
      const double x = ax.x(g->key.lambda);
      sum += fmt_num(x) + "," + fmt_num(g->key.lambda) + "," + fmt_num(100 * d.mean) + "," +
             fmt_num(100 * d.std) + "," + fmt_num(100 * t.mean) + "," + fmt_num(100 * t.std) + "," +
             std::to_string(g->ok.size()) + "\n";
      for (size_t i = 0; i < g->ok.size(); ++i) {
        const TrialResult* tr = g->ok[i];
        const double jitter = std::pow(10.0, 0.04 * (i - (g->ok.size() - 1) / 2.0));
        auto val = [&](EvalSplit split) {
          auto it = tr->metrics.find(split);
          return it == tr->metrics.end() ? std::string("nan") : fmt_num(100 * it->second.micro_f1);
        };
        pts += fmt_num(x * jitter) + "," + fmt_num(g->key.lambda) + "," + std::to_string(tr->key.seed) +
               "," + val(EvalSplit::dev) + "," + val(EvalSplit::test) + "\n";
      }
    }
    sum += "\n\n";
    pts += "\n\n";
  }
}

double mean_pct(const Group& g, EvalSplit split) { return 100 * split_stat(g, split, &Scores::micro_f1).mean; }

// The F1 axis: every anchored seed and mean ± std on both splits, and each baseline that lies
// within kBaselineReach points of them. A baseline further out (a scratch model near 0, or 15
// points below adapters that differ by 2) would squeeze the band where λ moves F1 into a sliver:
// it stays in the legend with its values, marked off the axis.
constexpr double kBaselineReach = 5;
struct F1Axis {
  F1Range range;
  std::set<const Group*> off_axis;
};
F1Axis f1_axis(const Series& series, const std::vector<const Group*>& baselines) {
  std::vector<double> band;
  for (const auto& [init, gs] : series)
    for (const Group* g : gs)
      for (EvalSplit split : {EvalSplit::dev, EvalSplit::test}) {
        const Stat s = split_stat(*g, split, &Scores::micro_f1);
        if (s.n == 0) continue;
        for (double v : split_values(*g, split, &Scores::micro_f1)) band.push_back(100 * v);
        band.push_back(100 * (s.mean - s.std));
        band.push_back(100 * (s.mean + s.std));
      }
  const F1Range anchored = f1_axis_range(band);
  const bool no_adapters = band.empty();
  for (const Group* g : baselines)
    for (EvalSplit split : {EvalSplit::dev, EvalSplit::test})
      if (const double v = mean_pct(*g, split);
          std::isfinite(v) && (no_adapters || (v > anchored.lo - kBaselineReach && v < anchored.hi + kBaselineReach)))
        band.push_back(v);
  F1Axis ax;
  ax.range = f1_axis_range(band);
  // Off the axis: a baseline with a mean the range leaves out (one out of reach, unless the other
  // values widened the range to it).
  for (const Group* g : baselines)
    for (EvalSplit split : {EvalSplit::dev, EvalSplit::test})
      if (const double v = mean_pct(*g, split); std::isfinite(v) && (v < ax.range.lo || v > ax.range.hi)) ax.off_axis.insert(g);
  return ax;
}

// A baseline's legend entry, the same in both panels (one legend serves both): its mean on each.
std::string baseline_title(const Group& g, bool off_axis, const F1Range& r) {
  std::string t = group_label(g.key, false) + ": dev " + fmt_pct(mean_pct(g, EvalSplit::dev) / 100) + ", test " +
                  fmt_pct(mean_pct(g, EvalSplit::test) / 100);
  if (off_axis) t += mean_pct(g, EvalSplit::dev) < r.lo ? " (off axis, below)" : " (off axis, above)";
  return t;
}

// One panel's plot command: the anchored series (seeds as points, mean ± std as lines) and the
// baselines as horizontal lines at their mean on this panel's split.
std::string f1_panel(int panel, const Series& series, const std::vector<const Group*>& baselines, const F1Axis& axis,
                     const std::string& dir) {
  static const char* init_colours[] = {"#1f4e9c", "#e07b00", "#7b3294", "#008837"};
  static const char* base_colours[] = {"#d62728", "#2ca02c", "#8c564b", "#17becf"};
  const EvalSplit split = panel == 0 ? EvalSplit::dev : EvalSplit::test;
  const int mean_col = panel == 0 ? 3 : 5, seed_col = panel == 0 ? 4 : 5;
  const bool several_inits = series.size() > 1;
  std::string plot;
  auto add = [&](const std::string& item) { plot += (plot.empty() ? "plot " : ", \\\n     ") + item; };
  int k = 0;
  for (const auto& [init, gs] : series) {
    const std::string colour = init_colours[k % 4];
    const std::string idx = " index " + std::to_string(k);
    add(gp_str(dir + "f1_vs_lambda_seeds.dat") + idx + " using 1:" + std::to_string(seed_col) +
        " with points pt 6 ps 0.7 lc rgb '" + colour + "' " + (k == 0 ? "title 'single seeds'" : "notitle"));
    std::string title = "anchored adapter";
    if (several_inits || init) title += " (init=" + name_or_empty(init) + ")";
    add(gp_str(dir + "f1_vs_lambda.dat") + idx + " using 1:" + std::to_string(mean_col) + ":" +
        std::to_string(mean_col + 1) + " with yerrorlines pt 7 ps 1.1 lw 2 lc rgb '" + colour + "' title " + gp_str(title));
    ++k;
  }
  int bi = 0;
  for (const Group* g : baselines) {
    Stat s = split_stat(*g, split, &Scores::micro_f1);
    if (s.n == 0) continue;
    const bool off = axis.off_axis.count(g) > 0;
    add((off ? std::string("NaN") : fmt_num(100 * s.mean)) + " with lines dt " + std::to_string(2 + bi % 3) +
        " lw 2 lc rgb '" + base_colours[bi % 4] + "' title " + gp_str(baseline_title(*g, off, axis.range)));
    ++bi;
  }
  if (plot.empty()) plot = "set label 1 'no data' at graph 0.5, graph 0.5 center\nplot 0 lc rgb 'white' notitle";
  return plot;
}

}  // namespace

Figure plot_f1_vs_lambda(const std::string& run_dir, const std::vector<Group>& groups,
                         const std::string& gnuplot) {
  Series series;
  std::vector<const Group*> baselines;
  std::set<double> lams;
  for (const Group& g : groups) {
    if (g.ok.empty()) continue;
    if (g.key.kind == TrialKind::anchored) {
      series[g.key.init].push_back(&g);
      lams.insert(g.key.lambda);
    } else if (!split_values(g, EvalSplit::dev, &Scores::micro_f1).empty() ||
               !split_values(g, EvalSplit::test, &Scores::micro_f1).empty()) {
      baselines.push_back(&g);
    }
  }
  if (series.empty() && baselines.empty()) {
    Figure f;
    f.name = "f1_vs_lambda";
    f.error = "no finished trials to plot";
    return f;
  }
  const LambdaAxis ax(lams);
  std::string sum, pts;
  f1_data(series, ax, sum, pts);
  const std::string dir = run_dir + "/plots/";
  write_file_atomic(dir + "f1_vs_lambda.dat", sum);
  write_file_atomic(dir + "f1_vs_lambda_seeds.dat", pts);
  const F1Axis axis = f1_axis(series, baselines);
  std::string base = "# baselines, mean B micro-F1 (%) over seeds; drawn: 0 when off the F1 axis\n# label,dev_mean,test_mean,drawn\n";
  for (const Group* g : baselines)
    base += group_label(g->key, false) + "," + fmt_num(mean_pct(*g, EvalSplit::dev)) + "," +
            fmt_num(mean_pct(*g, EvalSplit::test)) + "," + (axis.off_axis.count(g) ? "0" : "1") + "\n";
  write_file_atomic(dir + "f1_vs_lambda_baselines.dat", base);

  std::string b = "reset\nset datafile separator comma\n" + ax.gnuplot_axis();
  b += "set grid ytics lc rgb '#dddddd'\nset border 3\nset tics nomirror\n";
  b += "set yrange [" + fmt_num(axis.range.lo) + ":" + fmt_num(axis.range.hi) + "]\n";
  b += "set ylabel 'micro-F1 (%)'\n";
  const TwoPanels layout =
      two_panels((series.empty() ? 0 : 1 + series.size()) + baselines.size(), 480, lams.size() > 6 ? 110 : 62);
  b += "set multiplot title " + gp_str("B micro-F1 against the penalty weight λ (mean ± std over seeds)") + "\n";
  for (int panel = 0; panel < 2; ++panel) {
    b += layout.panel[panel];
    b += "set title " + gp_str(panel == 0 ? "B dev (best epoch)" : "B test (at the best dev epoch)") + "\n";
    b += f1_panel(panel, series, baselines, axis, dir) + "\nunset label 1\n";
  }
  return draw_figure(run_dir, "f1_vs_lambda",
                     "B dev and test micro-F1 against λ; λ = 0 left of the break; baselines as lines",
                     b, gnuplot, layout.width, layout.height);
}

}  // namespace anchorsweep
