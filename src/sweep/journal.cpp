#include "sweep/journal.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <unistd.h>

#include "common/files.hpp"
#include "config/config.hpp"

namespace anchorsweep {

Journal::Journal(const std::string& path) : path_(path) {
  // Keep everything up to the last newline: a torn tail would glue itself to the next record.
  if (file_exists(path)) {
    const std::string text = read_file(path);
    const size_t keep = text.empty() ? 0 : text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    if (keep != text.size()) {
      if (::truncate(path.c_str(), static_cast<off_t>(keep)) != 0)
        throw std::runtime_error(path + ": cannot cut torn last line: " + std::strerror(errno));
      cut_torn_line_ = true;
    }
  }
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd_ < 0) throw std::runtime_error(path + ": cannot open journal: " + std::strerror(errno));
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

void Journal::append(const nlohmann::json& record) {
  const std::string line = record.dump() + "\n";
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(path_ + ": journal write failed: " + std::strerror(errno));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd_) != 0) throw std::runtime_error(path_ + ": fsync failed: " + std::strerror(errno));
}

}  // namespace anchorsweep
