#include "comm/nccl_comm.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

// On failure: rank, host, device, the call and where, then MPI_Abort for the whole job (a rank
// that died alone would leave the others waiting in a collective).
#define CUDA_CHECK(call)                                                                      \
  do {                                                                                        \
    cudaError_t cuda_rc_ = (call);                                                            \
    if (cuda_rc_ != cudaSuccess)                                                              \
      ::anchorsweep::comm::fail_job(std::string("CUDA failure ") + __FILE__ + ":" + std::to_string(__LINE__) + " '" + \
                                    #call + "': " + cudaGetErrorString(cuda_rc_));            \
  } while (0)

#define NCCL_CHECK(call)                                                                      \
  do {                                                                                        \
    ncclResult_t nccl_rc_ = (call);                                                           \
    if (nccl_rc_ != ncclSuccess)                                                              \
      ::anchorsweep::comm::fail_job(std::string("NCCL failure ") + __FILE__ + ":" + std::to_string(__LINE__) + " '" + \
                                    #call + "': " + ncclGetErrorString(nccl_rc_));            \
  } while (0)

namespace anchorsweep::comm {

namespace {

// Waits for `stream` while asking NCCL for errors it found on its own (a peer that died, a
// network that failed): cudaStreamSynchronize alone would wait forever for a collective whose
// peer is gone. On such an error the communicator is aborted and the job ended, naming it.
void wait_polling_nccl(cudaStream_t stream, ncclComm_t comm) {
  for (;;) {
    const cudaError_t q = cudaStreamQuery(stream);
    if (q == cudaSuccess) return;
    if (q != cudaErrorNotReady) CUDA_CHECK(q);
    ncclResult_t async = ncclSuccess;
    NCCL_CHECK(ncclCommGetAsyncError(comm, &async));
    if (async != ncclSuccess) {
      ncclCommAbort(comm);
      fail_job(std::string("NCCL asynchronous error while waiting for a collective: ") + ncclGetErrorString(async));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

std::string new_unique_id() {
  ncclUniqueId id;
  NCCL_CHECK(ncclGetUniqueId(&id));
  return std::string(reinterpret_cast<const char*>(&id), sizeof id);
}
}  // namespace

NcclComm::NcclComm(MpiComm& mpi, int device) : device_(device) {
  set_failure_context("device cuda:" + std::to_string(device));
  std::string blob = mpi.rank() == 0 ? new_unique_id() : std::string();
  mpi.broadcast(blob, 0);  // the bootstrap: NCCL's id travels over MPI
  init(mpi.rank(), mpi.size(), blob);
}

NcclComm::NcclComm(GroupComm& group, int device) : device_(device) {
  std::string blob = group.rank() == 0 ? new_unique_id() : std::string();
  group.broadcast(blob, 0);
  init(group.rank(), group.size(), blob);
}

void NcclComm::init(int rank, int size, std::string id_blob) {
  ncclUniqueId id;
  std::copy(id_blob.begin(), id_blob.end(), reinterpret_cast<char*>(&id));
  CUDA_CHECK(cudaSetDevice(device_));
  cudaStream_t stream;
  CUDA_CHECK(cudaStreamCreate(&stream));
  stream_ = stream;
  ncclComm_t comm;
  NCCL_CHECK(ncclCommInitRank(&comm, size, id, rank));
  comm_ = comm;
}

NcclComm::~NcclComm() {
  if (comm_) ncclCommDestroy(static_cast<ncclComm_t>(comm_));
  if (stream_) cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
}

double NcclComm::all_reduce_sum(double value) {
  CUDA_CHECK(cudaSetDevice(device_));
  double* buf = nullptr;
  auto stream = static_cast<cudaStream_t>(stream_);
  CUDA_CHECK(cudaMalloc(&buf, sizeof(double)));
  CUDA_CHECK(cudaMemcpyAsync(buf, &value, sizeof(double), cudaMemcpyHostToDevice, stream));
  NCCL_CHECK(ncclAllReduce(buf, buf, 1, ncclDouble, ncclSum, static_cast<ncclComm_t>(comm_), stream));
  double out = 0;
  CUDA_CHECK(cudaMemcpyAsync(&out, buf, sizeof(double), cudaMemcpyDeviceToHost, stream));
  wait_polling_nccl(stream, static_cast<ncclComm_t>(comm_));
  CUDA_CHECK(cudaFree(buf));
  return out;
}

void NcclComm::all_reduce_sum(void* device_data, int64_t count, bool is_double) {
  NCCL_CHECK(ncclAllReduce(device_data, device_data, static_cast<size_t>(count), is_double ? ncclDouble : ncclFloat,
                           ncclSum, static_cast<ncclComm_t>(comm_), cudaStreamLegacy));
}

std::string NcclComm::version() const {
  int v = 0;
  ncclGetVersion(&v);
  return std::to_string(v / 10000) + "." + std::to_string((v / 100) % 100) + "." + std::to_string(v % 100);
}

}  // namespace anchorsweep::comm
