// What this binary was built from and runs on, for `anchorsweep --version` and run.json:
// anchorsweep's version and commit, and the versions of LibTorch, MPI, CUDA and NCCL.
#pragma once

#include <string>

namespace anchorsweep::comm {

std::string anchorsweep_version();   // "0.2.0"
std::string git_commit();            // "1a2b3c4d5e6f", maybe "... with uncommitted changes"
std::string libtorch_version();      // "1.13.0"
std::string mpi_library_version();   // the first line of MPI_Get_library_version (callable before MPI_Init)
std::string cuda_version();          // "12.4 (runtime)" or "none: CPU LibTorch"
std::string nccl_version();          // "2.21.5" or "none: ..."

// Every line above, for --version.
std::string version_text();

}  // namespace anchorsweep::comm
