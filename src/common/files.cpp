#include "common/files.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>
#include <algorithm>
#include <cstdlib>
#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.hpp"

namespace anchorsweep {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot read: " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

[[noreturn]] void io_error(const std::string& what, int err) {
  throw std::runtime_error(what + ": " + std::strerror(err));
}

void write_all(int fd, const std::string& content, const std::string& name) {
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      io_error(name + ": write failed", errno);
    }
    off += static_cast<size_t>(n);
  }
}

}  // namespace

void fsync_directory(const std::string& dir) {
  const std::string d = dir.empty() ? "." : dir;
  int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) io_error(d + ": cannot open directory to fsync it", errno);
  // Some filesystems cannot fsync a directory (EINVAL); their renames are durable anyway.
  if (::fsync(fd) != 0 && errno != EINVAL) {
    int e = errno;
    ::close(fd);
    io_error(d + ": fsync of directory failed", e);
  }
  ::close(fd);
}

void write_file_atomic(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) io_error(tmp + ": cannot create", errno);
  try {
    write_all(fd, content, tmp);
    if (::fsync(fd) != 0) io_error(tmp + ": fsync failed", errno);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {  // NFS reports a failed write-back here
    int e = errno;
    ::unlink(tmp.c_str());
    io_error(tmp + ": close failed", e);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    io_error(path + ": rename failed", e);
  }
  fsync_directory(parent_dir(path));
}

void make_dirs(const std::string& path) {
  // Create one level at a time so that each new entry is fsynced into its parent: a crash
  // must not lose a directory that already holds fsynced files.
  const std::string p = normalize_path(path);
  for (size_t end = p.find('/', 1);; end = p.find('/', end + 1)) {
    const std::string built = p.substr(0, end);
    if (!built.empty() && built != "." && built != ".." && !is_directory(built)) {
      if (::mkdir(built.c_str(), 0777) != 0 && !(errno == EEXIST && is_directory(built)))
        io_error(built + ": cannot create directory", errno);
      fsync_directory(parent_dir(built));
    }
    if (end == std::string::npos) break;
  }
}

void remove_file_durably(const std::string& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return;
    io_error(path + ": cannot remove", errno);
  }
  fsync_directory(parent_dir(path));
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string normalize_path(const std::string& p) {
  const bool absolute = !p.empty() && p[0] == '/';
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    const std::string part = p.substr(i, j - i);
    i = j + 1;
    if (part.empty() || part == ".") continue;
    if (part == ".." && !parts.empty() && parts.back() != "..") {
      parts.pop_back();
    } else if (part == ".." && absolute) {
      continue;  // "/.." is "/"
    } else {
      parts.push_back(part);
    }
  }
  std::string out = absolute ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) out += (k ? "/" : "") + parts[k];
  if (out.empty() && !p.empty()) out = ".";
  return out;
}

std::string parent_dir(const std::string& p) {
  const size_t slash = p.find_last_of('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : p.substr(0, slash);
}

std::string join_path(const std::string& dir, const std::string& p) {
  if (dir.empty() || (!p.empty() && p[0] == '/')) return normalize_path(p);
  return normalize_path(dir + "/" + p);
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> list_dir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) io_error(dir + ": cannot list directory", errno);
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

void remove_tree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    io_error(path + ": cannot remove", errno);
  }
  // Depth first (a directory after its entries), never following links.
  const int rc = ::nftw(path.c_str(), [](const char* f, const struct stat*, int, struct FTW*) {
    return ::remove(f) == 0 || errno == ENOENT ? 0 : errno;
  }, 16, FTW_DEPTH | FTW_PHYS);
  if (rc != 0) io_error(path + ": cannot remove", rc > 0 ? rc : errno);
}

std::string read_link(const std::string& path) {
  std::vector<char> buf(4096);
  const ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
  return n > 0 ? std::string(buf.data(), static_cast<size_t>(n)) : std::string();
}

std::string temp_dir() {
  const char* t = std::getenv("TMPDIR");
  return t && *t ? std::string(t) : std::string("/tmp");
}

namespace {
constexpr uint64_t kFnvOffset = 1469598103934665603ULL, kFnvPrime = 1099511628211ULL;
uint64_t fnv1a(uint64_t h, const void* data, size_t size) {
  auto p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= kFnvPrime;
  }
  return h;
}
std::string hex64(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}
}  // namespace

FileFingerprint fingerprint_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot read: " + std::strerror(errno));
  FileFingerprint f;
  uint64_t h = kFnvOffset;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto got = static_cast<size_t>(in.gcount());
    h = fnv1a(h, buf.data(), got);
    f.size += got;
  }
  if (in.bad()) throw InputError(path + ": read error");
  f.hash = hex64(h);
  return f;
}

std::string fnv1a_hex(const void* data, size_t size) {
  return hex64(fnv1a(kFnvOffset, data, size));
}

std::string local_host() {
  char h[256] = {0};
  ::gethostname(h, sizeof h - 1);
  return h;
}

}  // namespace anchorsweep
