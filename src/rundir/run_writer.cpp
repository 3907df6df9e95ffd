#include "rundir/run_writer.hpp"

#include <chrono>
#include <stdexcept>

#include "rundir/run_directory.hpp"

namespace anchorsweep {

RunWriter::RunWriter(RunDirectory& dir, std::function<void()> refresh_tables, std::function<nlohmann::json()> status)
    : dir_(dir), refresh_tables_(std::move(refresh_tables)), status_(std::move(status)), thread_([this] { loop(); }) {}

RunWriter::~RunWriter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void RunWriter::push(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_.empty()) return;  // the sweep is ending with that error; nothing more is written
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void RunWriter::write(std::function<void()> io) { push({Job::file, std::move(io), {}}); }
void RunWriter::journal(nlohmann::json line) { push({Job::line, {}, std::move(line)}); }
void RunWriter::remove(std::function<void()> io) { push({Job::removal, std::move(io), {}}); }
void RunWriter::tables_changed() {
  std::lock_guard<std::mutex> lock(mu_);
  tables_dirty_ = true;
  wake_.notify_one();
}

void RunWriter::flush() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [&] { return (queue_.empty() && !busy_) || !error_.empty(); });
  if (!error_.empty()) throw std::runtime_error(error_);
}

std::string RunWriter::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void RunWriter::loop() {
  using clock = std::chrono::steady_clock;
  clock::time_point last_tables{}, last_status{};
  clock::duration tables_cost{};
  while (true) {
    std::deque<Job> batch;
    bool refresh = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const auto throttle = std::max<clock::duration>(std::chrono::seconds(2), 10 * tables_cost);
      auto tables_due = [&] { return tables_dirty_ && clock::now() - last_tables >= throttle; };
      wake_.wait_for(lock, std::chrono::milliseconds(200),
                     [&] { return closing_ || !queue_.empty() || tables_due(); });
      if (queue_.empty() && closing_) return;  // (tables at the end are the sweep's own job)
      batch.swap(queue_);
      refresh = tables_due() && error_.empty();
      if (refresh) tables_dirty_ = false;
      busy_ = !batch.empty() || refresh;
    }
    std::string failure;
    try {
      std::vector<nlohmann::json> lines;
      auto commit = [&] {
        if (!lines.empty()) dir_.append_many(lines);  // one write, one fsync
        lines.clear();
      };
      for (auto& job : batch) {
        switch (job.kind) {
          case Job::file: job.io(); break;
          case Job::line: lines.push_back(std::move(job.record)); break;
          case Job::removal: commit(); job.io(); break;
        }
      }
      commit();
      if (status_ && clock::now() - last_status >= std::chrono::seconds(2)) {
        dir_.write_status(status_());
        last_status = clock::now();
      }
      if (refresh && refresh_tables_) {
        const auto t0 = clock::now();
        refresh_tables_();
        last_tables = clock::now();
        tables_cost = last_tables - t0;
      }
    } catch (const std::exception& e) {
      failure = e.what();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!failure.empty() && error_.empty()) {
        error_ = "writing the run directory failed: " + failure;
        queue_.clear();
      }
      busy_ = false;
    }
    idle_.notify_all();
  }
}

}  // namespace anchorsweep
