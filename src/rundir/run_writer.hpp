// RunWriter: the one thread that touches rank 0's disk during a sweep.
//
// The coordinator never waits for a disk: it queues files and journal lines here and goes on
// handing out tasks. The writer works through the queue in order and group-commits the
// journal: every line queued while the previous fsync ran is written with one write() and made
// durable with one fsync. A file is always on disk before the journal line that names it,
// because files are written as they come and lines only when a batch ends (or before a
// removal, so a checkpoint is never deleted before the line that makes it unnecessary).
//
// A failed write is never ignored: the first error stops the writer, `error()` reports it and
// `flush()` rethrows it, and the sweep ends with it.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace anchorsweep {

class RunDirectory;

class RunWriter {
 public:
  // `refresh_tables` rewrites the CSV views of the journal; it is called at most every 2 s and
  // never for more than a tenth of the writer's time. May be empty.
  // `status` gives status.json's content; the writer rewrites that file (atomically) every 2 s,
  // so its age tells `anchorsweep status` that rank 0 is alive. May be empty.
  RunWriter(RunDirectory& dir, std::function<void()> refresh_tables, std::function<nlohmann::json()> status = {});
  ~RunWriter();  // drains the queue, then joins
  RunWriter(const RunWriter&) = delete;
  RunWriter& operator=(const RunWriter&) = delete;

  // `io` writes a file (atomically, through RunDirectory); `line` is appended after it.
  void write(std::function<void()> io);
  void journal(nlohmann::json line);
  // Runs after every line queued before it is durable.
  void remove(std::function<void()> io);
  void tables_changed();

  // Blocks until everything queued so far is on disk; rethrows the writer's first error.
  void flush();
  std::string error() const;

 private:
  struct Job {
    enum Kind { file, line, removal } kind;
    std::function<void()> io;
    nlohmann::json record;
  };
  void loop();
  void push(Job job);

  RunDirectory& dir_;
  std::function<void()> refresh_tables_;
  std::function<nlohmann::json()> status_;
  mutable std::mutex mu_;
  std::condition_variable wake_, idle_;
  std::deque<Job> queue_;
  bool busy_ = false, closing_ = false, tables_dirty_ = false;
  std::string error_;
  std::thread thread_;
};

}  // namespace anchorsweep
