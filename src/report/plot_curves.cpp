// plots/curves: B-dev micro-F1 per epoch (mean over seeds) for each lambda and the scratch
// baseline, the penalty's share of the training loss per epoch, and ||W − A||_F per epoch.
#include <algorithm>
#include <cstdio>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "common/files.hpp"
#include "report/format.hpp"
#include "report/gnuplot.hpp"
#include "report/plots.hpp"

namespace anchorsweep {

namespace {

struct EpochMean {
  double dev_sum = 0, share_sum = 0, dist_sum = 0;
  int dev_n = 0, share_n = 0, dist_n = 0;
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
      if (std::isfinite(p.anchor_dist)) {
        m.dist_sum += p.anchor_dist;
        ++m.dist_n;
      }
    }
  }
  return out;
}

// curves.dat: per group, per epoch, the means over seeds (one block per group, gnuplot `index`).
std::string curves_data(const std::vector<const Group*>& series) {
  std::string data =
      "# per epoch, mean over seeds: epoch,dev_micro_f1 (%),penalty share of the training loss,||W - A||_F\n";
  for (const Group* g : series) {
    data += "# " + group_label(g->key, true) + "\n";
    for (const auto& [epoch, m] : epoch_means(*g))
      data += std::to_string(epoch) + "," + fmt_num(100 * m.dev_sum / m.dev_n) + "," +
              (m.share_n ? fmt_num(m.share_sum / m.share_n) : std::string("nan")) + "," +
              (m.dist_n ? fmt_num(m.dist_sum / m.dist_n) : std::string("nan")) + "\n";
    data += "\n\n";
  }
  return data;
}

// Three panels side by side, the legend to their right: each panel's margins (and the key on the first).
std::vector<std::string> curves_margins(int height) {
  const double top = 1.0 - 80.0 / height, bottom = 80.0 / height;
  const double left[3] = {0.04, 0.265, 0.49}, right[3] = {0.215, 0.44, 0.665};
  std::vector<std::string> margins(3);
  for (int i = 0; i < 3; ++i) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "set lmargin at screen %.4f\nset rmargin at screen %.4f\nset tmargin at screen %.4f\n"
                  "set bmargin at screen %.4f\n%s",
                  left[i], right[i], top, bottom, i == 0 ? "" : "set key off\n");
    margins[i] = buf;
  }
  char key[256];
  std::snprintf(key, sizeof key,
                "set key at screen 0.69, screen %.4f left top vertical Left reverse samplen 2.5 spacing 1.15\n", top);
  margins[0] += key;
  return margins;
}

// One panel's plot command: column panel + 2 of curves.dat for each group that has it.
std::string curves_panel(int panel, const std::vector<const Group*>& series, const std::set<double>& lams,
                         const std::set<std::optional<AdapterInit>>& inits, const std::string& dir) {
  std::string plot;
  for (size_t k = 0; k < series.size(); ++k) {
    const Group* g = series[k];
    // Baselines have no penalty and no adapter: nothing to draw in the share and distance
    // panels (a line at 0 would claim a measurement). Older journals recorded no distance.
    if (panel >= 1 && g->key.kind != TrialKind::anchored) continue;
    if (panel == 2) {
      bool has = false;
      for (const auto& [e, m] : epoch_means(*g)) has = has || m.dist_n > 0;
      if (!has) continue;
    }
    std::string style;
    if (g->key.kind == TrialKind::anchored) {
      const size_t li = std::distance(lams.begin(), lams.find(g->key.lambda));
      const size_t ii = std::distance(inits.begin(), inits.find(g->key.init));
      style = "with linespoints pt " + std::to_string(series_point_type(li)) + " ps 0.7 lw 2 dt " +
              std::to_string(1 + ii) + " lc rgb '" + series_colour(li, lams.size()) + "'";
    } else {
      style = std::string("with linespoints pt 6 ps 0.8 lw 2 dt 2 lc rgb '") +
              (g->key.kind == TrialKind::scratch ? "#d62728" : "#555555") + "'";
    }
    plot += (plot.empty() ? "plot " : ", \\\n     ") + gp_str(dir + "curves.dat") + " index " + std::to_string(k) +
            " using 1:" + std::to_string(panel + 2) + " " + style + " title " +
            gp_str(group_label(g->key, inits.size() > 1 && g->key.kind == TrialKind::anchored));
  }
  if (plot.empty())  // nothing to draw: say so instead of failing the whole figure
    plot = "set label 1 'not recorded in this journal' at graph 0.5, 0.5 center\nplot [][0:1] -1 notitle\n"
           "unset label 1";
  return plot;
}

}  // namespace

Figure plot_curves(const std::string& run_dir, const std::vector<Group>& groups,
                   const std::string& gnuplot) {
  std::vector<const Group*> series;
  std::set<double> lams;
  std::set<std::optional<AdapterInit>> inits;
  int64_t max_epoch = 0;
  for (const Group& g : groups) {
    for (const TrialResult* t : g.ok)
      for (const EpochPoint& p : t->curve) max_epoch = std::max(max_epoch, p.epoch);
    bool has_curve = false;
    for (const TrialResult* t : g.ok) has_curve |= !t->curve.empty();
    if (!has_curve) continue;
    series.push_back(&g);
    if (g.key.kind == TrialKind::anchored) {
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
  write_file_atomic(dir + "curves.dat", curves_data(series));

  std::string b = "reset\nset datafile separator comma\n";
  b += "set grid lc rgb '#dddddd'\nset border 3\nset tics nomirror\nset xlabel 'epoch'\n";
  b += "set xtics " + std::to_string(epoch_tic_step(max_epoch)) + "\nset mxtics 1\n";
  const int height = std::max(460, static_cast<int>(series.size()) * 20 + 160), width = 1500;
  const std::vector<std::string> margins = curves_margins(height);
  b += "set offsets 0, 0, graph 0.05, graph 0.05\n";
  b += "set multiplot title " + gp_str("Learning curves on B (mean over seeds)") + "\n";
  for (int panel = 0; panel < 3; ++panel) {
    b += margins[panel];
    b += panel == 0   ? "set title 'B-dev micro-F1 per epoch'\nset ylabel 'micro-F1 (%)'\nset yrange [0:*]\n"
         : panel == 1 ? "set title 'penalty share of the loss: (loss - CE) / loss'\nset ylabel 'share'\nset yrange [0:1]\n"
                      : "set title 'distance to the anchor ||W - A||_F'\nset ylabel '||W - A||_F'\nset yrange [0:*]\n";
    b += curves_panel(panel, series, lams, inits, dir) + "\n";
  }
  return draw_figure(run_dir, "curves",
                     "B-dev micro-F1, the penalty's share of the loss, and the adapter's distance to the anchor per epoch",
                     b, gnuplot, width, height);
}

}  // namespace anchorsweep
