// NcclComm: NCCL between GPU ranks, bootstrapped over MPI (rank 0 makes the unique id and
// broadcasts it). Built only against a CUDA LibTorch with NCCL (ANCHORSWEEP_WITH_NCCL).
// Every NCCL and CUDA call is checked by a macro that names the call, file and line.
#pragma once

#include <string>

#include "comm/mpi_comm.hpp"

namespace anchorsweep::comm {

class NcclComm {
 public:
  // Collective over every rank of `mpi`; each rank passes its own CUDA device index.
  NcclComm(MpiComm& mpi, int device);
  // Collective over the ranks of a data-parallel group (its leader makes the id).
  NcclComm(GroupComm& group, int device);
  ~NcclComm();
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  // Sum of `value` over all ranks, through a device buffer and ncclAllReduce.
  double all_reduce_sum(double value);
  // In-place sum of `count` floats (or doubles) in device memory, queued on the legacy default
  // stream, where LibTorch queues its own work: ordered after the backward pass that wrote the
  // gradients and before the step that reads them, with no wait on the host.
  void all_reduce_sum(void* device_data, int64_t count, bool is_double);
  std::string version() const;

 private:
  void init(int rank, int size, std::string id_blob);
  void* comm_ = nullptr;    // ncclComm_t
  void* stream_ = nullptr;  // cudaStream_t
  int device_ = 0;
};

}  // namespace anchorsweep::comm
