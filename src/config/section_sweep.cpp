// [sweep]: the λ grid (a list or a log range) and the baselines.
#include "config/toml_access.hpp"

namespace anchorsweep::config_detail {

namespace {

// count values evenly spaced in log10 from lo to hi; the endpoints are exactly lo and hi.
std::vector<double> log_grid(double lo, double hi, int64_t count) {
  if (count == 1) return {lo};
  std::vector<double> out;
  const double a = std::log10(lo), b = std::log10(hi);
  for (int64_t i = 0; i < count; ++i) {
    if (i == 0) {
      out.push_back(lo);
    } else if (i == count - 1) {
      out.push_back(hi);
    } else {
      out.push_back(std::pow(10.0, a + (b - a) * static_cast<double>(i) / static_cast<double>(count - 1)));
    }
  }
  return out;
}

void sort_unique(std::vector<double>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

// Returns false (after recording why) when the array is unusable.
bool read_lambda_list(const Section& s, const toml::node& n, std::vector<double>& out) {
  const toml::array* a = as_array(*s.ctx, s.key("lambdas"), n);
  if (!a) return false;
  if (a->empty()) {
    s.fail("lambdas", n, "must not be empty");
    return false;
  }
  std::vector<double> grid;
  for (size_t i = 0; i < a->size(); ++i) {
    const std::string key = s.key("lambdas") + "[" + std::to_string(i) + "]";
    const toml::node& e = (*a)[i];
    auto v = as_number(*s.ctx, key, e);
    if (!v) return false;
    if (*v < 0 || std::signbit(*v)) {  // -0.0 too: it would name a trial "lam-0"
      s.ctx->fail(key, e.source(), "must be >= 0, got " + format_double(*v));
      return false;
    }
    // A trial's id and directory come from λ's shortest round-trip text: one λ, one id.
    if (std::find(grid.begin(), grid.end(), *v) != grid.end()) {
      s.ctx->fail(key, e.source(), "duplicate λ " + format_double(*v) + " (each λ names one trial per seed)");
      return false;
    }
    grid.push_back(*v);
  }
  out = grid;
  return true;
}

std::optional<LambdaRange> read_lambda_range(const Section& sweep) {
  const Section s = open_section(sweep, "range");
  LambdaRange r{kInf, kInf, 0, false};  // sentinels: "not given"
  read_double(s, "min", r.min, kPositive);
  read_double(s, "max", r.max, kPositive);
  read_int(s, "count", r.count, 1, kMaxRangeCount);
  read_bool(s, "include_zero", r.include_zero);
  if (!s.table) return std::nullopt;
  for (const char* k : {"min", "max", "count"}) {
    if (!s.table->get(k)) s.ctx->fail(s.key(k), s.region, "required in sweep.range");
  }
  if (r.min == kInf || r.max == kInf || r.count == 0) return std::nullopt;  // already reported
  if (r.max < r.min) {
    s.fail("max", *s.table->get("max"),
           "must be >= sweep.range.min (" + format_double(r.min) + "), got " + format_double(r.max));
    return std::nullopt;
  }
  return r;
}

void read_baselines(const Section& s, std::vector<TrialKind>& out) {
  const toml::node* n = s.get("baselines");
  if (!n) return;
  const toml::array* a = as_array(*s.ctx, s.key("baselines"), *n);
  if (!a) return;
  auto baselines = read_enum_list<TrialKind>(s, "baselines", *a, {TrialKind::pretrained, TrialKind::scratch},
                                             [](const std::string& name) { return "duplicate baseline " + quote(name); });
  if (baselines) out = *baselines;
}

}  // namespace

// The resolved lambda grid: an explicit list, a log range, or the default.
void read_lambdas(const Section& s, std::vector<double>& grid, std::optional<LambdaRange>& range) {
  const toml::node* list = s.get("lambdas");
  const toml::node* range_node = s.table ? s.table->get("range") : nullptr;
  range = read_lambda_range(s);
  if (list && range_node) {
    s.ctx->fail(s.key("range"), range_node->source(),
                "give either sweep.lambdas or sweep.range, not both");
    return;
  }
  if (list) {
    read_lambda_list(s, *list, grid);
  } else if (range) {
    grid = log_grid(range->min, range->max, range->count);
    if (range->include_zero) grid.push_back(0.0);
  } else {
    grid = {0.0, 0.01, 0.1, 1.0};
  }
  sort_unique(grid);
}

void read_sweep(const Section& root, SweepSpec& sweep, RawInputs& raw, const DataConfig& data) {
  const Section s = open_section(root, "sweep");
  read_lambdas(s, sweep.lambdas, raw.range);
  if (data.format == DataFormat::features) sweep.baselines = {TrialKind::pretrained};  // scratch needs sentences
  read_baselines(s, sweep.baselines);
  if (data.format != DataFormat::features) return;
  for (size_t i = 0; i < sweep.baselines.size(); ++i)
    if (sweep.baselines[i] == TrialKind::scratch)
      if (const toml::array* a = s.get("baselines")->as_array())
        s.ctx->fail(s.key("baselines") + "[" + std::to_string(i) + "]", (*a)[i].source(),
                    "\"scratch\" trains the whole model on B's sentences, and data.format = \"features\" gives "
                    "only the frozen model's features: refused");
}

}  // namespace anchorsweep::config_detail
