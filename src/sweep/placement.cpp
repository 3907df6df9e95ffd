#include "sweep/placement.hpp"

#include <dlfcn.h>
#include <malloc.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>

#include <torch/torch.h>

#ifdef ANCHORSWEEP_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

#include "common/files.hpp"

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

std::string openblas_core() {
  using CoreName = char* (*)();
  auto get = reinterpret_cast<CoreName>(::dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  const char* name = get ? get() : nullptr;
  return name ? std::string(name) : std::string();
}

std::string better_openblas_core(const std::string& current) {
  // How wide the kernels are: 0 SSE, 1 AVX, 2 AVX2 + FMA, 3 AVX-512 (4 with BF16).
  auto level = [](std::string core) {
    std::transform(core.begin(), core.end(), core.begin(), [](unsigned char c) { return std::tolower(c); });
    if (core == "cooperlake" || core == "sapphirerapids") return 4;
    if (core == "skylakex") return 3;
    if (core == "haswell" || core == "zen" || core == "skylake") return 2;
    if (core == "sandybridge") return 1;
    return 0;  // prescott, core2, penryn, nehalem, atom, ... and names this list does not know
  };
  std::string best;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    best = __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    best = "Haswell";
#endif  // elsewhere (aarch64: Grace Hopper) OpenBLAS's own choice stands
  if (best.empty() || current.empty() || level(best) <= level(current)) return "";
  return best;
}

void keep_freed_memory() {
  // glibc hands blocks over 128 KiB (its threshold grows only up to 32 MiB) to mmap and back to
  // the kernel on free, so a training step's activations and gradients arrive as fresh pages:
  // page faults and zeroing were a tenth of a pretraining profile. Large blocks stay in the heap.
  ::mallopt(M_MMAP_THRESHOLD, 256 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

void tune_cpu_libraries(char** argv) {
  keep_freed_memory();
  if (std::getenv("ANCHORSWEEP_KEEP_OMP_WAIT")) return;
  ::setenv("ANCHORSWEEP_KEEP_OMP_WAIT", "1", 1);  // decide once: never loop
  bool reexec = false, set_blas = false, set_omp = false;

  if (std::getenv("OPENBLAS_CORETYPE")) {
    ::setenv("ANCHORSWEEP_BLAS_WHY", "OPENBLAS_CORETYPE set by the user", 1);
  } else if (const std::string core = openblas_core(); core.empty()) {
    ::setenv("ANCHORSWEEP_BLAS_WHY", "LibTorch's BLAS is not OpenBLAS", 1);
  } else if (const std::string better = better_openblas_core(core); better.empty()) {
    ::setenv("ANCHORSWEEP_BLAS_WHY", ("OpenBLAS chose " + core + " kernels for this CPU").c_str(), 1);
  } else {
    ::setenv("OPENBLAS_CORETYPE", better.c_str(), 1);
    ::setenv("ANCHORSWEEP_BLAS_WHY", ("OpenBLAS chose " + core + " kernels; this CPU runs " + better + "'s").c_str(), 1);
    reexec = set_blas = true;
  }

  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) {
    ::setenv("ANCHORSWEEP_OMP_WAIT_WHY", "set by the user", 1);
  } else {
    cpu_set_t set;
    CPU_ZERO(&set);
    const int mask = ::sched_getaffinity(0, sizeof set, &set) == 0 ? std::max(1, CPU_COUNT(&set)) : 1;
    const int online = std::max<int>(1, static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN)));
    const int ranks = ranks_on_node_from_env();
    // Someone else computes on this node (the other ranks starting up count for at most half a
    // CPU each). Two windows, both busy: one 100 ms window sees a shell or a process's last
    // moments as load.
    const double allowed = 0.5 + 0.5 * (ranks - 1);
    std::string why;
    if (mask == online && ranks > mask) {
      why = std::to_string(ranks) + " ranks share " + std::to_string(mask) + " CPUs";
    } else if (const double busy = busy_cpus(100); busy > allowed) {
      if (const double again = busy_cpus(100); again > allowed) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.1f CPUs already busy at start", std::min(busy, again));
        why = buf;
      }
    }
    if (why.empty()) {
      ::setenv("ANCHORSWEEP_OMP_WAIT_WHY", "the CPUs looked free at start: libgomp's default spinning", 1);
    } else {
      ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
      ::setenv("ANCHORSWEEP_OMP_WAIT_WHY", why.c_str(), 1);
      reexec = set_omp = true;
    }
  }
  if (!reexec) return;
  // Through the binary's real path: exec of /proc/self/exe would rename the process "exe" in ps,
  // top and pkill.
  const std::string self = read_link("/proc/self/exe");
  const char* forced = std::getenv("ANCHORSWEEP_TEST_EXEC");  // test hook (docs/testing.md): an exec that fails
  ::execv(forced ? forced : self.empty() ? "/proc/self/exe" : self.c_str(), argv);
  // exec failed (the binary replaced during start-up, no /proc): this process goes on with the
  // libraries as they loaded, before the variables above were set. Take them back, so that run.json
  // records what took effect, and say why.
  const std::string failed = std::string("the re-exec failed (") + std::strerror(errno) + ")";
  if (set_blas) {
    ::setenv("ANCHORSWEEP_BLAS_WHY", ("wanted " + std::string(std::getenv("OPENBLAS_CORETYPE")) + "'s kernels but " + failed +
                                      ": OpenBLAS's own choice stands").c_str(), 1);
    ::unsetenv("OPENBLAS_CORETYPE");
  }
  if (set_omp) {
    ::setenv("ANCHORSWEEP_OMP_WAIT_WHY", ("wanted PASSIVE (" + std::string(std::getenv("ANCHORSWEEP_OMP_WAIT_WHY")) + ") but " +
                                          failed).c_str(), 1);
    ::unsetenv("OMP_WAIT_POLICY");
  }
}

GpuChoice choose_gpu(int local_rank, int local_size, int visible_gpus, const char* cuda_visible_devices) {
  GpuChoice c;
  visible_gpus = std::max(1, visible_gpus);
  c.index = local_rank % visible_gpus;
  c.why = "local rank " + std::to_string(local_rank) + " of " + std::to_string(local_size) + " mod " +
          std::to_string(visible_gpus) + " visible GPU(s)";
  if (cuda_visible_devices && *cuda_visible_devices)
    c.why += " (CUDA_VISIBLE_DEVICES=" + std::string(cuda_visible_devices) + ")";
  if (local_size > visible_gpus) c.why += "; " + std::to_string(local_size) + " ranks share " +
                                          std::to_string(visible_gpus) + " GPU(s)";
  return c;
}

std::vector<std::string> shared_gpus(const std::vector<std::string>& hosts, const std::vector<std::string>& devices) {
  std::map<std::pair<std::string, std::string>, std::vector<size_t>> ranks_of;
  std::vector<std::pair<std::string, std::string>> order;
  for (size_t r = 0; r < devices.size() && r < hosts.size(); ++r) {
    if (devices[r].rfind("cuda", 0) != 0) continue;
    auto& v = ranks_of[{hosts[r], devices[r]}];
    if (v.empty()) order.emplace_back(hosts[r], devices[r]);
    v.push_back(r);
  }
  std::vector<std::string> out;
  for (const auto& key : order) {
    const auto& v = ranks_of[key];
    if (v.size() < 2) continue;
    std::string s = key.second + " on " + key.first + ": ranks ";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
    out.push_back(s);
  }
  return out;
}

namespace {

// Makes `index` the current CUDA device of this process, so that LibTorch's allocator, cuBLAS
// handles and NCCL all use it and no context opens on GPU 0 by default; returns its name.
std::string select_gpu(int index) {
#ifdef ANCHORSWEEP_WITH_CUDA
  cudaError_t rc = cudaSetDevice(index);
  if (rc != cudaSuccess)
    throw std::runtime_error("cudaSetDevice(" + std::to_string(index) + "): " + cudaGetErrorString(rc));
  cudaDeviceProp prop{};
  rc = cudaGetDeviceProperties(&prop, index);
  if (rc != cudaSuccess) return "unknown GPU";
  return prop.name;
#else
  (void)index;
  return "GPU";  // LibTorch has CUDA but anchorsweep was built without the CUDA runtime
#endif
}

}  // namespace

Placement place(const SweepConfig& cfg, int rank, int local_rank, int local_size, const std::string& host) {
  Placement p;
  p.host = host;
  p.rank = rank;
  p.local_rank = local_rank;
  p.local_size = local_size;
  if (torch::cuda::is_available()) {
    const GpuChoice g = choose_gpu(local_rank, local_size, static_cast<int>(torch::cuda::device_count()),
                                   std::getenv("CUDA_VISIBLE_DEVICES"));
    p.device = "cuda:" + std::to_string(g.index);
    p.gpu_why = g.why;
    p.gpu_name = select_gpu(g.index);
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
