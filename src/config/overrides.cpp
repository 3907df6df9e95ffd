// Unknown keys (whatever the reader never asked for) and --set KEY=VALUE overrides.
#include "config/keys.hpp"
#include "config/toml_access.hpp"

namespace anchorsweep::config_detail {

namespace {

// Edits (insert, delete, substitute, swap two neighbours) between a and b: optimal string
// alignment distance, so that "lr_decya" is one edit from "lr_decay".
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

}  // namespace

// The known key (or table) closest to `key`, when it is close enough to be a typo: at most a
// third of its length in edits (and at least 1, at most 3).
std::optional<std::string> closest_known(const std::string& key, bool is_table) {
  std::set<std::string> known;
  for (const KeyDoc& k : config_keys()) {
    if (!is_table) known.insert(k.key);
    for (std::string t = parent_key(k.key); is_table && !t.empty(); t = parent_key(t)) known.insert(t);
  }
  std::optional<std::string> best;
  size_t best_d = std::min<size_t>(3, std::max<size_t>(1, key.size() / 3)) + 1;
  for (const auto& k : known) {
    const size_t d = edit_distance(key, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best;
}

// ------------------------------------------------------------------------------------------------
// Unknown keys: whatever the reader never asked for.

struct Unknown {
  bool from_override;
  toml::source_position pos;
  std::string message;
};

void collect_unknown(const Context& ctx, const toml::table& t, const std::string& prefix,
                     std::vector<Unknown>& out) {
  for (auto&& [k, node] : t) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    const bool is_table = node.is_table();
    if (ctx.consumed(key)) {
      if (is_table) collect_unknown(ctx, *node.as_table(), key, out);
      continue;
    }
    const toml::source_region& region = k.source().begin.line ? k.source() : node.source();
    const auto near = closest_known(key, is_table);
    out.push_back({ctx.from_override(key), region.begin,
                   ctx.where(key, region) + ": " + key + (is_table ? ": unknown table" : ": unknown key") +
                       (near ? " (did you mean " + *near + "?)" : "")});
  }
}

// The first unknown key in file order (then those from --set), if any.
std::optional<std::string> first_unknown(const Context& ctx, const toml::table& root) {
  std::vector<Unknown> unknown;
  collect_unknown(ctx, root, "", unknown);
  auto before = [](const Unknown& a, const Unknown& b) {
    return std::make_tuple(a.from_override, a.pos.line, a.pos.column) <
           std::make_tuple(b.from_override, b.pos.line, b.pos.column);
  };
  auto it = std::min_element(unknown.begin(), unknown.end(), before);
  if (it == unknown.end()) return std::nullopt;
  return it->message;
}

// ------------------------------------------------------------------------------------------------
// --set overrides

toml::table parse_override_value(const std::string& value) {
  try {
    toml::table t = toml::parse(std::string_view("v = " + value), std::string("--set"));
    if (t.size() == 1 && t.contains("v")) return t;
  } catch (const toml::parse_error&) {
    // not TOML: taken as a bare string below, so `data.format=tacred` works
  }
  toml::table t;
  t.insert_or_assign("v", value);
  return t;
}

std::vector<std::string> split_key(const std::string& key) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(key);
  while (std::getline(in, part, '.')) parts.push_back(trim(part));
  if (!key.empty() && key.back() == '.') parts.push_back("");
  return parts;
}

void apply_override(toml::table& root, const std::string& text, Context& ctx) {
  const auto eq = text.find('=');
  const std::string key = eq == std::string::npos ? "" : trim(text.substr(0, eq));
  const std::vector<std::string> parts = split_key(key);
  const bool bad_part = std::any_of(parts.begin(), parts.end(), [](const auto& p) { return p.empty(); });
  if (key.empty() || bad_part) throw ConfigError("--set '" + text + "': expected key=value");

  toml::table* table = &root;
  std::string path;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    path += (i ? "." : "") + parts[i];
    toml::node* n = table->get(parts[i]);
    if (!n) {
      table = table->insert_or_assign(parts[i], toml::table{}).first->second.as_table();
      ctx.note_override(path, text);  // a table made up by --set is located by it
    } else if (n->is_table()) {
      table = n->as_table();
    } else {
      throw ConfigError("--set " + text + ": " + path + ": expected a table, got " + type_name(n->type()));
    }
  }
  const toml::table value = parse_override_value(trim(text.substr(eq + 1)));
  value.get("v")->visit([&](const auto& v) { table->insert_or_assign(parts.back(), v); });
  ctx.note_override(key, text);
}


}  // namespace anchorsweep::config_detail
