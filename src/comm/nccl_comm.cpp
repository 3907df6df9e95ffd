#include "comm/nccl_comm.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdio>
#include <cstdlib>

#define CUDA_CHECK(call)                                                                      \
  do {                                                                                        \
    cudaError_t cuda_rc_ = (call);                                                            \
    if (cuda_rc_ != cudaSuccess) {                                                            \
      std::fprintf(stderr, "anchorsweep: CUDA failure %s:%d '%s': %s\n", __FILE__, __LINE__, \
                   #call, cudaGetErrorString(cuda_rc_));                                      \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)

#define NCCL_CHECK(call)                                                                      \
  do {                                                                                        \
    ncclResult_t nccl_rc_ = (call);                                                           \
    if (nccl_rc_ != ncclSuccess) {                                                            \
      std::fprintf(stderr, "anchorsweep: NCCL failure %s:%d '%s': %s\n", __FILE__, __LINE__, \
                   #call, ncclGetErrorString(nccl_rc_));                                      \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)

namespace anchorsweep::comm {

namespace {
std::string new_unique_id() {
  ncclUniqueId id;
  NCCL_CHECK(ncclGetUniqueId(&id));
  return std::string(reinterpret_cast<const char*>(&id), sizeof id);
}
}  // namespace

NcclComm::NcclComm(MpiComm& mpi, int device) : device_(device) {
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
  CUDA_CHECK(cudaStreamSynchronize(stream));
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
