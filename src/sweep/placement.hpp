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

// OpenMP threads spin-wait for work between parallel regions. On CPUs the rank has to itself
// that is fastest (measured: passive waiting costs about a quarter of the pretraining speed on
// an idle 2-core node); on CPUs shared with other busy threads it collapses training (measured:
// 80x slower beside another 2-thread training). libgomp reads OMP_WAIT_POLICY once, when it is
// loaded, so `run` decides first thing: when the node's ranks outnumber the CPUs they share, or
// other processes already keep CPUs busy, it sets OMP_WAIT_POLICY=PASSIVE and re-executes itself
// (before MPI or LibTorch start). A user's OMP_WAIT_POLICY or GOMP_SPINCOUNT, or
// ANCHORSWEEP_KEEP_OMP_WAIT=1, is left alone. Why it chose is in ANCHORSWEEP_OMP_WAIT_WHY.
void prefer_passive_openmp_wait(char** argv);

// A GPU by local rank when LibTorch sees any, else the CPU with `run.threads` threads or, when
// that is 0, as many as the rank's CPU budget.
Placement place(const SweepConfig& cfg, int rank, int local_rank, int local_size, const std::string& host);

}  // namespace anchorsweep
