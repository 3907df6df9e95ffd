// Running the anchorsweep binary from tests: the command line, its output and exit code.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "posix_fs.hpp"

namespace anchorsweep::testing {

inline std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}
inline std::string bin() { return env_or("ANCHORSWEEP_BIN", "anchorsweep"); }
inline std::string source_dir() { return env_or("ANCHORSWEEP_SOURCE", "."); }
inline std::string tiny_config() { return source_dir() + "/tests/tiny.toml"; }

struct CommandResult {
  int code = -1;
  std::string output;  // stdout and stderr together
};

inline CommandResult run(const std::string& cmd) {
  CommandResult r;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// The directories fresh_dir made, removed after the last test of the binary unless a test
// failed (then they stay for a look; failure messages name them).
class ScratchDirs : public ::testing::Environment {
 public:
  static ScratchDirs& get() {
    static ScratchDirs* dirs = [] {
      auto* d = new ScratchDirs;
      ::testing::AddGlobalTestEnvironment(d);  // gtest owns it and calls TearDown at the end
      return d;
    }();
    return *dirs;
  }
  void add(const std::string& d) { dirs_.push_back(d); }
  void TearDown() override {
    if (::testing::UnitTest::GetInstance()->Failed()) return;
    for (const auto& d : dirs_) fs::remove_all(d);
  }

 private:
  std::vector<std::string> dirs_;
};

// A fresh, empty directory for one test.
inline std::string fresh_dir(const std::string& name) {
  const auto d = fs::temp_directory_path() + "/anchorsweep-test-" + name + "-" + std::to_string(::getpid());
  fs::remove_all(d);
  fs::create_directories(d);
  ScratchDirs::get().add(d);
  return d;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::vector<nlohmann::json> journal_lines(const std::string& run_dir, const std::string& type = "trial") {
  std::vector<nlohmann::json> out;
  std::ifstream in(run_dir + "/results.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("type", "") == type) out.push_back(j);
  }
  return out;
}

inline std::multiset<std::string> trial_ids(const std::string& run_dir) {
  std::multiset<std::string> ids;
  for (const auto& j : journal_lines(run_dir)) ids.insert(j.at("id").get<std::string>());
  return ids;
}

// results.csv without the columns that say where and how fast a trial ran.
inline std::string metric_columns(const std::string& csv_path) {
  std::ifstream in(csv_path);
  std::string line, out;
  std::vector<std::string> header;
  std::vector<bool> keep;
  bool first = true;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, ',')) cells.push_back(cell);
    if (first) {
      for (auto& c : cells) keep.push_back(c != "host" && c != "rank" && c != "device" && c != "wall_s");
      first = false;
    }
    for (size_t i = 0; i < cells.size(); ++i)
      if (i < keep.size() && keep[i]) out += cells[i] + ",";
    out += "\n";
  }
  return out;
}

}  // namespace anchorsweep::testing
