#include "sweep/journal.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

#include "common/files.hpp"
#include "config/config.hpp"

namespace anchorsweep {

JournalContents read_journal(const std::string& path) {
  JournalContents out;
  if (!file_exists(path)) return out;
  const std::string text = read_file(path);
  size_t start = 0;
  int64_t lineno = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    const bool complete = end != std::string::npos;
    std::string line = text.substr(start, complete ? end - start : std::string::npos);
    ++lineno;
    start = complete ? end + 1 : text.size();
    if (line.empty()) continue;
    try {
      if (!complete) throw std::runtime_error("no newline");  // the writer died mid-line
      out.records.push_back(nlohmann::json::parse(line));
    } catch (const std::exception& e) {
      if (start >= text.size()) {
        out.torn = true;
        break;
      }
      throw InputError(path + ":" + std::to_string(lineno) + ": malformed journal line: " + e.what());
    }
  }
  return out;
}

Journal::Journal(const std::string& path) : path_(path) {
  // Keep everything up to the last newline: a torn tail would glue itself to the next record.
  if (file_exists(path)) {
    const std::string text = read_file(path);
    const size_t keep = text.empty() ? 0 : text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    if (keep != text.size() && ::truncate(path.c_str(), static_cast<off_t>(keep)) != 0)
      throw std::runtime_error(path + ": cannot cut torn last line: " + std::strerror(errno));
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
