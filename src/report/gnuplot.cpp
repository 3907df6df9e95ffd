#include "report/gnuplot.hpp"

#include <cstdlib>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include "common/files.hpp"

namespace anchorsweep {

namespace {

bool executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

std::string sh_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

std::string find_gnuplot() {
  const char* env = std::getenv("ANCHORSWEEP_GNUPLOT");
  const std::string name = env ? env : "gnuplot";
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) return executable(name) ? name : "";
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (executable(candidate)) return candidate;
  }
  return "";
}

std::string run_gnuplot(const std::string& gnuplot, const std::string& script_path) {
  const std::string err_path = script_path + ".err";
  const std::string cmd =
      sh_quote(gnuplot) + " " + sh_quote(script_path) + " >/dev/null 2>" + sh_quote(err_path);
  const int status = std::system(cmd.c_str());
  std::string err = file_exists(err_path) ? read_file(err_path) : "";
  ::unlink(err_path.c_str());
  if (status == 0) return "";
  std::string why = "gnuplot failed";
  if (status == -1) why += " to start";
  else if (WIFEXITED(status)) why += " with exit status " + std::to_string(WEXITSTATUS(status));
  if (err.size() > 2000) err = "…" + err.substr(err.size() - 2000);
  return err.empty() ? why : why + ": " + err;
}

std::string gp_str(const std::string& text) {
  std::string q = "'";
  for (char c : text) q += (c == '\'') ? std::string("''") : std::string(1, c);
  return q + "'";
}

std::string inline_svg(const std::string& path) {
  if (!file_exists(path)) return "";
  const std::string svg = read_file(path);
  const size_t begin = svg.find("<svg");
  const size_t end = svg.rfind("</svg>");
  if (begin == std::string::npos || end == std::string::npos || end < begin) return "";
  return svg.substr(begin, end + 6 - begin);
}

}  // namespace anchorsweep
