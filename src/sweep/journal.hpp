// Journal: results.jsonl, the run's record of finished work. One JSON object per line,
// appended and fsynced before anyone is told the trial is done, so no result is ever lost.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace anchorsweep {

// Every complete line of the journal. A torn last line (a crash mid-write) is dropped and
// reported in `torn`; a malformed line elsewhere throws InputError naming its line number.
struct JournalContents {
  std::vector<nlohmann::json> records;
  bool torn = false;
};
JournalContents read_journal(const std::string& path);

class Journal {
 public:
  // Opens for appending; first cuts a torn last line off, so new lines start clean.
  explicit Journal(const std::string& path);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  void append(const nlohmann::json& record);  // write + fsync; throws on I/O error

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace anchorsweep
