// write_comparison: several run directories, one report.
#include "report/compare.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "config/config.hpp"
#include "report/document.hpp"
#include "report/format.hpp"
#include "report/gnuplot.hpp"
#include "report/groups.hpp"
#include "report/plots.hpp"
#include "rundir/journal.hpp"
#include "rundir/run_facts.hpp"

namespace anchorsweep {

namespace {

// One run directory, read.
struct RunView {
  std::string dir, name;
  RunResults journal;
  RunInfo info;
  std::map<std::string, std::string> config;  // "section.key" -> value (flatten_toml)
  std::vector<Group> groups;                  // points into journal.trials
};

// One line of the plot and one row of the runs table: a run's anchored adapters of one init.
struct Series {
  const RunView* run = nullptr;
  std::optional<AdapterInit> init;
  std::string label;
  std::vector<const Group*> anchored;  // by lambda
};

// The resolved config as "section.key" -> canonical value text: config/'s own flattening, the
// one resume compares configs with.
std::map<std::string, std::string> read_config(const std::string& dir) {
  const std::string path = dir + "/config.toml";
  if (!file_exists(path)) throw InputError(dir + ": no config.toml (not a run directory?)");
  try {
    return flatten_toml(read_file(path));
  } catch (const ConfigError& e) {
    throw InputError(path + ": " + e.what());
  }
}

std::string unquote(const std::string& s) {
  const bool quoted = s.size() >= 2 && s.front() == s.back() && (s.front() == '"' || s.front() == '\'');
  return quoted ? s.substr(1, s.size() - 2) : s;
}

std::string setting(const RunView& r, const std::string& key) {
  auto it = r.config.find(key);
  return it == r.config.end() ? "–" : unquote(it->second);
}

// "the two runs" / "all 3 runs" / "the run".
std::string runs_text_of(const std::vector<std::string>& names) {
  if (names.size() == 1) return "the run";
  if (names.size() == 2) return "both runs (" + names[0] + ", " + names[1] + ")";
  return "all " + std::to_string(names.size()) + " runs";
}

std::string base_name(const std::string& p) {
  const std::string n = normalize_path(p);
  const size_t slash = n.find_last_of('/');
  return slash == std::string::npos ? n : n.substr(slash + 1);
}

std::string data_setting(const RunView& r) {
  if (parse_name<DataFormat>(setting(r, "data.format")) == DataFormat::synthetic)
    return "synthetic (data_seed " + setting(r, "data.synthetic.data_seed") + ", shift " +
           setting(r, "data.synthetic.domain_shift") + ")";
  return "A: " + base_name(setting(r, "data.a_train")) + ", B: " + base_name(setting(r, "data.b_train"));
}

// "54.12 ± 1.30" (percent, mean ± std over seeds); "–" without values.
std::string pct(const Stat& s) {
  if (s.n == 0) return "–";
  return fmt_pct(s.mean) + (s.n > 1 ? " ± " + fmt_pct(s.std) : "");
}

Stat f1(const Group& g, EvalSplit split) { return split_stat(g, split, &Scores::micro_f1); }

const Group* baseline(const RunView& r, TrialKind kind) {
  for (const Group& g : r.groups)
    if (g.key.kind == kind && !g.ok.empty()) return &g;
  return nullptr;
}

// The anchored setting with the highest mean dev micro-F1 (the smallest λ among equals).
const Group* best_on_dev(const Series& s) {
  const Group* best = nullptr;
  for (const Group* g : s.anchored) {
    const Stat d = f1(*g, EvalSplit::dev);
    if (d.n > 0 && (!best || d.mean > f1(*best, EvalSplit::dev).mean)) best = g;
  }
  return best;
}

// Run names: the directory's name, or its last two parts where names repeat.
void name_runs(std::vector<RunView>& runs) {
  std::map<std::string, int> count;
  for (auto& r : runs) ++count[r.name = base_name(r.dir)];
  for (auto& r : runs)
    if (count[r.name] > 1) r.name = base_name(parent_dir(normalize_path(r.dir))) + "/" + r.name;
}

void check_same_labels(const std::vector<RunView>& runs) {
  const RunView& first = runs.front();
  for (const RunView& r : runs) {
    if (!r.info.present || r.info.labels.empty())
      throw InputError(r.dir + ": no run.json with its labels, so its label set cannot be compared");
    if (r.info.negative_label != first.info.negative_label)
      throw InputError("cannot compare " + r.dir + " with " + first.dir + ": negative label \"" +
                       r.info.negative_label + "\" vs \"" + first.info.negative_label +
                       "\" (micro-F1 leaves out a different label)");
    if (r.info.labels != first.info.labels) {
      std::string why = std::to_string(r.info.labels.size()) + " vs " + std::to_string(first.info.labels.size()) + " labels";
      for (size_t i = 0; i < std::min(r.info.labels.size(), first.info.labels.size()); ++i)
        if (r.info.labels[i] != first.info.labels[i]) {
          why += "; label " + std::to_string(i) + " is \"" + r.info.labels[i] + "\" vs \"" + first.info.labels[i] + "\"";
          break;
        }
      throw InputError("cannot compare " + r.dir + " with " + first.dir + ": different label sets (" + why +
                       "); micro-F1 over different classes is not comparable");
    }
  }
}

std::vector<Series> make_series(const std::vector<RunView>& runs) {
  std::vector<Series> out;
  for (const RunView& r : runs) {
    std::map<std::optional<AdapterInit>, Series> by_init;
    for (const Group& g : r.groups)
      if (g.key.kind == TrialKind::anchored && !g.ok.empty()) by_init[g.key.init].anchored.push_back(&g);
    for (auto& [init, s] : by_init) {
      s.run = &r;
      s.init = init;
      s.label = r.name + (by_init.size() > 1 ? " [init=" + name_or_empty(init) + "]" : "");
      out.push_back(s);
    }
  }
  return out;
}

Table runs_table(const std::vector<Series>& series) {
  Table t;
  t.header = {"run", "data", "penalty", "init", "anchor", "epochs (pre / fine)", "seeds", "best λ (dev)",
              "dev F1 (%)", "test F1 (%) at that λ", "pretrained dev / test", "scratch dev / test"};
  for (const Series& s : series) {
    const RunView& r = *s.run;
    const Group* best = best_on_dev(s);
    auto both = [](const Group* g) { return g ? pct(f1(*g, EvalSplit::dev)) + " / " + pct(f1(*g, EvalSplit::test)) : std::string("–"); };
    t.rows.push_back({s.label, data_setting(r), setting(r, "penalty.mode"), name_or_empty(s.init), setting(r, "adapter.anchor"),
                      setting(r, "pretrain.epochs") + " / " + setting(r, "finetune.epochs"), setting(r, "run.seeds"),
                      best ? fmt_lambda(best->key.lambda) : "–", best ? pct(f1(*best, EvalSplit::dev)) : "–",
                      best ? pct(f1(*best, EvalSplit::test)) : "–", both(baseline(r, TrialKind::pretrained)), both(baseline(r, TrialKind::scratch))});
  }
  return t;
}

// Rows: the λ values at least two series share; a cell is "dev / test".
Table shared_lambda_table(const std::vector<Series>& series) {
  std::map<double, std::vector<const Group*>> at;  // lambda -> group per series (null when absent)
  for (size_t i = 0; i < series.size(); ++i)
    for (const Group* g : series[i].anchored) {
      auto& row = at[g->key.lambda];
      row.resize(series.size(), nullptr);
      row[i] = g;
    }
  Table t;
  t.header = {"λ"};
  for (const Series& s : series) t.header.push_back(s.label + ": dev / test F1 (%)");
  for (auto& [lambda, row] : at) {
    row.resize(series.size(), nullptr);
    if (std::count_if(row.begin(), row.end(), [](const Group* g) { return g != nullptr; }) < 2) continue;
    std::vector<std::string> cells = {fmt_lambda(lambda)};
    for (const Group* g : row) cells.push_back(g ? pct(f1(*g, EvalSplit::dev)) + " / " + pct(f1(*g, EvalSplit::test)) : "–");
    t.rows.push_back(cells);
  }
  return t;
}

// Keys whose values differ between runs (run.name and run.output_dir always may).
Table config_differences(const std::vector<RunView>& runs) {
  std::set<std::string> keys;
  for (const RunView& r : runs)
    for (const auto& [k, v] : r.config) keys.insert(k);
  Table t;
  t.header = {"key"};
  for (const RunView& r : runs) t.header.push_back(r.name);
  for (const std::string& k : keys) {
    if (k == "run.name" || k == "run.output_dir") continue;
    std::vector<std::string> cells = {k};
    std::set<std::string> distinct;
    for (const RunView& r : runs) {
      auto it = r.config.find(k);
      cells.push_back(it == r.config.end() ? "(not set)" : it->second);
      distinct.insert(cells.back());
    }
    if (distinct.size() > 1) t.rows.push_back(cells);
  }
  return t;
}

std::string comparison_csv(const std::vector<Series>& series, const std::vector<RunView>& runs) {
  std::string csv = "run,dir,init,kind,lambda,split,n_seeds,micro_f1_mean,micro_f1_std\n";
  auto rows = [&](const RunView& r, const std::optional<AdapterInit>& init, const Group& g) {
    for (EvalSplit split : {EvalSplit::dev, EvalSplit::test}) {
      const Stat s = f1(g, split);
      if (s.n == 0) continue;
      csv += r.name + "," + r.dir + "," + name_or_empty(init) + "," + name_of(g.key.kind) + "," +
             (g.key.kind == TrialKind::anchored ? fmt_num(g.key.lambda) : std::string()) + "," + name_of(split) + "," +
             std::to_string(s.n) + "," + fmt_num(s.mean) + "," + fmt_num(s.std) + "\n";
    }
  };
  for (const Series& s : series)
    for (const Group* g : s.anchored) rows(*s.run, s.init, *g);
  for (const RunView& r : runs)
    for (TrialKind kind : {TrialKind::pretrained, TrialKind::scratch})
      if (const Group* g = baseline(r, kind)) rows(r, std::nullopt, *g);
  return csv;
}

Figure overlay_plot(const std::string& out_dir, const std::vector<Series>& series, const std::string& gnuplot) {
  std::set<double> lams;
  for (const Series& s : series)
    for (const Group* g : s.anchored) lams.insert(g->key.lambda);
  const LambdaAxis ax(lams);
  std::string dat = "# B micro-F1 (%) per lambda, mean and sample std over seeds; one block per run (and init)\n";
  for (const Series& s : series) {
    dat += "# " + s.label + "\n# x,lambda,dev_mean,dev_std,test_mean,test_std\n";
    bool after_zero = false;
    for (const Group* g : s.anchored) {
      if (after_zero) dat += "\n";  // λ = 0 is not joined to the rest
      after_zero = g->key.lambda == 0;
      const Stat d = f1(*g, EvalSplit::dev), t = f1(*g, EvalSplit::test);
      dat += fmt_num(ax.x(g->key.lambda)) + "," + fmt_num(g->key.lambda) + "," + fmt_num(100 * d.mean) + "," +
             fmt_num(100 * d.std) + "," + fmt_num(100 * t.mean) + "," + fmt_num(100 * t.std) + "\n";
    }
    dat += "\n\n";
  }
  const std::string dir = out_dir + "/plots/";
  const std::string name = "f1_vs_lambda_runs";
  write_file_atomic(dir + name + ".dat", dat);

  std::set<const RunView*> with_pretrained;
  for (const Series& s : series)
    if (baseline(*s.run, TrialKind::pretrained)) with_pretrained.insert(s.run);
  const TwoPanels layout = two_panels(series.size() + with_pretrained.size(), 480, lams.size() > 6 ? 110 : 62);
  std::string b = "reset\nset datafile separator comma\n" + ax.gnuplot_axis();
  b += "set grid ytics lc rgb '#dddddd'\nset border 3\nset tics nomirror\n";
  b += "set offsets 0, 0, graph 0.08, graph 0.08\nset ylabel 'micro-F1 (%)'\n";
  b += "set multiplot title " + gp_str("B micro-F1 against λ, every run (mean ± std over seeds; pretrained baselines dashed)") + "\n";
  for (int panel = 0; panel < 2; ++panel) {
    const EvalSplit split = panel == 0 ? EvalSplit::dev : EvalSplit::test;
    const int col = panel == 0 ? 3 : 5;
    b += layout.panel[panel];
    b += "set title " + gp_str(panel == 0 ? "B dev (best epoch)" : "B test (at the best dev epoch)") + "\n";
    std::string plot;
    auto add = [&](const std::string& item) { plot += (plot.empty() ? "plot " : ", \\\n     ") + item; };
    std::set<const RunView*> drawn;
    for (size_t i = 0; i < series.size(); ++i) {
      const std::string colour = series_colour(i, series.size());
      add(gp_str(dir + name + ".dat") + " index " + std::to_string(i) + " using 1:" + std::to_string(col) + ":" +
          std::to_string(col + 1) + " with yerrorlines pt 7 ps 1.0 lw 2 lc rgb '" + colour + "' title " +
          gp_str(series[i].label));
      const Group* p = baseline(*series[i].run, TrialKind::pretrained);
      if (p && drawn.insert(series[i].run).second && f1(*p, split).n > 0)
        add(fmt_num(100 * f1(*p, split).mean) + " with lines dt 2 lw 1.5 lc rgb '" + colour + "' title " +
            gp_str(series[i].run->name + ": pretrained, dev " + fmt_pct(f1(*p, EvalSplit::dev).mean)));
    }
    if (plot.empty()) plot = "plot 0 lc rgb 'white' notitle";
    b += plot + "\n";
  }
  return draw_figure(out_dir, name, "B dev and test micro-F1 against λ for every run; pretrained baselines dashed", b,
                     gnuplot, layout.width, layout.height);
}

}  // namespace

std::string encoder_sharing_text(const std::vector<std::string>& run_names,
                                 const std::vector<std::map<int64_t, std::string>>& hashes) {
  std::set<int64_t> seeds;
  for (const auto& h : hashes)
    for (const auto& [seed, hash] : h) seeds.insert(seed);
  std::vector<int64_t> shared, differ, partial, unknown;
  for (int64_t seed : seeds) {
    std::set<std::string> seen;
    size_t in = 0;
    bool blank = false;
    for (const auto& h : hashes)
      if (auto it = h.find(seed); it != h.end()) {
        ++in;
        blank |= it->second.empty();
        seen.insert(it->second);
      }
    if (blank) unknown.push_back(seed);
    else if (in < hashes.size()) partial.push_back(seed);
    else if (seen.size() == 1) shared.push_back(seed);
    else differ.push_back(seed);
  }
  auto list = [](const std::vector<int64_t>& v) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
    return out;
  };
  std::string runs_text = runs_text_of(run_names);
  std::string text;
  if (seeds.empty()) return "No run pretrained an encoder (given features): nothing to compare.";
  if (!shared.empty())
    text += "Seed" + std::string(shared.size() > 1 ? "s " : " ") + list(shared) + ": " + runs_text +
            " used the very same pretrained encoder (equal encoder hashes: one reused the other's from the encoder "
            "store, or both trained it to the same bits), so a difference between them at that seed is their adapter "
            "settings' alone, with no pretraining noise. ";
  if (!differ.empty())
    text += "Seed" + std::string(differ.size() > 1 ? "s " : " ") + list(differ) +
            ": the runs' encoders differ, so differences between runs there also carry pretraining noise (or a "
            "pretraining setting that differs). ";
  if (!partial.empty())
    text += "Seed" + std::string(partial.size() > 1 ? "s " : " ") + list(partial) + ": pretrained in some of the runs only. ";
  if (!unknown.empty())
    text += "Seed" + std::string(unknown.size() > 1 ? "s " : " ") + list(unknown) +
            ": a run older than 0.2 recorded no encoder hash, so sharing cannot be told. ";
  if (!text.empty()) text.pop_back();
  return text;
}

ComparisonPaths write_comparison(const std::vector<std::string>& run_dirs, const std::string& out_dir) {
  if (run_dirs.empty()) throw InputError("report --out needs at least one run directory");
  std::vector<RunView> runs(run_dirs.size());
  for (size_t i = 0; i < run_dirs.size(); ++i) {
    RunView& r = runs[i];
    r.dir = run_dirs[i];
    if (normalize_path(r.dir) == normalize_path(out_dir))
      throw InputError(out_dir + ": the output directory is one of the runs (its report.md would be replaced)");
    if (!file_exists(r.dir + "/results.jsonl")) throw InputError(r.dir + ": no results.jsonl (not a run directory, or nothing ran yet)");
    r.config = read_config(r.dir);
    r.journal = read_results(r.dir);
    r.info = read_run_info(r.dir);
  }
  for (RunView& r : runs) r.groups = group_trials(r.journal.trials);  // runs no longer moves
  name_runs(runs);
  check_same_labels(runs);
  const std::vector<Series> series = make_series(runs);

  ComparisonPaths out;
  for (const RunView& r : runs) {
    for (const auto& w : r.journal.warnings) out.warnings.push_back(r.dir + ": " + w);
    for (const auto& w : r.info.warnings) out.warnings.push_back(r.dir + ": " + w);
  }
  make_dirs(out_dir + "/plots");
  out.table_csv = out_dir + "/compare.csv";
  write_file_atomic(out.table_csv, comparison_csv(series, runs));
  const Figure fig = overlay_plot(out_dir, series, find_gnuplot());
  if (fig.drawn()) out.pngs.push_back(fig.png_path);
  else out.warnings.push_back("NOTE: plot " + fig.name + " skipped: " + fig.error);

  Document doc;
  doc.title = runs.size() == 1 ? "anchorsweep: run " + runs.front().name : "anchorsweep: " + std::to_string(runs.size()) + " runs compared";
  std::vector<std::string> items;
  for (const RunView& r : runs)
    items.push_back(r.name + ": " + r.dir + ", " + std::to_string(r.journal.trials.size()) + " trials" +
                    (r.info.finished.empty() ? " (not finished)" : ", finished " + r.info.finished));
  doc.paragraph("Labels: " + std::to_string(runs.front().info.labels.size()) + ", the same in every run; micro-F1 leaves out \"" +
                runs.front().info.negative_label + "\".");
  doc.bullets(items);
  doc.heading(2, "Runs at a glance");
  doc.paragraph("The best λ is the one with the highest mean dev micro-F1 over seeds; test is read at that λ, "
                "never chosen on it. Scores are mean ± sample std over seeds, in percent.");
  doc.table(runs_table(series));
  if (fig.drawn()) doc.figure(fig.caption, fig.png_rel, fig.svg);
  else doc.callout(Level::na, "No plot", fig.error);
  if (runs.size() > 1) {
    doc.heading(2, "Shared encoders");
    std::vector<std::string> names;
    std::vector<std::map<int64_t, std::string>> hashes;
    for (const RunView& r : runs) {
      names.push_back(r.name);
      auto& h = hashes.emplace_back();
      for (const auto& p : r.journal.pretrains)
        if (p.status == Status::ok) h[p.seed] = p.encoder_hash;
    }
    doc.paragraph(encoder_sharing_text(names, hashes));
  }
  doc.heading(2, "Micro-F1 at shared λ values");
  const Table shared = shared_lambda_table(series);
  if (shared.rows.empty()) doc.paragraph(runs.size() == 1 ? "One run: nothing to compare it with." : "No λ value occurs in two runs.");
  else doc.table(shared);
  doc.heading(2, "What differs between the runs' configs");
  const Table diffs = config_differences(runs);
  if (diffs.rows.empty()) doc.paragraph("The resolved configs are identical apart from run.name and run.output_dir.");
  else {
    doc.paragraph("Keys of the resolved configs (each run's config.toml) whose values differ; run.name and "
                  "run.output_dir are left out.");
    doc.table(diffs);
  }
  out.report_md = out_dir + "/report.md";
  out.report_html = out_dir + "/report.html";
  write_file_atomic(out.report_md, render_markdown(doc));
  write_file_atomic(out.report_html, render_html(doc));
  return out;
}

}  // namespace anchorsweep
