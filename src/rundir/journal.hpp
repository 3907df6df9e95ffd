// Journal: results.jsonl, the run's record of finished work. One JSON object per line,
// appended and fsynced before anyone is told the trial is done, so no result is ever lost.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/errors.hpp"
#include "common/trial_result.hpp"

namespace anchorsweep {

// The journal's format version. A new journal's first line is {"type":"journal","version":N};
// a journal without that line is version 0 (written before versions), read as version 1.
// A journal of a newer version than this build reads is refused (InputError, exit 2).
constexpr int64_t kJournalVersion = 1;
nlohmann::json journal_header();

// A journal written by a newer anchorsweep than this one.
struct JournalVersionError : InputError {
  using InputError::InputError;
};


// An epoch checkpoint of a long task (pretraining, scratch), journaled after its file is
// renamed into checkpoints/: resume continues the task after `epoch`.
struct CheckpointRecord {
  std::string task;
  int64_t epoch = 0;
};

struct RunResults {
  std::vector<TrialResult> trials;        // one per (id, init); the later line wins
  std::vector<PretrainRecord> pretrains;  // one per seed; the later line wins
  std::vector<CheckpointRecord> checkpoints;  // every epoch checkpoint, in journal order
  std::vector<std::string> warnings;      // e.g. a torn last line that was skipped
  int64_t version = 0;                    // the journal's format version (0: no header line)
};

// One line of a journal as read: its line number, its type and the record itself.
struct JournalLine {
  size_t line = 0;
  RecordType type = RecordType::trial;
  nlohmann::json record;
};

// The journal's lines, read once: every reader (report, merge, status, resume) starts here.
struct JournalText {
  std::vector<JournalLine> lines;         // pretrain, trial and checkpoint records, in order
  std::vector<std::string> warnings;      // a torn last line, lines of unknown type
  int64_t version = 0;                    // the journal's format version (0: no header line)
};

// Splits journal text into records. `name` prefixes error messages ("NAME:LINE: malformed ...").
// Checks the header line's version (JournalVersionError for a newer one). A last non-empty line
// that is not JSON is skipped with a warning (a crash mid-write); any other line that is not a
// JSON object with a "type" throws InputError; a line of an unknown type is skipped with a warning.
JournalText read_journal_text(const std::string& text, const std::string& name);

// RUN_DIR/results.jsonl, split by read_journal_text; throws InputError when it does not exist.
JournalText read_journal(const std::string& run_dir);

// The journal as typed records (read_journal_text, then each record parsed).
// A record that does not parse throws InputError naming its line.
RunResults parse_results(const std::string& text, const std::string& name);

// RUN_DIR/results.jsonl; throws InputError when it does not exist.
RunResults read_results(const std::string& run_dir);

// The writer. Lines: {"type":"journal","version":N} first in a new journal, then
// {"type":"pretrain"|"trial"|"checkpoint", ...}.
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
  // Group commit: all lines in one write(), one fsync.
  void append_many(const std::vector<nlohmann::json>& records);

 private:
  std::string path_;
  int fd_ = -1;
  bool cut_torn_line_ = false;
};

}  // namespace anchorsweep
