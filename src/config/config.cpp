// TOML -> SweepConfig: parse_config reads the file section by section (config/section_*.cpp),
// applies --set overrides (config/overrides.cpp), reports unknown keys, and writes the resolved
// config text (config/resolved_toml.cpp); config/resume_compare.cpp compares two of them for
// --resume. Only src/config/ includes TOML++ (config/toml_access.hpp).
#include "config/config.hpp"

#include "config/toml_access.hpp"

namespace anchorsweep {

using namespace config_detail;

namespace {

SweepConfig parse_table(toml::table root, const std::string& path, const std::vector<std::string>& sets) {
  Context ctx(path);
  for (const std::string& s : sets) apply_override(root, s, ctx);
  // All defaults would be a synthetic sweep nobody asked for.
  if (root.empty())
    throw ConfigError(path + ": the config is empty: set at least data.format (configs/demo.toml is a starting point; "
                             "`anchorsweep keys` lists every key)");

  SweepConfig c;
  c.source_path = path;
  RawInputs raw;
  const Section top{&ctx, "", &root, root.source()};
  read_run(top, path, c.run);
  read_data(top, path, c.data, raw);
  read_model(top, c.model);
  read_pretrain(top, c.model, c.pretrain);
  read_finetune(top, c.finetune);
  read_adapter(top, path, c.adapter, raw);
  read_penalty(top, c.penalty);
  read_sweep(top, c.sweep, raw, c.data);
  if (c.data.format == DataFormat::features) check_features_mode(top, c.finetune);

  if (auto unknown = first_unknown(ctx, root)) throw ConfigError(*unknown);
  ctx.throw_if_failed();

  c.resolved_toml = resolved_toml(c, raw);
  c.hash = fnv1a_hex(c.resolved_toml);
  return c;
}

}  // namespace

SweepConfig parse_config(const std::string& toml_text, const std::string& path,
                         const std::vector<std::string>& sets) {
  return parse_table(parse_toml(toml_text, path), path, sets);
}

SweepConfig load_run_config(const std::string& run_dir) {
  const std::string path = run_dir + "/config.toml";
  toml::table root = parse_toml(read_file(path), path);
  // Before 0.2 the resolved config spelled [data.synthetic] for every format; it is refused
  // now where the format ignores it, so a run directory's older config drops it here.
  if (auto* data = root["data"].as_table()) {
    const auto format = (*data)["format"].value<std::string>();
    if (format && *format != name_of(DataFormat::synthetic)) data->erase("synthetic");
  }
  return parse_table(std::move(root), path, {});
}

SweepConfig load_config(const std::string& path, const std::vector<std::string>& sets) {
  // An ifstream opens a directory without complaint and reads nothing, which would parse as an
  // empty config of all defaults.
  if (is_directory(path)) throw ConfigError(path + ": cannot read: is a directory");
  std::string text;
  try {
    text = read_file(path);
  } catch (const ConfigError&) {
    throw;
  } catch (const InputError& e) {
    throw ConfigError(e.what());
  }
  return parse_config(text, path, sets);
}

}  // namespace anchorsweep
