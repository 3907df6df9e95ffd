// Placement: where a rank trains (CPU threads or a GPU) and why, decided once at start-up.
#pragma once

#include <cstdint>
#include <string>

#include "config/config.hpp"

namespace anchorsweep {

struct Placement {
  std::string host = "localhost";
  int64_t rank = 0;
  std::string device = "cpu";   // "cpu" or "cuda:N"
  int64_t threads = 1;
  std::string cpus_why;         // how `threads` was chosen, for run.json
};

// The CPUs this rank may really use: its affinity mask (a SLURM cpuset or mpirun's binding),
// shared with the other ranks of the node when every rank sees the whole node, capped by a
// cgroup CPU quota and by SLURM_CPUS_PER_TASK. Never below 1.
struct CpuBudget {
  int64_t cpus = 1;
  std::string why;
};
CpuBudget usable_cpus(int local_size);

// OpenMP threads that spin-wait for work on CPUs they do not have collapse training when a
// node is shared (two 2-thread trainings on 2 cores ran 54x slower than one). libgomp reads
// OMP_WAIT_POLICY once, when it is loaded, so `run` sets it to PASSIVE (idle threads sleep at
// once) and re-executes itself, before MPI or LibTorch start. A user's own OMP_WAIT_POLICY, or
// ANCHORSWEEP_KEEP_OMP_WAIT=1, is left alone. Returns only when no re-exec happened.
void prefer_passive_openmp_wait(char** argv);

// A GPU by local rank when LibTorch sees any, else the CPU with `run.threads` threads or, when
// that is 0, as many as the rank's CPU budget.
Placement place(const SweepConfig& cfg, int rank, int local_rank, int local_size, const std::string& host);

}  // namespace anchorsweep
