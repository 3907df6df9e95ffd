#include "sweep/placement.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
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

void prefer_passive_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("ANCHORSWEEP_KEEP_OMP_WAIT")) return;
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::setenv("ANCHORSWEEP_KEEP_OMP_WAIT", "1", 1);  // once: never loop
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
