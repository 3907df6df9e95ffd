#include "comm/mpi_comm.hpp"

#include "common/liveness.hpp"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

// Every MPI call goes through this: on failure it says which rank and host, which call, where,
// and MPI's own words, then ends the whole job. The communicators return errors
// (MPI_ERRORS_RETURN) instead of MPI's default of aborting inside the call, so this can run.
#define MPI_CHECK(call)                                                                     \
  do {                                                                                      \
    int mpi_rc_ = (call);                                                                   \
    if (mpi_rc_ != MPI_SUCCESS)                                                             \
      ::anchorsweep::comm::fail_job(std::string("MPI failure ") + __FILE__ + ":" + std::to_string(__LINE__) + " '" + \
                                    #call + "': " + ::anchorsweep::comm::mpi_error_text(mpi_rc_)); \
  } while (0)

namespace anchorsweep::comm {

// MPI's own words for an error code.
static std::string mpi_error_text(int rc) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  return std::string(msg, len);
}

namespace {
// Who this process is, for fail_job's message: set once MPI knows.
std::string g_who = "rank ? (before MPI_Init)";
}  // namespace

void fail_job(const std::string& what) {
  std::fprintf(stderr, "anchorsweep: %s: %s; ending the job\n", g_who.c_str(), what.c_str());
  std::fflush(stderr);
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);
}

void set_failure_context(const std::string& extra) {
  const auto cut = g_who.find(", ");
  g_who = (cut == std::string::npos ? g_who : g_who.substr(0, cut)) + (extra.empty() ? "" : ", " + extra);
}

bool launched_with_ranks() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "SLURM_NTASKS"}) {
    const char* v = std::getenv(var);
    if (v && std::atoi(v) > 1) return true;
  }
  // srun --mpi=pmix sets PMIX_RANK; a one-rank MPI job still counts as a launch with ranks.
  return std::getenv("OMPI_COMM_WORLD_RANK") || std::getenv("PMIX_RANK");
}

static MPI_Comm as_comm(void* p) { return static_cast<MPI_Comm>(p); }

struct MpiComm::Posted {
  std::vector<char> buf;
  MPI_Request request = MPI_REQUEST_NULL;
};

MpiComm::MpiComm(int* argc, char*** argv) {
  int provided = 0;
  MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided));
  if (provided < MPI_THREAD_SERIALIZED) {
    std::fprintf(stderr, "anchorsweep: this MPI gives thread level %d; rank 0's service thread needs "
                         "MPI_THREAD_SERIALIZED or better\n", provided);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  thread_multiple_ = provided >= MPI_THREAD_MULTIPLE;
  // Errors come back to MPI_CHECK, which names rank, host and call; communicators made from
  // MPI_COMM_WORLD inherit the handler, and each is set again below to say so.
  MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  MPI_Comm node;
  MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node));
  MPI_CHECK(MPI_Comm_set_errhandler(node, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(node, &local_rank_));
  MPI_CHECK(MPI_Comm_size(node, &local_size_));
  node_comm_ = node;
  MPI_Comm groups;
  MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &groups));
  MPI_CHECK(MPI_Comm_set_errhandler(groups, MPI_ERRORS_RETURN));
  groups_parent_ = groups;
  char name[MPI_MAX_PROCESSOR_NAME];
  int len = 0;
  MPI_CHECK(MPI_Get_processor_name(name, &len));
  host_.assign(name, len);
  g_who = "rank " + std::to_string(rank_) + " (" + host_ + ")";
}

MpiComm::~MpiComm() {
  // Posted messages still in flight (a beat to a rank that has finished) complete on their own;
  // their buffers must outlive them, so they are kept to the end of the process.
  static auto* in_flight = new std::vector<std::shared_ptr<Posted>>;
  for (auto& [dest, flying] : posted_)
    for (auto& p : flying)
      if (p->request != MPI_REQUEST_NULL) {
        MPI_Request_free(&p->request);
        in_flight->push_back(p);
      }
  MPI_Comm node = as_comm(node_comm_);
  MPI_Comm_free(&node);
  MPI_Comm groups = as_comm(groups_parent_);
  MPI_Comm_free(&groups);
  MPI_Finalize();
}

// Wire format: one MPI_BYTE message [u64 version][u64 header size][header][u64 blob count]([u64 size][bytes])*.
static std::vector<char> encode(const Message& m) {
  std::vector<char> buf;
  auto put_u64 = [&](uint64_t v) { buf.insert(buf.end(), reinterpret_cast<char*>(&v), reinterpret_cast<char*>(&v) + 8); };
  put_u64(kWireVersion);
  put_u64(m.header.size());
  buf.insert(buf.end(), m.header.begin(), m.header.end());
  put_u64(m.blobs.size());
  for (const auto& b : m.blobs) {
    put_u64(b.size());
    buf.insert(buf.end(), b.begin(), b.end());
  }
  if (buf.size() > static_cast<size_t>(INT32_MAX)) throw std::runtime_error("MPI message over 2 GiB");
  return buf;
}

void MpiComm::send(int dest, const Message& m) {
  const auto buf = encode(m);
  MPI_CHECK(MPI_Send(buf.data(), static_cast<int>(buf.size()), MPI_BYTE, dest, m.tag, MPI_COMM_WORLD));
  sent_bytes_ += buf.size();
  ++sent_messages_;
}

bool MpiComm::post(int dest, const Message& m, std::string* error, bool always) {
  auto mpi_error = [&](int rc) {
    if (error) *error = mpi_error_text(rc);
    return false;
  };
  std::lock_guard<std::mutex> lock(posted_mu_);
  auto& flying = posted_[dest];
  for (auto it = flying.begin(); it != flying.end();) {
    int done = 0;
    if (const int rc = MPI_Test(&(*it)->request, &done, MPI_STATUS_IGNORE); rc != MPI_SUCCESS) return mpi_error(rc);
    it = done ? flying.erase(it) : it + 1;
  }
  if (!flying.empty() && !always) return true;  // the peer has not taken the last one: send nothing more
  auto p = std::make_shared<Posted>();
  p->buf = encode(m);
  const int rc = MPI_Isend(p->buf.data(), static_cast<int>(p->buf.size()), MPI_BYTE, dest, m.tag, MPI_COMM_WORLD,
                           &p->request);
  if (rc != MPI_SUCCESS) return mpi_error(rc);
  flying.push_back(p);
  sent_bytes_ += p->buf.size();
  ++sent_messages_;
  return true;
}

namespace {
// The message in `buf` (MpiComm::send's wire format) into `m`.
void decode(std::vector<char>& buf, int from, int me, Message& m) {
  const size_t count = buf.size();
  size_t off = 0;
  auto get_u64 = [&]() {
    uint64_t v;
    std::memcpy(&v, buf.data() + off, 8);
    off += 8;
    return v;
  };
  const uint64_t version = count >= 8 ? get_u64() : 0;
  if (version != kWireVersion)
    throw std::runtime_error("rank " + std::to_string(from) + " sent a message of wire format version " +
                             std::to_string(version) + "; rank " + std::to_string(me) + " speaks version " +
                             std::to_string(kWireVersion) + ": every rank must run the same anchorsweep build");
  uint64_t n = get_u64();
  m.header.assign(buf.data() + off, n);
  off += n;
  m.blobs.assign(get_u64(), {});
  for (auto& b : m.blobs) {
    n = get_u64();
    b.assign(buf.data() + off, buf.data() + off + n);
    off += n;
  }
}
}  // namespace

// Matched probes (MPI_Mprobe/MPI_Mrecv): the message probed is the one received, even when a
// worker's heartbeat thread takes rank 0's beats beside its training thread's receives.
int MpiComm::recv(Message& m, int source) {
  MPI_Status st;
  MPI_Message msg;
  MPI_CHECK(MPI_Mprobe(source < 0 ? MPI_ANY_SOURCE : source, MPI_ANY_TAG, MPI_COMM_WORLD, &msg, &st));
  receive_matched(&msg, &st, m);
  return st.MPI_SOURCE;
}

bool MpiComm::try_recv(Message& m, int source, int tag) {
  int flag = 0;
  MPI_Status st;
  MPI_Message msg;
  MPI_CHECK(MPI_Improbe(source, tag < 0 ? MPI_ANY_TAG : tag, MPI_COMM_WORLD, &flag, &msg, &st));
  if (flag) receive_matched(&msg, &st, m);
  return flag != 0;
}

void MpiComm::receive_matched(void* message, void* status, Message& m) {
  auto* st = static_cast<MPI_Status*>(status);
  int count = 0;
  MPI_CHECK(MPI_Get_count(st, MPI_BYTE, &count));
  std::vector<char> buf(count);
  MPI_CHECK(MPI_Mrecv(buf.data(), count, MPI_BYTE, static_cast<MPI_Message*>(message), MPI_STATUS_IGNORE));
  received_bytes_ += static_cast<uint64_t>(count);
  ++received_messages_;
  m.tag = st->MPI_TAG;
  decode(buf, st->MPI_SOURCE, rank(), m);
}

bool MpiComm::poll(int* source) {
  int flag = 0;
  MPI_Status st;
  MPI_CHECK(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st));
  if (flag && source) *source = st.MPI_SOURCE;
  return flag != 0;
}

namespace {
// Every rank's string, in rank order, over `comm` of `size` ranks.
std::vector<std::string> all_gather_strings(const std::string& s, int size, MPI_Comm comm) {
  int len = static_cast<int>(s.size());
  std::vector<int> lens(size), offs(size, 0);
  MPI_CHECK(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, comm));
  int total = 0;
  for (int i = 0; i < size; ++i) {
    offs[i] = total;
    total += lens[i];
  }
  std::vector<char> all(std::max(total, 1));
  MPI_CHECK(MPI_Allgatherv(s.data(), len, MPI_CHAR, all.data(), lens.data(), offs.data(), MPI_CHAR, comm));
  std::vector<std::string> out;
  for (int i = 0; i < size; ++i) out.emplace_back(all.data() + offs[i], lens[i]);
  return out;
}
}  // namespace

std::vector<std::string> MpiComm::all_gather(const std::string& s) { return all_gather_strings(s, size_, MPI_COMM_WORLD); }

void MpiComm::broadcast(std::string& s, int root) {
  uint64_t n = s.size();
  MPI_CHECK(MPI_Bcast(&n, 1, MPI_UINT64_T, root, MPI_COMM_WORLD));
  s.resize(n);
  if (n > 0) MPI_CHECK(MPI_Bcast(s.data(), static_cast<int>(n), MPI_CHAR, root, MPI_COMM_WORLD));
}

int MpiComm::max_over_ranks(int value) {
  int out = 0;
  MPI_CHECK(MPI_Allreduce(&value, &out, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
  return out;
}

void MpiComm::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

Traffic MpiComm::traffic() const {
  return {sent_bytes_.load(), sent_messages_.load(), received_bytes_.load(), received_messages_.load()};
}

}  // namespace anchorsweep::comm

namespace anchorsweep::comm {

// Collective over `world_ranks` only (MPI-3): the other ranks of the job take no part.
GroupComm::GroupComm(MpiComm& mpi, const std::vector<int>& world_ranks, int tag) {
  liveness::WaitingOnPeers waiting;  // MPI_Comm_create_group waits for every member
  const MPI_Comm parent = as_comm(mpi.groups_parent());  // same ranks as MPI_COMM_WORLD
  MPI_Group world, members;
  MPI_CHECK(MPI_Comm_group(parent, &world));
  MPI_CHECK(MPI_Group_incl(world, static_cast<int>(world_ranks.size()), world_ranks.data(), &members));
  MPI_Comm comm;
  MPI_CHECK(MPI_Comm_create_group(parent, members, tag, &comm));
  if (comm != MPI_COMM_NULL) MPI_CHECK(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN));
  MPI_Group_free(&members);
  MPI_Group_free(&world);
  comm_ = comm;
  MPI_CHECK(MPI_Comm_rank(comm, &rank_));
  MPI_CHECK(MPI_Comm_size(comm, &size_));
}

GroupComm::~GroupComm() {
  MPI_Comm comm = as_comm(comm_);
  MPI_Comm_free(&comm);
}

void GroupComm::all_reduce_sum(float* data, int64_t count) {
  liveness::WaitingOnPeers waiting;
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(count), MPI_FLOAT, MPI_SUM, as_comm(comm_)));
}

void GroupComm::all_reduce_sum(double* data, int64_t count) {
  liveness::WaitingOnPeers waiting;
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(count), MPI_DOUBLE, MPI_SUM, as_comm(comm_)));
}

// MPI_Request is a handle (a pointer in Open MPI, an int in MPICH): kept as an integer that
// holds either, so that the header needs no mpi.h.
static_assert(sizeof(MPI_Request) <= sizeof(std::uintptr_t), "MPI_Request fits an uintptr_t");
static MPI_Request as_request(std::uintptr_t r) {
  MPI_Request q;
  std::memcpy(&q, &r, sizeof q);
  return q;
}

void GroupComm::start_sum(float* data, int64_t count) {
  MPI_Request q;
  MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(count), MPI_FLOAT, MPI_SUM, as_comm(comm_), &q));
  std::uintptr_t r = 0;
  std::memcpy(&r, &q, sizeof q);
  requests_.push_back(r);
}

void GroupComm::progress() {
  if (requests_.empty()) return;
  std::vector<MPI_Request> q;
  for (auto r : requests_) q.push_back(as_request(r));
  int done = 0;
  MPI_CHECK(MPI_Testall(static_cast<int>(q.size()), q.data(), &done, MPI_STATUSES_IGNORE));
  if (done) requests_.clear();
  else
    for (size_t i = 0; i < q.size(); ++i) std::memcpy(&requests_[i], &q[i], sizeof q[i]);  // as MPI left them
}

void GroupComm::wait_sums() {
  if (requests_.empty()) return;
  liveness::WaitingOnPeers waiting;
  std::vector<MPI_Request> q;
  for (auto r : requests_) q.push_back(as_request(r));
  requests_.clear();
  MPI_CHECK(MPI_Waitall(static_cast<int>(q.size()), q.data(), MPI_STATUSES_IGNORE));
}

std::vector<std::string> GroupComm::all_gather(const std::string& s) {
  liveness::WaitingOnPeers waiting;
  return all_gather_strings(s, size_, as_comm(comm_));
}

void GroupComm::broadcast(std::string& s, int root) {
  liveness::WaitingOnPeers waiting;
  uint64_t n = s.size();
  MPI_CHECK(MPI_Bcast(&n, 1, MPI_UINT64_T, root, as_comm(comm_)));
  s.resize(n);
  if (n > 0) MPI_CHECK(MPI_Bcast(s.data(), static_cast<int>(n), MPI_CHAR, root, as_comm(comm_)));
}

}  // namespace anchorsweep::comm
