#include "sweep/placement.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include <torch/torch.h>

namespace anchorsweep {

namespace {

// cgroup v2 cpu.max: "max 100000" (no limit) or "QUOTA PERIOD". 0 = no limit found.
double cgroup_quota() {
  std::ifstream in("/sys/fs/cgroup/cpu.max");
  std::string quota, period;
  if (!(in >> quota >> period) || quota == "max") return 0;
  const double q = std::atof(quota.c_str()), p = std::atof(period.c_str());
  return q > 0 && p > 0 ? q / p : 0;
}

}  // namespace

CpuBudget usable_cpus(int local_size) {
  CpuBudget b;
  local_size = std::max(1, local_size);
  const int64_t online = std::max<int64_t>(1, ::sysconf(_SC_NPROCESSORS_ONLN));
  int64_t mask = online;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) mask = std::max(1, CPU_COUNT(&set));
  if (mask < online) {
    b.cpus = mask;  // bound by the launcher or a cpuset: this mask is the rank's own share
    b.why = "affinity mask: " + std::to_string(mask) + " of " + std::to_string(online) + " CPUs";
  } else {
    b.cpus = std::max<int64_t>(1, mask / local_size);
    b.why = std::to_string(mask) + " CPUs shared by " + std::to_string(local_size) + " rank(s) on the node";
  }
  if (const double q = cgroup_quota(); q > 0) {
    const auto share = std::max<int64_t>(1, static_cast<int64_t>(std::floor(q / local_size)));
    if (share < b.cpus) {
      b.cpus = share;
      b.why += "; cgroup quota " + std::to_string(q) + " CPUs";
    }
  }
  if (const char* s = std::getenv("SLURM_CPUS_PER_TASK"); s && std::atoi(s) > 0 && std::atoi(s) < b.cpus) {
    b.cpus = std::atoi(s);
    b.why += "; SLURM_CPUS_PER_TASK=" + std::string(s);
  }
  return b;
}

namespace {

// CPUs in use on the node over a short window, from /proc/stat (all processes; -1 if unknown).
double busy_cpus(int window_ms) {
  auto read = [](long long& busy, long long& total) {
    std::ifstream in("/proc/stat");
    std::string cpu;
    long long v[8] = {0};
    if (!(in >> cpu >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5] >> v[6] >> v[7])) return false;
    total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
    busy = total - v[3] - v[4];  // minus idle and iowait
    return true;
  };
  long long b0, t0, b1, t1;
  if (!read(b0, t0)) return -1;
  ::usleep(static_cast<useconds_t>(window_ms) * 1000);
  if (!read(b1, t1) || t1 <= t0) return -1;
  const double online = static_cast<double>(::sysconf(_SC_NPROCESSORS_ONLN));
  return online * static_cast<double>(b1 - b0) / static_cast<double>(t1 - t0);
}

int ranks_on_node_from_env() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE", "SLURM_TASKS_PER_NODE"})
    if (const char* v = std::getenv(var); v && std::atoi(v) > 0) return std::atoi(v);
  return 1;
}

}  // namespace

void prefer_passive_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT") || std::getenv("ANCHORSWEEP_KEEP_OMP_WAIT")) return;
  ::setenv("ANCHORSWEEP_KEEP_OMP_WAIT", "1", 1);  // decide once: never loop
  cpu_set_t set;
  CPU_ZERO(&set);
  const int mask = ::sched_getaffinity(0, sizeof set, &set) == 0 ? std::max(1, CPU_COUNT(&set)) : 1;
  const int online = std::max<int>(1, static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)));
  const int ranks = ranks_on_node_from_env();
  std::string why;
  if (mask == online && ranks > mask) {
    why = std::to_string(ranks) + " ranks share " + std::to_string(mask) + " CPUs";
  } else if (const double busy = busy_cpus(150); busy > 0.5 + 0.5 * (ranks - 1)) {
    // Someone else computes on this node (the other ranks starting up count for at most half a CPU each).
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f CPUs already busy at start", busy);
    why = buf;
  }
  if (why.empty()) {
    ::setenv("ANCHORSWEEP_OMP_WAIT_WHY", "the CPUs looked free at start: libgomp's default spinning", 1);
    return;  // no re-exec: nothing changes
  }
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::setenv("ANCHORSWEEP_OMP_WAIT_WHY", why.c_str(), 1);
  ::execv("/proc/self/exe", argv);
  // exec failed (no /proc?): go on with the default policy.
}

Placement place(const SweepConfig& cfg, int rank, int local_rank, int local_size, const std::string& host) {
  Placement p;
  p.host = host;
  p.rank = rank;
  if (torch::cuda::is_available()) {
    p.device = "cuda:" + std::to_string(local_rank % static_cast<int>(torch::cuda::device_count()));
  }
  const CpuBudget budget = usable_cpus(local_size);
  if (cfg.run.threads > 0) {
    p.threads = cfg.run.threads;
    p.cpus_why = "run.threads = " + std::to_string(cfg.run.threads) + " (" + budget.why + ")";
  } else {
    p.threads = budget.cpus;
    p.cpus_why = budget.why;
  }
  return p;
}

}  // namespace anchorsweep
