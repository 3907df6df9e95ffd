#include "sweep/sweep.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <ctime>
#include <functional>
#include <iostream>
#include <random>
#include <set>
#include <optional>
#include <sstream>
#include <thread>
#include <sys/resource.h>
#include <unistd.h>

#include <torch/torch.h>

#include "comm/mpi_comm.hpp"
#include "comm/versions.hpp"
#ifdef ANCHORSWEEP_WITH_NCCL
#include "comm/nccl_comm.hpp"
#endif
#include "common/files.hpp"
#include "data/example.hpp"
#include "sweep/coordinator.hpp"
#include "train/grad_buckets.hpp"
#include "rundir/journal.hpp"
#include "sweep/messages.hpp"
#include "sweep/plan.hpp"
#include "sweep/progress.hpp"
#include "rundir/run_directory.hpp"
#include "rundir/run_writer.hpp"
#include "common/liveness.hpp"
#include "sweep/heartbeat.hpp"
#include "sweep/mpi_shard_group.hpp"
#include "sweep/placement.hpp"
#include "sweep/rank_watch.hpp"
#include "sweep/reuse.hpp"

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

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A request, result or epoch note that also says "this rank was asked to stop".
comm::Message with_stop(comm::Message m) {
  if (!g_stop) return m;
  auto h = nlohmann::json::parse(m.header);
  h["stop"] = true;
  m.header = h.dump();
  return m;
}

void worker_loop_local(Coordinator& coord, Worker& worker, comm::MpiComm* mpi) {
  worker.set_epoch_report([&](const std::string& task, int64_t epoch, std::vector<char> state) {
    if (g_stop) coord.request_stop();
    return coord.epoch_done(0, task, epoch, std::move(state));
  });
  while (true) {
    if (g_stop) coord.request_stop();
    auto a = coord.next(0, worker.cached_seeds());
    if (a.kind == Assignment::done) return;
    if (a.kind == Assignment::wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    // A data-parallel task: its communicator, for this task only (a.group is empty without MPI).
    auto group = a.group.size() > 1 ? group_for(*mpi, a.group, a.work.id, worker.device()) : nullptr;
    coord.complete(0, worker.run(a.work, a.encoder.empty() ? nullptr : &a.encoder,
                                 a.resume.empty() ? nullptr : &a.resume, group.get()));
  }
}

// Whether ranks watch each other (run.rank_timeout_s > 0): the heartbeat thread sends beside the
// training thread, which needs MPI_THREAD_MULTIPLE. Every rank computes the same answer.
bool watching_ranks(const SweepConfig& cfg, const comm::MpiComm& mpi) {
  return cfg.run.rank_timeout_s > 0 && mpi.size() > 1 && mpi.thread_multiple();
}

void worker_loop_remote(comm::MpiComm& mpi, Worker& worker, double rank_timeout_s, const std::string& root_host) {
  // Beats until this rank is told the sweep is done (the destructor stops them).
  std::optional<Heartbeat> beat;
  if (rank_timeout_s > 0) beat.emplace(mpi, rank_timeout_s, root_host);
  // Rank 0's next message for the training thread; its beats (and an abort) go to the heartbeat.
  auto receive = [&](comm::Message& m) {
    do mpi.recv(m, 0);
    while (beat && beat->absorb(m));
  };
  bool halted = false;
  worker.set_epoch_report([&](const std::string& task, int64_t epoch, std::vector<char> state) {
    mpi.send(0, with_stop(epoch_message(task, epoch, std::move(state))));
    comm::Message reply;
    receive(reply);
    if (reply.tag != comm::kGoOn || g_stop) halted = true;
    return !halted;
  });
  mpi.send(0, with_stop(request_message(worker.cached_seeds())));
  comm::Message m;
  // A rank with nothing to do asks again after 20 ms, then twice as late each time, up to 1 s:
  // hundreds of idle ranks (a pretraining that runs elsewhere) would otherwise send rank 0 tens
  // of thousands of requests a second (docs/scaling.md).
  auto wait = std::chrono::milliseconds(20);
  while (true) {
    receive(m);
    liveness::tick();
    if (m.tag == comm::kStop) {
      // With heartbeats: wait, watching rank 0, until it is done too (kBye); polled, so that an
      // idle rank does not spin on a core that rank 0 may still train on.
      while (beat) {
        if (mpi.try_recv(m, 0, -1) && !beat->absorb(m) && m.tag == comm::kBye) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      return;
    }
    if (m.tag == comm::kWait) {
      std::this_thread::sleep_for(wait);
      wait = std::min(wait * 2, std::chrono::milliseconds(1000));
      liveness::tick();
      mpi.send(0, with_stop(request_message(worker.cached_seeds())));
      continue;
    }
    wait = std::chrono::milliseconds(20);
    auto task = task_of(m);
    std::vector<char> encoder;
    std::string unreadable;  // the named encoder file could not be read as rank 0 wrote it
    try {
      encoder = encoder_of(m);
    } catch (const std::exception& e) {
      unreadable = e.what();
    }
    const std::vector<char>* enc = encoder.empty() ? nullptr : &encoder;
    const auto resume = resume_of(m);
    auto group = group_for(mpi, group_of(m), task.id, worker.device());
    // A finetune task (never a group's) whose encoder this rank cannot read fails alone, journaled
    // with the reason, as any failing task; --resume reruns it.
    auto out = unreadable.empty() ? worker.run(task, enc, resume.empty() ? nullptr : &resume, group.get())
                                  : worker.failed(task, unreadable);
    liveness::tick();
    mpi.send(0, with_stop(result_message(out, worker.cached_seeds())));  // a result is also the next request
  }
}

// Rank 0's MPI service thread: answers the other ranks' requests, epoch notes and results
// until every one of them has been told to stop. It sleeps briefly when nothing waits, instead
// of spinning in a blocking MPI_Recv on a core the local worker trains on. It never touches the
// disk: the coordinator queues all writing to the RunWriter.
//
// With run.rank_timeout_s, it also keeps the RankWatch: every message (a heartbeat too) says its
// sender lives, and it beats back to every watched rank. Once nothing waits (so that a backlog of
// beats is never taken for silence), a rank silent or stuck past the timeout, or one MPI cannot
// reach, is handed to `on_lost`, which ends the job; the other ranks are first told why (kAbort).
void serve_remote_ranks(comm::MpiComm& mpi, Coordinator& coord, double rank_timeout_s,
                        const std::function<void(const std::vector<LostRank>&)>& on_lost,
                        const std::atomic<bool>& local_done) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const double beat_period = Heartbeat::period_for(rank_timeout_s);
  ActiveClock clock(2 * beat_period, 0.0);  // rank 0 stopped for a while blames no one for it
  auto now_s = [&] { return clock.now(std::chrono::duration<double>(Clock::now() - t0).count()); };
  RankWatch watch(mpi.size(), rank_timeout_s, 0.0);
  double beat_sent = -beat_period;
  int active = mpi.size() - 1;
  comm::Message m;
  auto idle = std::chrono::microseconds(50);
  // With heartbeats, ranks told kStop wait for rank 0's own end (kBye), beaten meanwhile.
  while (active > 0 || (rank_timeout_s > 0 && !local_done)) {
    if (g_stop) coord.request_stop();
    if (rank_timeout_s > 0 && now_s() - beat_sent >= beat_period) {
      beat_sent = now_s();
      for (int r = 1; r < mpi.size(); ++r)
        if (std::string error; !mpi.post(r, {comm::kBeat, "{}", {}}, &error)) watch.unreachable(r, error);
    }
    int src = -1;
    if (!mpi.poll(&src)) {
      if (auto lost = watch.lost(now_s()); !lost.empty()) {
        std::string why;
        for (const auto& l : lost) why += (why.empty() ? "rank " : "; rank ") + std::to_string(l.rank) + " is lost: " + l.cause;
        for (int r = 1; r < mpi.size(); ++r)  // the finished ones too: they wait for kBye
          if (std::none_of(lost.begin(), lost.end(), [r](const LostRank& l) { return l.rank == r; }))
            mpi.post(r, {comm::kAbort, nlohmann::json{{"why", why}}.dump(), {}}, nullptr, true);
        on_lost(lost);
      }
      std::this_thread::sleep_for(idle);
      idle = std::min(idle * 2, std::chrono::microseconds(2000));
      continue;
    }
    idle = std::chrono::microseconds(50);
    mpi.recv(m, src);
    const auto header = nlohmann::json::parse(m.header);
    if (m.tag == comm::kBeat) {
      watch.heard(src, now_s(), header.value("stalled_s", 0.0));
      continue;
    }
    watch.heard(src, now_s());
    if (header.value("stop", false)) coord.request_stop();
    if (m.tag == comm::kEpoch) {
      auto note = epoch_of(m);
      const bool go_on = coord.epoch_done(src, note.task_id, note.epoch, std::move(note.state));
      mpi.send(src, {go_on ? comm::kGoOn : comm::kHalt, "{}", {}});
      continue;
    }
    if (m.tag == comm::kResult) coord.complete(src, task_output_of(m));
    auto a = coord.next(src, cached_seeds_of(m));
    mpi.send(src, assignment_message(a));
    if (a.kind == Assignment::done) {
      --active;
      watch.done(src);
    }
  }
  if (rank_timeout_s > 0)
    for (int r = 1; r < mpi.size(); ++r) mpi.post(r, {comm::kBye, "{}", {}}, nullptr, true);
}

// The config without its run.shard: the whole sweep a shard is part of.
SweepConfig whole_sweep(SweepConfig cfg) {
  cfg.run.shard_index = cfg.run.shard_count = 0;
  return cfg;
}

// Every trial this run's config plans (its shard's, for a shard), done or not: what
// `anchorsweep merge` checks the shards against for gaps.
std::vector<std::string> planned_trial_ids(const SweepConfig& cfg) {
  std::vector<std::string> ids;
  for (const Task& t : make_plan(cfg, 1).tasks)
    for (const TrialKey& k : t.trials) ids.push_back(k.id());
  return ids;
}

// What the loaded libraries run with, read after start-up (and after the re-exec of
// tune_cpu_libraries, or its failure): OpenBLAS's kernels as it reports them, and the OpenMP wait
// policy in this process's environment, each with why.
std::string blas_kernels_in_effect() {
  const std::string core = openblas_core();
  const char* why = std::getenv("ANCHORSWEEP_BLAS_WHY");
  return core.empty() ? std::string("not OpenBLAS") : core + (why ? std::string(" (") + why + ")" : std::string());
}

std::string omp_wait_in_effect() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* why = std::getenv("ANCHORSWEEP_OMP_WAIT_WHY");
  return std::string(policy ? policy : "libgomp default") + (why ? std::string(" (") + why + ")" : std::string());
}

nlohmann::json run_facts(const SweepConfig& cfg, const Corpus& corpus, const SweepOptions& o, int ranks,
                         const std::vector<std::string>& hosts, const std::vector<std::string>& devices,
                         const std::string& mpi_version, const Placement& placement, const std::string& nccl,
                         const nlohmann::json& data_files) {
  return {{"labels", corpus.labels},
          {"data_files", data_files},
          {"truncated_sentences", corpus.truncated},
          {"cpus", placement.cpus_why},
          {"omp_wait_policy", omp_wait_in_effect()},  // rank 0's; every rank's is in rank_placement
          {"blas_kernels", blas_kernels_in_effect()},
          {"negative_label", cfg.data.negative_label},
          {"ranks", ranks},
          {"hosts", hosts},
          {"devices", devices},
          {"gpu_placement", placement.gpu_why.empty() ? "no GPU: LibTorch sees none" : placement.gpu_why},
          {"shared_gpus", shared_gpus(hosts, devices)},
          {"threads_per_rank", placement.threads},
          {"nccl", nccl},
          {"versions", {{"libtorch", comm::libtorch_version()}, {"mpi", mpi_version}, {"anchorsweep", comm::anchorsweep_version()},
                        {"git_commit", comm::git_commit()}, {"cuda", comm::cuda_version()}, {"nccl", comm::nccl_version()}}},
          {"started", now_iso()},
          {"finished", nullptr},
          {"wall_s", nullptr},
          {"config_hash", cfg.hash},
          {"command", o.command_line},
          {"shard", cfg.run.sharded() ? nlohmann::json(std::to_string(cfg.run.shard_index) + "/" +
                                                       std::to_string(cfg.run.shard_count))
                                      : nlohmann::json(nullptr)},
          {"planned_trials", planned_trial_ids(cfg)},
          {"sweep_trials", planned_trial_ids(whole_sweep(cfg))}};
}

nlohmann::json placement_json(const Placement& p) {
  return {{"rank", p.rank}, {"host", p.host}, {"local_rank", p.local_rank}, {"local_size", p.local_size},
          {"threads", p.threads}, {"device", p.device_label()},
          // Per rank: nodes of one job may differ in CPU, and so in the kernels OpenBLAS runs.
          {"blas_kernels", blas_kernels_in_effect()}, {"omp_wait_policy", omp_wait_in_effect()}};
}

// This process's peak resident memory so far, in MiB (Linux reports ru_maxrss in KiB).
double peak_rss_mb() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

}  // namespace

namespace {

// What a run directory's journal holds done: ok trials by id, and seeds with an ok pretraining
// (both empty where nothing ran yet).
struct OkWork {
  std::set<std::string> trials;
  std::set<int64_t> seeds;
};

OkWork ok_work(const std::string& dir) {
  OkWork w;
  if (!file_exists(dir + "/results.jsonl")) return w;
  const auto results = read_results(dir);
  for (const auto& r : results.trials)
    if (r.status == Status::ok) w.trials.insert(r.key.id());
  for (const auto& r : results.pretrains)
    if (r.status == Status::ok) w.seeds.insert(r.seed);
  return w;
}

}  // namespace

void install_stop_handlers() {
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGUSR1, on_stop_signal);
  std::signal(SIGINT, on_stop_signal);
}

std::string describe_run_directory(const SweepConfig& cfg, bool resume) {
  const std::string dir = cfg.run_dir();
  if (!file_exists(dir + "/config.toml")) return "run directory " + dir + ": new\n";
  // What `run` would refuse, refused here with its words: never old results counted as done
  // for a config that did not make them.
  if (const std::string refusal = run_directory_refusal(cfg); !refusal.empty()) throw InputError(refusal);
  const std::set<std::string> done = ok_work(dir).trials;
  const auto all = make_plan(cfg, 1).trial_count();
  const auto left = make_plan(cfg, 1, done).trial_count();
  return "run directory " + dir + ": " + std::to_string(all - left) + " of " + std::to_string(all) +
         " trials done, " + std::to_string(left) + " to run" +
         (resume ? "" : left ? " (run --resume continues it)" : " (finished: run --resume does nothing)") + "\n";
}

std::string describe_store_reuse(const SweepConfig& cfg, int64_t ranks) {
  // Rank 0's facts as a run on this node with `ranks` ranks would have them.
  const Placement p = place(cfg, 0, 0, std::max<int64_t>(1, ranks), local_host());
  const OkWork done = ok_work(cfg.run_dir());
  std::string out;
  for (const auto& line : describe_reuse(cfg, done.seeds, done.trials, store_facts(placement_json(p)))) out += line + "\n";
  return out;
}

std::string describe_plan(const SweepConfig& cfg, int64_t ranks) {
  auto plan = make_plan(cfg, ranks);
  std::ostringstream s;
  s << "plan for " << ranks << " rank(s): " << plan.tasks.size() << " tasks, " << plan.trial_count()
    << " trials, fuse width " << plan.fuse_width << " (finetune.mode = " << name_of(cfg.finetune.mode)
    << (cfg.finetune.frozen_dropout ? ", frozen_dropout: full forward" : "") << ")\n";
  for (const auto& t : plan.tasks) {
    s << "  " << t.id << "  [" << name_of(t.type) << "]";
    if (t.type == TaskType::finetune)
      s << (cfg.data.format == DataFormat::features ? "  reads the given features" : "  needs pretrain-s" + std::to_string(t.seed));
    if (cfg.pretrain.ranks > 1 && t.type != TaskType::finetune)
      s << "  on a group of " << cfg.pretrain.ranks << " ranks (data-parallel)";
    if (!t.trials.empty()) {
      s << "  trials:";
      for (const auto& k : t.trials) s << " " << k.id();
    }
    s << "\n";
  }
  s << "rank 0 coordinates and trains; every rank asks rank 0 for its next task.\n";
  if (cfg.pretrain.ranks > 1)
    s << "pretrain.ranks = " << cfg.pretrain.ranks << ": each pretraining and scratch task waits until "
      << cfg.pretrain.ranks << " ranks are free (one gathering at a time; free ranks meanwhile take finetune "
      << "tasks), then they split every batch of it and sum their gradients"
      << (ranks < cfg.pretrain.ranks ? " (NOT POSSIBLE with " + std::to_string(ranks) + " rank(s))" : "") << ".\n";
  return s.str();
}

namespace {

// Every rank's placement in rank order (host, place among its node's ranks, threads, device),
// and NCCL brought up when every rank holds a GPU of its own.
struct RankFacts {
  nlohmann::json placement = nlohmann::json::array();
  std::vector<std::string> hosts, devices;
  std::string nccl = "not used";
};

RankFacts gather_rank_facts(const Placement& placement, comm::MpiComm* mpi) {
  RankFacts f;
  const std::string mine = placement_json(placement).dump();
  for (const auto& text : mpi ? mpi->all_gather(mine) : std::vector<std::string>{mine}) {
    f.placement.push_back(nlohmann::json::parse(text));
    f.hosts.push_back(f.placement.back()["host"]);
    f.devices.push_back(f.placement.back()["device"]);
  }
  if (mpi) {
#ifdef ANCHORSWEEP_WITH_NCCL
    // Bring NCCL up over MPI and prove the ring with one all-reduce (NCCL refuses two ranks of
    // one communicator on one GPU).
    const bool all_gpu = mpi->max_over_ranks(placement.device.rfind("cuda", 0) == 0 ? 0 : 1) == 0;
    const bool shared = !shared_gpus(f.hosts, f.devices).empty();
    if (all_gpu && shared) f.nccl = "not used: ranks share GPUs";
    if (all_gpu && !shared && mpi->size() > 1) {
      comm::NcclComm ring(*mpi, std::stoi(placement.device.substr(5)));
      const double sum = ring.all_reduce_sum(1.0);
      f.nccl = "NCCL " + ring.version() + ": all-reduce over " + std::to_string(mpi->size()) + " GPU ranks gave " +
               std::to_string(static_cast<int>(sum)) + (sum == mpi->size() ? " (ok)" : " (WRONG)");
    }
#endif
  }
  return f;
}

// Rank 0 opens the run directory; if it refuses (lock, resume), every rank learns it and the
// refusal is printed once. Returns null on the other ranks, and on every rank after a refusal.
std::unique_ptr<RunDirectory> open_run_directory(const SweepConfig& cfg, const SweepOptions& options, comm::MpiComm* mpi,
                                                 int rank, bool& refused) {
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
  refused = !refusal.empty();
  if (refused && rank == 0) std::cerr << "anchorsweep: " << refusal << std::endl;
  return refused ? nullptr : std::move(dir);
}

// Which ranks see rank 0's run directory (a shared file system): rank 0 writes a probe file with
// a random token, every rank reads it back. Index = rank; all false with run.encoder_transfer =
// "bytes" or one rank. Every rank calls it.
std::vector<bool> probe_run_dir_readers(const SweepConfig& cfg, const RunDirectory* dir, comm::MpiComm* mpi) {
  if (!mpi || mpi->size() < 2 || cfg.run.encoder_transfer != EncoderTransfer::automatic) return {};
  std::string probe;  // "path\ntoken"
  if (mpi->rank() == 0) {
    std::random_device rd;
    const std::string token = fnv1a_hex(std::to_string(rd()) + std::to_string(rd()) + now_iso() + std::to_string(::getpid()));
    const std::string path = dir->path() + "/.probe-" + token;
    try {
      write_file_atomic(path, token);
      probe = path + "\n" + token;
    } catch (const std::exception&) {
      probe.clear();  // no probe: every rank gets bytes
    }
  }
  mpi->broadcast(probe);
  bool sees = false;
  if (const auto nl = probe.find('\n'); nl != std::string::npos) {
    try {
      sees = read_file(probe.substr(0, nl)) == probe.substr(nl + 1);
    } catch (const std::exception&) {
      sees = false;  // not there: this rank's node does not share the directory
    }
  }
  const auto all = mpi->all_gather(sees ? "1" : "0");
  if (mpi->rank() == 0 && !probe.empty()) ::unlink(probe.substr(0, probe.find('\n')).c_str());
  std::vector<bool> readers;
  for (const auto& s : all) readers.push_back(s == "1");
  readers[0] = false;  // rank 0 holds every encoder in memory
  return readers;
}

struct Outcome {
  int64_t left = 0, failed = 0;  // trials not run (a stop), trials failed or diverged
};

// Rank 0's part: the coordinator hands out the plan, to its own worker directly and to the
// other ranks through the MPI service thread, while the writer thread puts every result on disk.
Outcome coordinate(const SweepConfig& cfg, const TrialPlan& plan, RunDirectory& dir, Worker& worker, Progress& progress,
                   const SweepOptions& options, comm::MpiComm* mpi, const Placement& placement,
                   const std::vector<std::string>& hosts, const std::vector<StoreFacts>& rank_facts,
                   const std::vector<bool>& readers) {
  const std::string path = dir.path();
  RunWriter writer(dir, options.refresh_tables ? [&] { options.refresh_tables(path); } : std::function<void()>{},
                   [&] { return progress.snapshot(RunState::running); });
  Coordinator coord(cfg, plan, dir, writer, progress);
  coord.set_run_dir_readers(readers);
  // Every encoder and scratch baseline trained here goes into the encoder store too.
  StoreFiler filer(cfg, dir.data_files(), rank_facts, path, writer);
  if (options.hooks.simulate_ms < 0)  // --simulate-ms makes up its encoders: they stay out of the store
    coord.on_finished([&filer](const std::string& type, int64_t seed, int64_t rank, const nlohmann::json& record,
                             std::shared_ptr<const std::vector<char>> bytes) { filer.file(type, seed, rank, record, bytes); });
  // A lost rank ends the job: what it ran is journaled as failed and on disk before MPI_Abort,
  // so that --resume reruns it (from its last epoch checkpoint). Going on without the rank is
  // not offered: MPI gives no way to leave a dead rank out of MPI_Finalize or of a group.
  auto on_lost = [&](const std::vector<LostRank>& lost) {
    std::string text, why;
    for (const auto& l : lost) {
      const std::string host = l.rank < static_cast<int>(hosts.size()) ? hosts[l.rank] : "?";
      const std::string task = coord.lost(l.rank, host, l.cause);
      const std::string line = "rank " + std::to_string(l.rank) + " (host " + host + ") is lost: " + l.cause +
                               "; run.rank_timeout_s = " + number_text(cfg.run.rank_timeout_s) + ". " +
                               (task.empty() ? std::string("It held no task.")
                                             : "Its task " + task + " is journaled as failed (lost rank).");
      text += "anchorsweep: " + line + "\n";
      why += (why.empty() ? "" : " ") + line;
    }
    // status.json says why the job ended, for `anchorsweep status` (on the writer's thread, which
    // alone writes it), and the failed lines are durable, before the job ends.
    auto status = progress.snapshot(RunState::stopped);
    status["ended_because"] = "rank 0 ended the job: " + why;
    writer.write([&dir, status] { dir.write_status(status); });
    writer.flush();
    std::cerr << text << "anchorsweep: ending the job (exit 1); every result so far is in " << path
              << "; run again with --resume to complete the sweep" << std::endl;
    // MPI_Abort asks the launcher to end every rank. One that does not (mpirun with recovery
    // enabled) may leave it waiting: this process ends itself after a few seconds regardless.
    std::thread([] {
      std::this_thread::sleep_for(std::chrono::seconds(5));
      std::_Exit(1);
    }).detach();
    mpi->abort(1);
  };
  std::thread service;
  std::atomic<bool> local_done{false};
  if (mpi && mpi->size() > 1)
    service = std::thread([&] {
      try {
        serve_remote_ranks(*mpi, coord, watching_ranks(cfg, *mpi) ? cfg.run.rank_timeout_s : 0.0, on_lost, local_done);
      } catch (const std::exception& e) {
        std::cerr << "anchorsweep: rank 0 (" << placement.host << "): service thread: " << e.what() << "; ending the job"
                  << std::endl;
        mpi->abort(1);
      }
    });
  worker_loop_local(coord, worker, mpi);
  local_done = true;
  if (service.joinable()) service.join();
  writer.flush();  // every result on disk before the tables and the report read them
  return {coord.remaining(), coord.failed()};
}

// The end of rank 0's sweep: run.json's end, the last status, tables and report, one line for
// the console; returns the exit code.
int finish_run(RunDirectory& dir, nlohmann::json facts, Progress& progress, const Outcome& o,
               const SweepOptions& options, comm::MpiComm* mpi, std::chrono::steady_clock::time_point t0) {
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  facts["finished"] = now_iso();
  facts["wall_s"] = wall;
  facts["rank0_peak_rss_mb"] = peak_rss_mb();
  // How each seed's pretraining stepped: CUDA graphs, or eagerly and why (train/step_graph.hpp).
  nlohmann::json steps = nlohmann::json::object();
  for (const auto& p : read_results(dir.path()).pretrains)
    if (!p.step.empty()) steps["seed " + std::to_string(p.seed)] = p.step;
  facts["pretrain_step"] = steps;
  dir.write_status(progress.snapshot(o.left > 0 ? RunState::stopped : RunState::finished));
  if (mpi) {
    const auto t = mpi->traffic();
    facts["rank0_traffic"] = {{"sent_bytes", t.sent_bytes}, {"sent_messages", t.sent_messages},
                              {"received_bytes", t.received_bytes}, {"received_messages", t.received_messages}};
  }
  dir.write_run_facts(facts);
  progress.close();  // the live status line ends here: the summary follows
  if (options.refresh_tables) options.refresh_tables(dir.path());
  if (options.finish) {
    const std::string text = options.finish(dir.path());
    if (!options.quiet) std::cout << text << std::flush;
  }
  if (!options.quiet)
    std::cout << "results: " << dir.path() << "/results.csv, summary: " << dir.path() << "/summary.csv; wall time "
              << human_seconds(wall) << (o.failed ? "; " + std::to_string(o.failed) + " trial(s) FAILED or DIVERGED" : "")
              << (o.left ? "; stopped early with " + std::to_string(o.left) + " trial(s) left: rerun with --resume" : "")
              << std::endl;
  if (o.left > 0) return kExitStopped;
  return o.failed > 0 ? kExitTrialsFailed : kExitOk;
}

// After start-up: the sweep proper. Exceptions from here on are the caller's to turn into an
// MPI_Abort, so that no rank is left waiting for a peer that died.
int run_started(const SweepConfig& cfg, const Corpus& corpus, Worker& worker, const Placement& placement,
                const SweepOptions& options, comm::MpiComm* mpi, std::chrono::steady_clock::time_point t0) {
  const int rank = mpi ? mpi->rank() : 0;
  const int ranks = mpi ? mpi->size() : 1;
  const RankFacts rf = gather_rank_facts(placement, mpi);
  bool refused = false;
  std::unique_ptr<RunDirectory> dir = open_run_directory(cfg, options, mpi, rank, refused);
  if (refused) return kExitBadInput;
  const std::vector<bool> readers = probe_run_dir_readers(cfg, dir.get(), mpi);

  // Other ranks exit 0 even when stopped: rank 0 decides the job's status (a non-zero exit of a
  // worker would make `srun --kill-on-bad-exit` kill rank 0 while it still writes).
  if (rank != 0) {
    worker_loop_remote(*mpi, worker, watching_ranks(cfg, *mpi) ? cfg.run.rank_timeout_s : 0.0, rf.hosts.front());
    return kExitOk;
  }

  // What the encoder store already holds of this run is taken from it before planning.
  std::vector<StoreFacts> rank_facts;
  for (const auto& p : rf.placement) rank_facts.push_back(store_facts(p));
  // (Not for --simulate-ms: its made-up encoders must never meet real ones.)
  const bool simulated = options.hooks.simulate_ms >= 0;
  const std::vector<std::string> reused = simulated ? std::vector<std::string>{} : reuse_from_store(cfg, *dir, rank_facts.front());
  const auto& prior = dir->prior();
  auto plan = make_plan(cfg, ranks, prior.done_trials, prior.pretrained_seeds);
  auto facts = run_facts(cfg, corpus, options, ranks, rf.hosts, rf.devices,
                         mpi ? comm::mpi_library_version() : "none (one process)", placement, rf.nccl, dir->data_files());
  facts["rank_placement"] = rf.placement;
  const auto reading = std::count(readers.begin(), readers.end(), true);
  facts["encoder_transfer"] = ranks < 2 ? "none (one rank)"
                              : cfg.run.encoder_transfer == EncoderTransfer::bytes
                                  ? "bytes from rank 0 (run.encoder_transfer = \"bytes\")"
                                  : std::to_string(reading) + " of " + std::to_string(ranks - 1) +
                                        " other ranks read encoders from the run directory, the rest get bytes from rank 0";
  dir->write_run_facts(facts);
  Progress progress(plan.trial_count(), ranks, progress_style(options.log_format, options.quiet, options.status_every_s));
  progress.set_context(rf.hosts, static_cast<int64_t>(prior.done_trials.size()));
  progress.set_tasks(plan.tasks, cfg.pretrain.epochs);
  if (options.resume)
    progress.note("resuming " + dir->path() + ": " + std::to_string(prior.done_trials.size()) + " trials already done, " +
                  std::to_string(plan.trial_count()) + " to run, " + std::to_string(prior.checkpoints.size()) +
                  " task(s) continue from an epoch checkpoint" + (prior.torn ? " (dropped a torn last journal line)" : ""));
  for (const auto& w : dir->warnings()) progress.note(w);
  for (const auto& r : reused) progress.note(r);
  if (mpi && ranks > 1 && cfg.run.rank_timeout_s > 0 && !watching_ranks(cfg, *mpi))
    progress.note("run.rank_timeout_s is not in effect: this MPI lacks MPI_THREAD_MULTIPLE, which the heartbeat "
                  "thread needs; a rank that dies is noticed only if the launcher ends the job");
  progress.note("run directory " + dir->path() + ": " + std::to_string(plan.tasks.size()) + " tasks, " +
                std::to_string(plan.trial_count()) + " trials on " + std::to_string(ranks) + " rank(s), fuse width " +
                std::to_string(plan.fuse_width) + ", " + std::to_string(placement.threads) + " thread(s) on rank 0 (" +
                placement.cpus_why + ")");
  progress.start_ticker();
  const Outcome o = coordinate(cfg, plan, *dir, worker, progress, options, mpi, placement, rf.hosts, rank_facts, readers);
  return finish_run(*dir, std::move(facts), progress, o, options, mpi, t0);
}

}  // namespace

int run_sweep(const std::string& config_path, const std::vector<std::string>& sets, const SweepOptions& options,
              comm::MpiComm* mpi) {
  const auto t0 = std::chrono::steady_clock::now();
  const int rank = mpi ? mpi->rank() : 0;
  const std::string host = mpi ? mpi->host() : local_host();

  // Start-up, on every rank alike: config, data, device. Every failure is caught here, so that
  // each rank reaches the agreement below and none is left waiting for one that returned.
  std::optional<SweepConfig> cfg;
  std::optional<Corpus> corpus;
  std::unique_ptr<Worker> worker;
  Placement placement;
  std::string problem;
  try {
    cfg = load_config(config_path, sets);
    const int ranks = mpi ? mpi->size() : 1;
    if (cfg->pretrain.ranks > ranks)
      throw InputError(config_path + ": pretrain.ranks = " + std::to_string(cfg->pretrain.ranks) + " needs at least " +
                       std::to_string(cfg->pretrain.ranks) + " ranks; this run has " + std::to_string(ranks) +
                       " (start more with mpirun -np or srun -n, or lower pretrain.ranks)");
    if (cfg->pretrain.ranks > 1 && !mpi->thread_multiple())
      throw InputError("pretrain.ranks > 1 needs an MPI with MPI_THREAD_MULTIPLE (rank 0 trains in a group "
                       "while its service thread answers the other ranks); this MPI offers less");
    gradient_bucket_bytes();  // a bad ANCHORSWEEP_GRADIENT_BUCKET_BYTES is refused here, not mid-training
    placement = place(*cfg, rank, mpi ? mpi->local_rank() : 0, mpi ? mpi->local_size() : 1, host);
    torch::set_num_threads(static_cast<int>(placement.threads));
    if (placement.device != "cpu") torch::zeros({1}, torch::Device(placement.device));  // the device works
    // TF32 (cuDNN's default on a GPU since Ampere) rounds a matrix product's inputs to 10 bits of
    // mantissa. ANCHORSWEEP_TF32=0 keeps full float: tests that compare sums in two orders need it
    // (docs/performance.md#k--1-against-k--2).
    if (const char* tf32 = std::getenv("ANCHORSWEEP_TF32"); tf32 && std::string(tf32) == "0") {
      at::globalContext().setAllowTF32CuDNN(false);
      at::globalContext().setAllowTF32CuBLAS(false);
    }
    corpus = load_corpus(cfg->data);
    WorkerHooks hooks = options.hooks;
    if (options.delay_rank >= 0 && options.delay_rank != rank) hooks.delay_ms = 0;
    hooks.stop_requested = [] { return g_stop.load(); };
    worker = std::make_unique<Worker>(*cfg, *corpus, placement, hooks);
  } catch (const std::exception& e) {
    problem = e.what();
  }
  std::vector<std::string> problems{problem};
  if (mpi) problems = mpi->all_gather(problem.empty() ? "" : "rank " + std::to_string(rank) + " (host " + host + "): " + problem);
  std::vector<std::string> failed;
  for (const auto& p : problems)
    if (!p.empty()) failed.push_back(p);
  if (!failed.empty()) {
    if (rank == 0) {
      std::string msg = mpi ? "anchorsweep: start-up failed on " + std::to_string(failed.size()) + " of " +
                                  std::to_string(problems.size()) + " rank(s); nothing was run. " + failed.front()
                            : "anchorsweep: " + failed.front();
      for (size_t i = 1; i < failed.size() && i < 4; ++i) msg += "\n  also " + failed[i];
      if (failed.size() > 4) msg += "\n  (and " + std::to_string(failed.size() - 4) + " more)";
      std::cerr << msg << std::endl;
    }
    return kExitBadInput;
  }

  try {
    return run_started(*cfg, *corpus, *worker, placement, options, mpi, t0);
  } catch (const std::exception& e) {
    if (mpi && mpi->size() > 1) {
      std::cerr << "anchorsweep: rank " << rank << " (host " << host << "): error: " << e.what() << "; ending the job"
                << std::endl;
      mpi->abort(1);  // peers would otherwise wait for this rank forever
    }
    throw;
  }
}

}  // namespace anchorsweep
