#include "comm/versions.hpp"

#include <mpi.h>
#include <torch/version.h>

#include "build_info.hpp"
#ifdef ANCHORSWEEP_WITH_CUDA
#include <cuda_runtime_api.h>
#endif
#ifdef ANCHORSWEEP_WITH_NCCL
#include <nccl.h>
#endif

namespace anchorsweep::comm {

std::string anchorsweep_version() { return ANCHORSWEEP_VERSION; }
std::string git_commit() { return ANCHORSWEEP_GIT_COMMIT; }
std::string libtorch_version() { return TORCH_VERSION; }

std::string mpi_library_version() {
  char v[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(v, &len);
  std::string s(v, len);
  const auto end = s.find_first_of("\n,");
  return end == std::string::npos ? s : s.substr(0, end);
}

std::string cuda_version() {
#ifdef ANCHORSWEEP_WITH_CUDA
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  auto dotted = [](int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
  return dotted(runtime) + " (runtime), driver " + (driver ? dotted(driver) : std::string("none found"));
#else
  return "none: built against a CPU LibTorch";
#endif
}

std::string nccl_version() {
#ifdef ANCHORSWEEP_WITH_NCCL
  int v = 0;
  if (ncclGetVersion(&v) != ncclSuccess) return "unknown (ncclGetVersion failed)";
  return std::to_string(v / 10000) + "." + std::to_string(v % 10000 / 100) + "." + std::to_string(v % 100);
#else
  return "none: built without NCCL";
#endif
}

std::string version_text() {
  return "anchorsweep " + anchorsweep_version() + "\ncommit: " + git_commit() + "\nLibTorch: " + libtorch_version() +
         "\nMPI: " + mpi_library_version() + "\nCUDA: " + cuda_version() + "\nNCCL: " + nccl_version() + "\n";
}

}  // namespace anchorsweep::comm
