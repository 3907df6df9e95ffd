#include "sweep/sweep.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <iostream>
#include <sstream>
#include <thread>
#include <unistd.h>

#include <torch/torch.h>

#include "comm/mpi_comm.hpp"
#ifdef ANCHORSWEEP_WITH_NCCL
#include "comm/nccl_comm.hpp"
#endif
#include "data/example.hpp"
#include "report/report.hpp"
#include "sweep/coordinator.hpp"
#include "sweep/messages.hpp"
#include "sweep/plan.hpp"
#include "sweep/progress.hpp"
#include "sweep/run_directory.hpp"
#include "report/summary_table.hpp"

namespace anchorsweep {

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop = true; }

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string local_host() {
  char h[256] = {0};
  ::gethostname(h, sizeof h - 1);
  return h;
}

// Where this rank trains: a GPU by local rank when LibTorch sees any, else the CPU with its
// share of the node's cores.
Placement place(const SweepConfig& cfg, int rank, int local_rank, int local_size, const std::string& host) {
  Placement p;
  p.host = host;
  p.rank = rank;
  if (torch::cuda::is_available()) {
    p.device = "cuda:" + std::to_string(local_rank % static_cast<int>(torch::cuda::device_count()));
  }
  const int64_t cores = std::max<int64_t>(1, std::thread::hardware_concurrency());
  p.threads = cfg.run.threads > 0 ? cfg.run.threads : std::max<int64_t>(1, cores / std::max(1, local_size));
  return p;
}

void worker_loop_local(Coordinator& coord, Worker& worker) {
  while (true) {
    if (g_stop) coord.request_stop();
    auto a = coord.next(0, worker.cached_seeds());
    if (a.kind == Assignment::done) return;
    if (a.kind == Assignment::wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    coord.complete(0, worker.run(a.work, a.encoder.empty() ? nullptr : &a.encoder));
  }
}

void worker_loop_remote(comm::MpiComm& mpi, Worker& worker) {
  mpi.send(0, request_message(worker.cached_seeds()));
  comm::Message m;
  while (true) {
    mpi.recv(m, 0);
    if (m.tag == comm::kStop) return;
    if (m.tag == comm::kWait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      mpi.send(0, request_message(worker.cached_seeds()));
      continue;
    }
    auto task = task_of(m);
    const std::vector<char>* enc = m.blobs.empty() || m.blobs[0].empty() ? nullptr : &m.blobs[0];
    auto out = worker.run(task, enc);
    mpi.send(0, result_message(out, worker.cached_seeds()));  // a result is also the next request
  }
}

// Rank 0's MPI service thread: answers the other ranks' requests and takes their results until
// every one of them has been told to stop. It sleeps briefly when nothing waits, instead of
// spinning in a blocking MPI_Recv on a core the local worker trains on.
void serve_remote_ranks(comm::MpiComm& mpi, Coordinator& coord) {
  int active = mpi.size() - 1;
  comm::Message m;
  auto idle = std::chrono::microseconds(50);
  while (active > 0) {
    if (g_stop) coord.request_stop();
    int src = -1;
    if (!mpi.poll(&src)) {
      std::this_thread::sleep_for(idle);
      idle = std::min(idle * 2, std::chrono::microseconds(2000));
      continue;
    }
    idle = std::chrono::microseconds(50);
    mpi.recv(m, src);
    if (m.tag == comm::kResult) coord.complete(src, task_output_of(m));
    auto a = coord.next(src, cached_seeds_of(m));
    mpi.send(src, assignment_message(a));
    if (a.kind == Assignment::done) --active;
  }
}

nlohmann::json run_facts(const SweepConfig& cfg, const Corpus& corpus, const SweepOptions& o, int ranks,
                         const std::vector<std::string>& hosts, const std::vector<std::string>& devices,
                         const std::string& mpi_version, int64_t threads, const std::string& nccl) {
  return {{"labels", corpus.labels},
          {"negative_label", cfg.data.negative_label},
          {"ranks", ranks},
          {"hosts", hosts},
          {"devices", devices},
          {"threads_per_rank", threads},
          {"nccl", nccl},
          {"versions", {{"libtorch", TORCH_VERSION}, {"mpi", mpi_version}, {"anchorsweep", "0.1.0"}}},
          {"started", now_iso()},
          {"finished", nullptr},
          {"wall_s", nullptr},
          {"config_hash", cfg.hash},
          {"command", o.command_line}};
}

}  // namespace

void install_stop_handlers() {
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGUSR1, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
}

std::string describe_plan(const SweepConfig& cfg, int64_t ranks) {
  auto plan = make_plan(cfg, ranks);
  std::ostringstream s;
  s << "plan for " << ranks << " rank(s): " << plan.tasks.size() << " tasks, " << plan.trial_count()
    << " trials, fuse width " << plan.fuse_width << " (finetune.mode = " << cfg.finetune.mode
    << (cfg.finetune.frozen_dropout ? ", frozen_dropout: full forward" : "") << ")\n";
  for (const auto& t : plan.tasks) {
    s << "  " << t.id << "  [" << to_string(t.type) << "]";
    if (t.type == TaskType::finetune) s << "  needs pretrain-s" << t.seed;
    if (!t.trials.empty()) {
      s << "  trials:";
      for (const auto& k : t.trials) s << " " << k.id();
    }
    s << "\n";
  }
  s << "rank 0 coordinates and trains; every rank asks rank 0 for its next task.\n";
  return s.str();
}

int run_sweep(const SweepConfig& cfg, const SweepOptions& options, comm::MpiComm* mpi) {
  const auto t0 = std::chrono::steady_clock::now();
  const int rank = mpi ? mpi->rank() : 0;
  const int ranks = mpi ? mpi->size() : 1;
  const std::string host = mpi ? mpi->host() : local_host();
  Placement placement = place(cfg, rank, mpi ? mpi->local_rank() : 0, mpi ? mpi->local_size() : 1, host);
  torch::set_num_threads(static_cast<int>(placement.threads));

  // Every rank reads the data; errors are input errors on all of them alike.
  Corpus corpus = load_corpus(cfg.data);
  WorkerHooks hooks = options.hooks;
  if (options.delay_rank >= 0 && options.delay_rank != rank) hooks.delay_ms = 0;
  Worker worker(cfg, corpus, placement, hooks);

  std::vector<std::string> hosts{host}, devices{placement.device};
  std::string nccl = "not used";
  if (mpi) {
    hosts = mpi->all_gather(host);
    devices = mpi->all_gather(placement.device);
#ifdef ANCHORSWEEP_WITH_NCCL
    // When every rank holds a GPU, bring NCCL up over MPI and prove the ring with one all-reduce.
    const bool all_gpu = mpi->max_over_ranks(placement.device.rfind("cuda", 0) == 0 ? 0 : 1) == 0;
    if (all_gpu && mpi->size() > 1) {
      comm::NcclComm ring(*mpi, std::stoi(placement.device.substr(5)));
      const double sum = ring.all_reduce_sum(1.0);
      nccl = "NCCL " + ring.version() + ": all-reduce over " + std::to_string(mpi->size()) + " GPU ranks gave " +
             std::to_string(static_cast<int>(sum)) + (sum == mpi->size() ? " (ok)" : " (WRONG)");
    }
#endif
  }

  // Rank 0 opens the run directory; if it refuses (lock, resume), every rank stops with exit 2.
  std::unique_ptr<RunDirectory> dir;
  std::string refusal;
  if (rank == 0) {
    try {
      dir = std::make_unique<RunDirectory>(cfg, options.resume);
    } catch (const InputError& e) {
      refusal = e.what();
    }
  }
  if (mpi) mpi->broadcast(refusal);
  if (!refusal.empty()) {
    if (rank == 0) std::cerr << "anchorsweep: " << refusal << std::endl;
    return kExitBadInput;
  }

  if (rank != 0) {
    worker_loop_remote(*mpi, worker);
    return kExitOk;  // rank 0 decides the job's status
  }

  const auto& prior = dir->prior();
  auto plan = make_plan(cfg, ranks, prior.done_trials, prior.pretrained_seeds);
  auto facts = run_facts(cfg, corpus, options, ranks, hosts, devices, mpi ? mpi->library_version() : "none (one process)",
                         placement.threads, nccl);
  dir->write_run_facts(facts);
  Progress progress(plan.trial_count(), ranks, options.log_format, options.quiet);
  if (options.resume)
    progress.note("resuming " + dir->path() + ": " + std::to_string(prior.done_trials.size()) + " trials already done, " +
                  std::to_string(plan.trial_count()) + " to run" + (prior.torn ? " (dropped a torn last journal line)" : ""));
  progress.note("run directory " + dir->path() + ": " + std::to_string(plan.tasks.size()) + " tasks, " +
                std::to_string(plan.trial_count()) + " trials on " + std::to_string(ranks) + " rank(s), fuse width " +
                std::to_string(plan.fuse_width));

  Coordinator coord(cfg, plan, *dir, progress);
  std::thread service;
  if (mpi && ranks > 1) service = std::thread([&] { serve_remote_ranks(*mpi, coord); });
  worker_loop_local(coord, worker);
  if (service.joinable()) service.join();

  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  facts["finished"] = now_iso();
  facts["wall_s"] = wall;
  dir->write_run_facts(facts);
  write_tables(dir->path());
  if (options.report) {
    auto paths = write_report(dir->path());
    for (const auto& w : paths.warnings) progress.note(w);
    if (!options.quiet) std::cout << "report: " << paths.report_md << "\n        " << paths.report_html << std::endl;
  }
  if (!options.quiet) std::cout << summary_table(dir->path()) << std::flush;
  const int64_t left = coord.remaining();
  const int64_t failed = coord.failed();
  if (!options.quiet)
    std::cout << "results: " << dir->path() << "/results.csv, summary: " << dir->path() << "/summary.csv; wall time "
              << wall << " s" << (failed ? "; " + std::to_string(failed) + " trial(s) FAILED" : "")
              << (left ? "; stopped early with " + std::to_string(left) + " trial(s) left: rerun with --resume" : "")
              << std::endl;
  if (left > 0) return kExitStopped;
  return failed > 0 ? kExitTrialsFailed : kExitOk;
}

}  // namespace anchorsweep
