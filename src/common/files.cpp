#include "common/files.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>
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
  fsync_directory(std::filesystem::path(path).parent_path().string());
}

void make_dirs(const std::string& path) {
  // Create one level at a time so that each new entry is fsynced into its parent: a crash
  // must not lose a directory that already holds fsynced files.
  std::filesystem::path p = std::filesystem::path(path).lexically_normal();
  std::filesystem::path built;
  for (const auto& part : p) {
    built /= part;
    if (part.empty() || part == "/" ) continue;
    std::error_code ec;
    if (std::filesystem::is_directory(built, ec)) continue;
    if (!std::filesystem::create_directory(built, ec) && ec)
      throw std::runtime_error(built.string() + ": cannot create directory: " + ec.message());
    fsync_directory(built.parent_path().string());
  }
}

void remove_file_durably(const std::string& path) {
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return;
    io_error(path + ": cannot remove", errno);
  }
  fsync_directory(std::filesystem::path(path).parent_path().string());
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
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
