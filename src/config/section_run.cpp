// [run]: the run's name and directory, seeds, threads, shard.
#include "config/toml_access.hpp"

namespace anchorsweep::config_detail {

namespace {

bool is_file_safe(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace

void read_seeds(const Section& s, std::vector<int64_t>& out) {
  const toml::node* n = s.get("seeds");
  if (!n) return;
  const toml::array* a = as_array(*s.ctx, s.key("seeds"), *n);
  if (!a) return;
  if (a->empty()) return s.fail("seeds", *n, "must not be empty");
  std::vector<int64_t> seeds;
  for (size_t i = 0; i < a->size(); ++i) {
    const std::string key = s.key("seeds") + "[" + std::to_string(i) + "]";
    const toml::node& e = (*a)[i];
    auto v = as_int(*s.ctx, key, e);
    if (!v) return;
    if (*v < 0) return s.ctx->fail(key, e.source(), "must be >= 0, got " + std::to_string(*v));
    if (std::find(seeds.begin(), seeds.end(), *v) != seeds.end()) {
      return s.ctx->fail(key, e.source(), "duplicate seed " + std::to_string(*v));
    }
    seeds.push_back(*v);
  }
  out = seeds;
}

namespace {

// The config file's name without folder and extension: configs/semeval.toml -> "semeval".
std::string file_stem(const std::string& path) {
  std::string base = path.substr(path.find_last_of('/') + 1);
  const auto dot = base.rfind('.');
  return dot == std::string::npos || dot == 0 ? base : base.substr(0, dot);
}

}  // namespace

void read_run(const Section& root, const std::string& config_path, RunConfig& run) {
  const Section s = open_section(root, "run");
  // Without run.name the run directory is named after the config file, never after another
  // sweep: an unnamed config must not find (and claim) the demo's results.
  std::string name = file_stem(config_path);
  if (!s.get("name")) {
    if (is_file_safe(name) && name[0] != '-' && name.size() <= 128)
      run.name = name;
    else
      s.ctx->fail(s.key("name"), s.region, "required: the config file's name " + quote(name) +
                                               " is not a file-safe run name ([A-Za-z0-9._-]+)");
  }
  if (read_string(s, "name", name, true)) {
    if (name.size() > 128) {
      s.fail("name", *s.table->get("name"), "must be at most 128 characters (it names a directory), got " +
                                                std::to_string(name.size()));
    } else if (is_file_safe(name) && name[0] != '-') {
      run.name = name;
    } else {
      s.fail("name", *s.table->get("name"),
             "must be a file-safe name ([A-Za-z0-9._-]+, not starting with -, not . or ..), got " + quote(name));
    }
  }
  read_string(s, "output_dir", run.output_dir, true);
  read_seeds(s, run.seeds);
  read_int(s, "threads", run.threads, 0, kMaxThreads);
  read_enum(s, "lock", run.lock);
  read_enum(s, "encoder_transfer", run.encoder_transfer);
  read_double(s, "rank_timeout_s", run.rank_timeout_s, kRankTimeout);
  read_string(s, "encoder_store", run.encoder_store, true);
  std::string shard;
  if (read_string(s, "shard", shard, true) && !shard.empty()) {
    long long i = 0, n = 0;
    char rest = 0;
    if (std::sscanf(shard.c_str(), "%lld/%lld%c", &i, &n, &rest) != 2 || i < 1 || n < 1 || i > n || n > kMaxShards) {
      s.fail("shard", *s.table->get("shard"),
             "must be \"i/n\" with 1 <= i <= n <= " + std::to_string(kMaxShards) + " (this run is part i of n), got " +
                 quote(shard));
    } else {
      run.shard_index = i;
      run.shard_count = n;
    }
  }
}

}  // namespace anchorsweep::config_detail
