// Journal: results.jsonl, the run's record of finished work. One JSON object per line,
// appended and fsynced before anyone is told the trial is done, so no result is ever lost.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace anchorsweep {

// Reading the journal is report/'s job (read_results: latest line per trial wins, a torn last
// line is skipped); this is the writer.
class Journal {
 public:
  // Opens for appending; first cuts a torn last line (bytes after the last newline: a write
  // the crash interrupted) off, so new lines start clean.
  explicit Journal(const std::string& path);
  bool cut_torn_line() const { return cut_torn_line_; }
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  void append(const nlohmann::json& record);  // write + fsync; throws on I/O error

 private:
  std::string path_;
  int fd_ = -1;
  bool cut_torn_line_ = false;
};

}  // namespace anchorsweep
