// Comparing two resolved configs for --resume: flatten_toml (canonical text per key) and the
// growth rules of incompatible_changes (seeds and λ may be added, nothing else may change).
#include "config/toml_access.hpp"

namespace anchorsweep {

namespace config_detail {
namespace {

// ------------------------------------------------------------------------------------------------
// Canonical value text for flatten_toml.

std::string canonical(const toml::node& n);

std::string canonical_inline_table(const toml::table& t) {
  std::string out = "{";
  bool first = true;
  for (auto&& [k, v] : t) {
    out += (first ? "" : ", ") + std::string(k.str()) + " = " + canonical(v);
    first = false;
  }
  return out + "}";
}

std::string canonical(const toml::node& n) {
  if (const auto* v = n.as_string()) return quote(v->get());
  if (const auto* v = n.as_integer()) return std::to_string(v->get());
  if (const auto* v = n.as_floating_point()) return format_double(v->get(), true);
  if (const auto* v = n.as_boolean()) return v->get() ? "true" : "false";
  if (const auto* a = n.as_array()) {
    std::string out = "[";
    for (size_t i = 0; i < a->size(); ++i) out += (i ? ", " : "") + canonical((*a)[i]);
    return out + "]";
  }
  if (const auto* t = n.as_table()) return canonical_inline_table(*t);
  std::ostringstream os;  // dates and times: TOML++ prints them in TOML form
  n.visit([&](const auto& v) { os << v; });
  return os.str();
}

void flatten_into(const toml::table& t, const std::string& prefix,
                  std::map<std::string, std::string>& out) {
  for (auto&& [k, v] : t) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* sub = v.as_table()) {
      flatten_into(*sub, key, out);
    } else {
      out[key] = canonical(v);
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Growth checks for incompatible_changes.

struct GrowableParts {
  std::vector<int64_t> seeds = RunConfig{}.seeds;
  std::vector<double> lambdas;
};

GrowableParts read_growable(const std::string& text, const std::string& label) {
  toml::table root = parse_toml(text, label);
  Context ctx(label);
  const Section top{&ctx, "", &root, root.source()};
  GrowableParts parts;
  read_seeds(open_section(top, "run"), parts.seeds);
  std::optional<LambdaRange> range;
  read_lambdas(open_section(top, "sweep"), parts.lambdas, range);
  ctx.throw_if_failed();
  return parts;
}

// The log grid is computed, so allow for last-bit differences between builds.
bool near_equal(double a, double b) {
  return a == b || std::fabs(a - b) <= 1e-9 * std::max(std::fabs(a), std::fabs(b));
}

template <typename T, typename Eq>
bool contains_all(const std::vector<T>& big, const std::vector<T>& small, Eq eq) {
  return std::all_of(small.begin(), small.end(), [&](const T& x) {
    return std::any_of(big.begin(), big.end(), [&](const T& y) { return eq(x, y); });
  });
}

// Keys compared by the growth rules instead of by text. run.threads is compared as text: float
// sums depend on the thread count, so a resumed run must keep it to stay bit-identical.
bool compared_separately(const std::string& key) {
  return key == "run.seeds" || key == "sweep.lambdas" || key.rfind("sweep.range.", 0) == 0 ||
         key == "run.lock" ||      // how the directory is guarded, not what is computed: never compared
         key == "run.encoder_transfer" ||  // how encoders travel, not what they are: never compared
         key == "run.rank_timeout_s" ||  // how long rank 0 waits for a silent rank: never compared
         key == "run.encoder_store";     // where encoders are shared: the run directory keeps its own
}


}  // namespace
}  // namespace config_detail

using namespace config_detail;

std::map<std::string, std::string> flatten_toml(const std::string& toml_text) {
  std::map<std::string, std::string> out;
  flatten_into(parse_toml(toml_text, "<config>"), "", out);
  return out;
}

std::vector<std::string> incompatible_changes(const std::string& old_toml, const std::string& new_toml) {
  auto before = flatten_toml(old_toml);
  auto after = flatten_toml(new_toml);
  // Before 0.2 the resolved config spelled [data.synthetic] for every format; only synthetic
  // data reads it.
  auto format = before.find("data.format");
  if (format != before.end() && format->second != quote(name_of(DataFormat::synthetic)))
    for (auto it = before.lower_bound("data.synthetic."); it != before.end() && it->first.rfind("data.synthetic.", 0) == 0;)
      it = before.erase(it);
  std::set<std::string> changed;
  for (const auto* map : {&before, &after}) {
    for (const auto& [key, value] : *map) {
      if (compared_separately(key)) continue;
      auto a = before.find(key), b = after.find(key);
      if (a == before.end() || b == after.end() || a->second != b->second) changed.insert(key);
    }
  }
  const GrowableParts old_parts = read_growable(old_toml, "<old config>");
  const GrowableParts new_parts = read_growable(new_toml, "<new config>");
  if (!contains_all(new_parts.seeds, old_parts.seeds, std::equal_to<int64_t>())) {
    changed.insert("run.seeds");
  }
  if (!contains_all(new_parts.lambdas, old_parts.lambdas, near_equal)) changed.insert("sweep.lambdas");
  return {changed.begin(), changed.end()};
}

}  // namespace anchorsweep
