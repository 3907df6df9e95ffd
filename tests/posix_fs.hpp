// The tests' file helpers, on anchorsweep's POSIX ones (common/files.hpp) rather than
// std::filesystem, whose functions upstream LibTorch exports crashing copies of (see there).
#pragma once

#include <string>

#include "common/files.hpp"

namespace anchorsweep::testing::fs {

inline bool exists(const std::string& p) { return file_exists(p); }
inline bool is_directory(const std::string& p) { return anchorsweep::is_directory(p); }
inline bool is_empty(const std::string& dir) { return list_dir(dir).empty(); }
inline void create_directories(const std::string& p) { make_dirs(p); }
inline std::string temp_directory_path() { return temp_dir(); }
// rm -rf that never throws: clean-up in destructors and TearDown.
inline void remove_all(const std::string& p) noexcept {
  try {
    remove_tree(p);
  } catch (...) {
  }
}
inline void copy_file(const std::string& from, const std::string& to) { write_file_atomic(to, read_file(from)); }
// cp -r of a directory of plain files and directories.
inline void copy_tree(const std::string& from, const std::string& to) {
  make_dirs(to);
  for (const auto& name : list_dir(from)) {
    const std::string a = from + "/" + name, b = to + "/" + name;
    if (anchorsweep::is_directory(a)) copy_tree(a, b);
    else copy_file(a, b);
  }
}

}  // namespace anchorsweep::testing::fs
