// A program for mpi_test: under mpirun, rank 0 sends to a rank that does not exist. With the
// communicators returning errors, MPI_CHECK reports rank, host and call and ends the job; with
// MPI's default handler the job would abort inside MPI_Send, in MPI's words only.
#include "comm/mpi_comm.hpp"

int main(int argc, char** argv) {
  anchorsweep::comm::MpiComm mpi(&argc, &argv);
  if (mpi.rank() == 0) {
    anchorsweep::comm::Message m;
    m.tag = anchorsweep::comm::kRequest;
    mpi.send(mpi.size() + 5, m);  // no such rank: MPI_ERR_RANK
  }
  mpi.broadcast(*new std::string("not reached by rank 0"), 0);
  return 0;
}
