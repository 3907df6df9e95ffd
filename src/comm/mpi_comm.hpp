// MpiComm: the MPI side of anchorsweep, behind a small interface. Nothing outside comm/
// includes mpi.h. Every MPI call is checked by MPI_CHECK, which names the call, file and line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace anchorsweep::comm {

// True when this process was started by mpirun/srun with more than one rank in the job
// (Open MPI, PMIx or SLURM variables). Without it anchorsweep runs as one process, no MPI.
bool launched_with_ranks();

// A message: a tag, a JSON header and binary blobs (encoder state dicts, adapters).
struct Message {
  int tag = 0;
  std::string header;
  std::vector<std::vector<char>> blobs;
};

// kEpoch: a worker finished an epoch of a long task (header: task, epoch; blob: its state);
// rank 0 answers kGoOn or kHalt (a stop was requested: the task stops, checkpointed).
enum Tag : int { kRequest = 1, kTask = 2, kWait = 3, kStop = 4, kResult = 5, kEpoch = 6, kGoOn = 7, kHalt = 8 };

class MpiComm {
 public:
  // MPI_Init_thread asking for MPI_THREAD_MULTIPLE; needs at least SERIALIZED, because rank 0's
  // service thread makes the MPI calls while its main thread trains.
  MpiComm(int* argc, char*** argv);
  ~MpiComm();  // MPI_Finalize
  MpiComm(const MpiComm&) = delete;
  MpiComm& operator=(const MpiComm&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }   // from MPI_Comm_split_type(SHARED)
  int local_size() const { return local_size_; }
  const std::string& host() const { return host_; }

  void send(int dest, const Message& m);
  // Blocking receive of the next message from `source` (-1: any); returns the sender.
  int recv(Message& m, int source = -1);
  // Non-blocking check for a waiting message; true and the sender when there is one.
  bool poll(int* source);
  std::vector<std::string> all_gather(const std::string& s);
  void broadcast(std::string& s, int root = 0);
  int max_over_ranks(int value);
  [[noreturn]] void abort(int code);
  std::string library_version() const;

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  std::string host_;
  void* node_comm_ = nullptr;
};

}  // namespace anchorsweep::comm
