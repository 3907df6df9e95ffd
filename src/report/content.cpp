#include "report/content.hpp"

#include "report/format.hpp"

namespace anchorsweep {

std::string pct_mean_std(const Stat& s) {
  if (s.n == 0) return "–";
  return fmt_pct(s.mean) + " ± " + fmt_pct(s.std);
}

std::string pct_full(const Stat& s) {
  if (s.n == 0) return "–";
  return pct_mean_std(s) + " (" + fmt_pct(s.min) + "–" + fmt_pct(s.max) + ")";
}

std::string seeds_cell(const Group& g) {
  std::string s = std::to_string(g.ok.size());
  if (!g.failed.empty()) s += " (+" + std::to_string(g.failed.size()) + " failed)";
  return s;
}

const Figure* find_figure(const ReportInputs& in, const std::string& name) {
  for (const auto& f : in.figures)
    if (f.name == name) return &f;
  return nullptr;
}

void add_figure(Document& d, const ReportInputs& in, const std::string& name) {
  const Figure* f = find_figure(in, name);
  if (!f) return;
  if (f->drawn()) d.figure(f->caption, f->png_rel, f->svg);
  else d.callout(Level::note, "plot skipped", "plots/" + name + ".png was not drawn: " + f->error);
}

const Group* zero_group(const std::vector<Group>& groups, const std::optional<AdapterInit>& init) {
  for (const auto& g : groups)
    if (g.key.kind == TrialKind::anchored && g.key.lambda == 0 && g.key.init == init) return &g;
  return nullptr;
}

Document build_report(const ReportInputs& in) {
  Document d;
  std::string name = in.run_dir;
  while (name.size() > 1 && name.back() == '/') name.pop_back();
  if (auto slash = name.rfind('/'); slash != std::string::npos) name = name.substr(slash + 1);
  d.title = "anchorsweep report: " + name;
  add_glance(d, in);
  add_scores(d, in);
  add_per_class(d, in);
  add_diagnostics(d, in);
  add_run_facts(d, in);
  return d;
}

}  // namespace anchorsweep
