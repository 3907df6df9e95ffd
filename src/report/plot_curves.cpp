// plots/curves: B-dev micro-F1 per epoch (mean over seeds) for each lambda and the scratch
// baseline, and the penalty's share of the training loss per epoch.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "common/files.hpp"
#include "report/format.hpp"
#include "report/gnuplot.hpp"
#include "report/plots.hpp"

namespace anchorsweep {

namespace {

struct EpochMean {
  double dev_sum = 0, share_sum = 0;
  int dev_n = 0, share_n = 0;
};

// epoch -> sums over the group's seeds.
std::map<int64_t, EpochMean> epoch_means(const Group& g) {
  std::map<int64_t, EpochMean> out;
  for (const TrialResult* t : g.ok) {
    for (const EpochPoint& p : t->curve) {
      EpochMean& m = out[p.epoch];
      m.dev_sum += p.dev_micro_f1;
      ++m.dev_n;
      if (p.train_loss > 0 && std::isfinite(p.train_loss) && std::isfinite(p.train_ce)) {
        m.share_sum += (p.train_loss - p.train_ce) / p.train_loss;
        ++m.share_n;
      }
    }
  }
  return out;
}

}  // namespace

Figure plot_curves(const std::string& run_dir, const std::vector<Group>& groups,
                   const std::string& gnuplot) {
  std::vector<const Group*> series;
  std::set<double> lams;
  std::set<std::string> inits;
  int64_t max_epoch = 0;
  for (const Group& g : groups) {
    for (const TrialResult* t : g.ok)
      for (const EpochPoint& p : t->curve) max_epoch = std::max(max_epoch, p.epoch);
    bool has_curve = false;
    for (const TrialResult* t : g.ok) has_curve |= !t->curve.empty();
    if (!has_curve) continue;
    series.push_back(&g);
    if (g.key.kind == "anchored") {
      lams.insert(g.key.lambda);
      inits.insert(g.key.init);
    }
  }
  if (series.empty()) {
    Figure f;
    f.name = "curves";
    f.error = "no trial has a learning curve";
    return f;
  }
  const std::string dir = run_dir + "/plots/";
  std::string data = "# per epoch, mean over seeds: epoch,dev_micro_f1 (%),penalty share of the training loss\n";
  for (const Group* g : series) {
    data += "# " + group_label(g->key, true) + "\n";
    for (const auto& [epoch, m] : epoch_means(*g))
      data += std::to_string(epoch) + "," + fmt_num(100 * m.dev_sum / m.dev_n) + "," +
              (m.share_n ? fmt_num(m.share_sum / m.share_n) : std::string("nan")) + "\n";
    data += "\n\n";
  }
  write_file_atomic(dir + "curves.dat", data);

  std::string b = "reset\nset datafile separator comma\n";
  b += "set grid lc rgb '#dddddd'\nset border 3\nset tics nomirror\nset xlabel 'epoch'\n";
  if (max_epoch <= 30) b += "set xtics 1\n";
  const TwoPanels layout = two_panels(series.size(), 460);
  b += "set offsets 0, 0, graph 0.05, graph 0.05\n";
  b += "set multiplot title " + gp_str("Learning curves on B (mean over seeds)") + "\n";
  for (int panel = 0; panel < 2; ++panel) {
    b += layout.panel[panel];
    b += panel == 0 ? "set title 'B-dev micro-F1 per epoch'\nset ylabel 'micro-F1 (%)'\n"
                    : "set title 'penalty share of the training loss: (loss - CE) / loss'\n"
                      "set ylabel 'share'\nset yrange [0:*]\n";
    std::string plot;
    for (size_t k = 0; k < series.size(); ++k) {
      const Group* g = series[k];
      std::string style;
      if (g->key.kind == "anchored") {
        const size_t li = std::distance(lams.begin(), lams.find(g->key.lambda));
        const size_t ii = std::distance(inits.begin(), inits.find(g->key.init));
        style = "with linespoints pt 7 ps 0.6 lw 2 dt " + std::to_string(1 + ii) + " lc rgb '" +
                series_colour(li, lams.size()) + "'";
      } else {
        style = std::string("with linespoints pt 6 ps 0.8 lw 2 dt 2 lc rgb '") +
                (g->key.kind == "scratch" ? "#d62728" : "#555555") + "'";
      }
      plot += (plot.empty() ? "plot " : ", \\\n     ") + gp_str(dir + "curves.dat") + " index " +
              std::to_string(k) + " using 1:" + (panel == 0 ? "2" : "3") + " " + style + " title " +
              gp_str(group_label(g->key, inits.size() > 1 && g->key.kind == "anchored"));
    }
    b += plot + "\n";
  }
  return draw_figure(run_dir, "curves", "B-dev micro-F1 and the penalty's share of the loss per epoch",
                     b, gnuplot, layout.width, layout.height);
}

}  // namespace anchorsweep
