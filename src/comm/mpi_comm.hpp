// MpiComm: the MPI side of anchorsweep, behind a small interface. Nothing outside comm/
// includes mpi.h. Every MPI call is checked by MPI_CHECK, which names the call, file and line.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace anchorsweep::comm {

// True when this process was started by mpirun/srun with more than one rank in the job
// (Open MPI, PMIx or SLURM variables). Without it anchorsweep runs as one process, no MPI.
bool launched_with_ranks();

// Prints "anchorsweep: rank R (host[, device]): WHAT; ending the job" and ends the whole job
// (MPI_Abort once MPI is up, else _Exit(1)): for MPI, CUDA and NCCL failures, where a rank that
// returned would leave the others waiting for it.
[[noreturn]] void fail_job(const std::string& what);
// Adds to what fail_job names, after rank and host: e.g. "device cuda:1".
void set_failure_context(const std::string& extra);

// A message: a tag, a JSON header and binary blobs (encoder state dicts, adapters).
struct Message {
  int tag = 0;
  std::string header;
  std::vector<std::vector<char>> blobs;
};

// kEpoch: a worker finished an epoch of a long task (header: task, epoch; blob: its state);
// rank 0 answers kGoOn or kHalt (a stop was requested: the task stops, checkpointed).
// kBeat: a worker's heartbeat (header: seconds since its training thread last made progress);
// rank 0 never answers it (sweep/heartbeat.hpp).
// Rank 0 beats too (kBeat, to every watched rank), and before it ends the job for a lost rank it
// sends kAbort (header: why) to the others, which exit with it: a launcher that does not end the
// job when one rank dies (srun without --kill-on-bad-exit) must not leave them waiting.
// kBye: with heartbeats, a worker told kStop still watches rank 0 until rank 0 itself is done and
// says so; only then does it enter MPI_Finalize, which would wait forever for a rank 0 that died.
enum Tag : int { kRequest = 1, kTask = 2, kWait = 3, kStop = 4, kResult = 5, kEpoch = 6, kGoOn = 7, kHalt = 8,
                 kBeat = 9, kAbort = 10, kBye = 11 };

// The wire format's version, the first word of every message: ranks of different anchorsweep
// builds (a node with an older binary) are told apart instead of misreading each other's
// messages. Raise it with any change to a message's layout or header fields.
constexpr uint64_t kWireVersion = 2;  // 2: heartbeats (kBeat)

// The communicator of a data-parallel group: a few ranks of the job, made by those ranks alone
// (MPI_Comm_create_group), while the others go on with their own tasks.
class MpiComm;

class GroupComm {
 public:
  GroupComm(MpiComm& mpi, const std::vector<int>& world_ranks, int tag);
  ~GroupComm();  // MPI_Comm_free
  GroupComm(const GroupComm&) = delete;
  GroupComm& operator=(const GroupComm&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  // In-place sums over the group of host buffers.
  void all_reduce_sum(float* data, int64_t count);
  void all_reduce_sum(double* data, int64_t count);
  void broadcast(std::string& s, int root = 0);
  // Every member's string, in group rank order.
  std::vector<std::string> all_gather(const std::string& s);

  // Non-blocking in-place sum of a host float buffer (MPI_Iallreduce), which must stay alive and
  // untouched until wait_sums(). Every member starts its sums in the same order. progress() lets
  // started sums advance (MPI_Testall: Open MPI moves non-blocking collectives only inside MPI
  // calls); wait_sums() completes them all.
  void start_sum(float* data, int64_t count);
  void progress();
  void wait_sums();

 private:
  void* comm_ = nullptr;  // MPI_Comm
  int rank_ = 0, size_ = 1;
  std::vector<std::uintptr_t> requests_;  // MPI_Request handles of the started sums
};

// What this rank's point-to-point messages (tasks, results, encoders, checkpoints) moved.
struct Traffic {
  uint64_t sent_bytes = 0, sent_messages = 0, received_bytes = 0, received_messages = 0;
};

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
  // A small message sent without waiting (MPI_Isend), for heartbeats: a dead peer never blocks
  // the caller (Open MPI's blocking send to a SIGKILLed rank over TCP retries its connection
  // forever). While the previous posted message to `dest` is still in flight, nothing new is
  // sent: that peer takes no messages, and its silence tells the rest. An MPI error comes back as
  // false with MPI's words in `error`, instead of ending the job: a peer MPI cannot reach is news.
  // `always`: send even while earlier ones are in flight (a last word: kAbort, kBye).
  bool post(int dest, const Message& m, std::string* error = nullptr, bool always = false);
  // Blocking receive of the next message from `source` (-1: any); returns the sender.
  int recv(Message& m, int source = -1);
  // The next message from `source` with `tag` (-1: any), if one waits (never blocks).
  bool try_recv(Message& m, int source, int tag);
  // Non-blocking check for a waiting message; true and the sender when there is one.
  bool poll(int* source);
  std::vector<std::string> all_gather(const std::string& s);
  void broadcast(std::string& s, int root = 0);
  int max_over_ranks(int value);
  [[noreturn]] void abort(int code);
  Traffic traffic() const;
  // MPI_THREAD_MULTIPLE: a data-parallel group's collectives on rank 0's training thread run
  // beside its service thread's point-to-point messages.
  bool thread_multiple() const { return thread_multiple_; }
  // The parent of every data-parallel group's communicator: a duplicate of MPI_COMM_WORLD, so
  // that MPI_Comm_create_group's own messages never meet rank 0's service thread, which probes
  // MPI_COMM_WORLD for any tag.
  void* groups_parent() const { return groups_parent_; }

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  void receive_matched(void* message, void* status, Message& m);  // MPI_Message*, MPI_Status*
  struct Posted;                                  // a posted message in flight (its buffer and request)
  std::mutex posted_mu_;
  std::map<int, std::vector<std::shared_ptr<Posted>>> posted_;  // destination -> its messages in flight
  bool thread_multiple_ = false;
  std::string host_;
  void* node_comm_ = nullptr;
  void* groups_parent_ = nullptr;
  // Counted from the service and the training thread alike.
  std::atomic<uint64_t> sent_bytes_{0}, sent_messages_{0}, received_bytes_{0}, received_messages_{0};
};

}  // namespace anchorsweep::comm
