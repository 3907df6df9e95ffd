// Placement: where a rank trains (CPU threads or a GPU) and why, decided once at start-up.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace anchorsweep {

struct Placement {
  std::string host = "localhost";
  int64_t rank = 0;
  int64_t local_rank = 0, local_size = 1;  // this rank among the ranks of its node
  std::string device = "cpu";   // "cpu" or "cuda:N" (N among the GPUs this rank can see)
  std::string gpu_name;         // "NVIDIA H100 80GB HBM3"; empty on the CPU
  std::string gpu_why;          // how N was chosen, for run.json
  int64_t threads = 1;
  std::string cpus_why;         // how `threads` was chosen, for run.json
  // What results and run.json record: "cpu" or "cuda:N (name)".
  std::string device_label() const { return gpu_name.empty() ? device : device + " (" + gpu_name + ")"; }
};

// The CPUs this rank may really use: its affinity mask (a SLURM cpuset or mpirun's binding),
// shared with the other ranks of the node when every rank sees the whole node, capped by a
// cgroup CPU quota and by SLURM_CPUS_PER_TASK. Never below 1.
struct CpuBudget {
  int64_t cpus = 1;
  std::string why;
};
CpuBudget usable_cpus(int local_size);

// Two CPU libraries read their settings once, when they are loaded, so `run` decides them first
// thing and, where one must change, sets it and re-executes itself (before MPI or LibTorch start):
//
// - OpenMP threads spin-wait for work between parallel regions. On CPUs the rank has to itself
//   that is fastest (measured: passive waiting costs about a quarter of the pretraining speed on
//   an idle 2-core node); on CPUs shared with other busy threads it collapses training (measured:
//   80x slower beside another 2-thread training). When the node's ranks outnumber the CPUs they
//   share, or other processes keep CPUs busy (in two samples), OMP_WAIT_POLICY=PASSIVE.
// - OpenBLAS (DYNAMIC_ARCH builds, e.g. Debian's) picks its kernels by CPU model. A CPU newer than
//   the library gets the generic SSE3 "Prescott" kernels: measured on an Emerald Rapids VM with
//   Debian 12's OpenBLAS 0.3.21, 28 GFLOP/s instead of 160-230 (OPENBLAS_CORETYPE=Cooperlake). When
//   the CPU's instruction sets (AVX-512 with BF16, AVX-512, AVX2 + FMA) are better than the
//   kernels OpenBLAS chose, OPENBLAS_CORETYPE names the kernels they allow. Float results differ
//   from the generic kernels' only in summation order.
//
// A user's OMP_WAIT_POLICY, GOMP_SPINCOUNT or OPENBLAS_CORETYPE is left alone, and
// ANCHORSWEEP_KEEP_OMP_WAIT=1 turns both choices off. Why each was made is in
// ANCHORSWEEP_OMP_WAIT_WHY and ANCHORSWEEP_BLAS_WHY (run.json records both).
// It also calls keep_freed_memory().
void tune_cpu_libraries(char** argv);

// Large freed blocks stay with the process instead of going back to the kernel, so training
// steps reuse warm pages (mallopt; the peak memory is the same).
void keep_freed_memory();

// OpenBLAS's kernels: the core name it chose (empty if LibTorch's BLAS is not OpenBLAS), and the
// better one this CPU's instruction sets allow (empty if none is better).
std::string openblas_core();
std::string better_openblas_core(const std::string& current);

// The GPU of a rank: local_rank mod the GPUs it can see. Where SLURM or the user bound GPUs to
// ranks (CUDA_VISIBLE_DEVICES per rank, e.g. srun --gpus-per-task=1) each rank sees one: GPU 0.
// Several ranks may share a GPU (more ranks than GPUs on a node); the report says so.
struct GpuChoice {
  int index = 0;
  std::string why;
};
GpuChoice choose_gpu(int local_rank, int local_size, int visible_gpus, const char* cuda_visible_devices);

// Which GPUs serve more than one rank, from every rank's host and device label (rank order):
// "cuda:0 (NVIDIA H100) on node1: ranks 0, 2". Empty when no GPU is shared.
std::vector<std::string> shared_gpus(const std::vector<std::string>& hosts, const std::vector<std::string>& devices);

// A GPU when LibTorch sees any (made the current device before any tensor exists), else the CPU
// with `run.threads` threads or, when that is 0, as many as the rank's CPU budget.
Placement place(const SweepConfig& cfg, int rank, int local_rank, int local_size, const std::string& host);

}  // namespace anchorsweep
