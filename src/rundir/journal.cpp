#include "rundir/journal.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

#include "common/files.hpp"
#include "common/errors.hpp"

namespace anchorsweep {

using nlohmann::json;

namespace {

std::vector<std::pair<size_t, std::string>> numbered_nonempty_lines(const std::string& text) {
  std::vector<std::pair<size_t, std::string>> out;
  std::istringstream in(text);
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") != std::string::npos) out.emplace_back(n, line);
  }
  return out;
}

// Throws JournalVersionError, naming `where` and both versions, when `header` is a journal line of a
// version newer than kJournalVersion; returns its version.
int64_t check_journal_header(const nlohmann::json& header, const std::string& where) {
  const auto v = header.find("version");
  if (v == header.end() || !v->is_number_integer())
    throw InputError(where + ": the journal's header line has no integer \"version\"");
  const int64_t version = v->get<int64_t>();
  if (version > kJournalVersion)
    throw JournalVersionError(where + ": journal format version " + std::to_string(version) + " is newer than this anchorsweep reads (version " +
                     std::to_string(kJournalVersion) + "): use the anchorsweep that wrote it, or a newer one");
  return version;
}

}  // namespace

nlohmann::json journal_header() { return {{"type", name_of(RecordType::journal)}, {"version", kJournalVersion}}; }

JournalText read_journal_text(const std::string& text, const std::string& name) {
  JournalText out;
  const auto lines = numbered_nonempty_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& [lineno, line] = lines[i];
    const std::string where = name + ":" + std::to_string(lineno);
    json j;
    try {
      j = json::parse(line);
    } catch (const json::parse_error& e) {
      if (i + 1 == lines.size()) {
        out.warnings.push_back(where + ": torn last line skipped (a write was interrupted)");
        continue;
      }
      throw InputError(where + ": malformed: " + e.what());
    }
    if (!j.is_object()) throw InputError(where + ": malformed: not a JSON object");
    const std::string type = j.value("type", "");
    const auto record = parse_name<RecordType>(type);
    if (record == RecordType::journal) {
      out.version = check_journal_header(j, where);
    } else if (record) {
      out.lines.push_back({lineno, *record, std::move(j)});
    } else if (type.empty()) {
      throw InputError(where + ": malformed: no \"type\" field");
    } else {
      out.warnings.push_back(where + ": line of unknown type \"" + type + "\" ignored");
    }
  }
  return out;
}

JournalText read_journal(const std::string& run_dir) {
  const std::string path = run_dir + "/results.jsonl";
  if (!file_exists(path)) throw InputError(path + ": no journal (results.jsonl) in the run directory");
  return read_journal_text(read_file(path), path);
}

namespace {

// Typed records of one journal; a later line of the same trial (id, init) or seed replaces an earlier one.
RunResults typed_results(JournalText text, const std::string& name) {
  RunResults out;
  out.version = text.version;
  out.warnings = std::move(text.warnings);
  std::map<std::pair<std::string, std::optional<AdapterInit>>, size_t> trial_at;  // (id, init) -> index
  std::map<int64_t, size_t> pretrain_at;
  for (const auto& l : text.lines) {
    try {
      if (l.type == RecordType::trial) {
        TrialResult r = trial_from_json(l.record);
        auto key = std::make_pair(r.key.id(), r.init);
        if (auto it = trial_at.find(key); it != trial_at.end()) {
          out.trials[it->second] = std::move(r);
        } else {
          trial_at[key] = out.trials.size();
          out.trials.push_back(std::move(r));
        }
      } else if (l.type == RecordType::pretrain) {
        PretrainRecord p = pretrain_from_json(l.record);
        if (auto it = pretrain_at.find(p.seed); it != pretrain_at.end()) {
          out.pretrains[it->second] = std::move(p);
        } else {
          pretrain_at[p.seed] = out.pretrains.size();
          out.pretrains.push_back(std::move(p));
        }
      } else if (l.type == RecordType::checkpoint) {
        out.checkpoints.push_back({l.record.at("task").get<std::string>(), l.record.at("epoch").get<int64_t>()});
      }
    } catch (const std::exception& e) {
      throw InputError(name + ":" + std::to_string(l.line) + ": malformed: " + e.what());
    }
  }
  return out;
}

}  // namespace

RunResults parse_results(const std::string& text, const std::string& name) {
  return typed_results(read_journal_text(text, name), name);
}

RunResults read_results(const std::string& run_dir) {
  const std::string path = run_dir + "/results.jsonl";
  return typed_results(read_journal(run_dir), path);
}

Journal::Journal(const std::string& path) : path_(path) {
  // Keep everything up to the last newline: a torn tail would glue itself to the next record.
  // A tail that is a whole record and lacks only its newline is kept and ended instead: the
  // readers count it (it parses), so the writer must not drop it.
  if (file_exists(path)) {
    const std::string text = read_file(path);
    const size_t keep = text.empty() ? 0 : text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
    const std::string tail = text.substr(keep);
    const bool whole = !tail.empty() && nlohmann::json::accept(tail) && nlohmann::json::parse(tail).is_object();
    if (whole) {
      const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
      if (fd < 0 || ::write(fd, "\n", 1) != 1 || ::fsync(fd) != 0)
        throw std::runtime_error(path + ": cannot end its last line: " + std::strerror(errno));
      ::close(fd);
    } else if (keep != text.size()) {
      if (::truncate(path.c_str(), static_cast<off_t>(keep)) != 0)
        throw std::runtime_error(path + ": cannot cut torn last line: " + std::strerror(errno));
      cut_torn_line_ = true;
    }
  }
  const bool created = !file_exists(path);
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd_ < 0) throw std::runtime_error(path + ": cannot open journal: " + std::strerror(errno));
  if (created) {
    append(journal_header());  // a journal that already has lines keeps the version it has
    fsync_directory(parent_dir(path));  // the entry too
  }
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

void Journal::append(const nlohmann::json& record) { append_many({record}); }

void Journal::append_many(const std::vector<nlohmann::json>& records) {
  std::string line;
  for (const auto& r : records) line += r.dump() + "\n";
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
