#include "sweep/mpi_shard_group.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

#include "common/files.hpp"

namespace anchorsweep {

MpiShardGroup::MpiShardGroup(comm::MpiComm& mpi, const std::vector<int64_t>& members, int tag,
                             const torch::Device& device)
    : members_(members) {
  comm_ = std::make_unique<comm::GroupComm>(mpi, std::vector<int>(members.begin(), members.end()), tag);
#ifdef ANCHORSWEEP_WITH_NCCL
  // NCCL when every member holds a GPU of its own: it refuses two ranks of one communicator on
  // one GPU ("invalid usage"), so members that share a GPU sum through host memory and MPI.
  const auto where = comm_->all_gather(local_host() + " " + (device.is_cuda() ? device.str() : "cpu"));
  const std::set<std::string> distinct(where.begin(), where.end());
  const bool all_gpu = std::all_of(where.begin(), where.end(),
                                   [](const std::string& w) { return w.find(" cuda") != std::string::npos; });
  if (all_gpu && distinct.size() == where.size()) nccl_ = std::make_unique<comm::NcclComm>(*comm_, device.index());
#else
  (void)device;
#endif
}

void MpiShardGroup::all_reduce_sum(torch::Tensor& t) {
  if (!t.is_contiguous()) throw std::logic_error("all_reduce_sum: tensor not contiguous");
  const bool is_double = t.scalar_type() == torch::kDouble;
  if (!is_double && t.scalar_type() != torch::kFloat) throw std::logic_error("all_reduce_sum: float or double only");
  if (t.is_cuda()) {
#ifdef ANCHORSWEEP_WITH_NCCL
    if (nccl_) return nccl_->all_reduce_sum(t.data_ptr(), t.numel(), is_double);
#endif
    auto host = t.cpu();  // no NCCL: through host memory
    all_reduce_sum(host);
    t.copy_(host);
    return;
  }
  if (is_double) comm_->all_reduce_sum(t.data_ptr<double>(), t.numel());
  else comm_->all_reduce_sum(t.data_ptr<float>(), t.numel());
}

void MpiShardGroup::start_sum(torch::Tensor& t) {
  // Host float buffers start an MPI_Iallreduce. On a GPU, NCCL's sum is queued on the device's
  // stream anyway (all_reduce_sum does not wait for it); through host memory it is summed now.
  if (t.is_cuda() || t.scalar_type() != torch::kFloat || !t.is_contiguous()) return all_reduce_sum(t);
  comm_->start_sum(t.data_ptr<float>(), t.numel());
}

void MpiShardGroup::progress_sums() { comm_->progress(); }

void MpiShardGroup::finish_sums() { comm_->wait_sums(); }

bool MpiShardGroup::broadcast_flag(bool value) {
  std::string s(1, value ? '1' : '0');
  comm_->broadcast(s, 0);
  return s == "1";
}

int group_tag(const std::string& task_id) {
  const auto h = std::stoull(fnv1a_hex(task_id).substr(0, 8), nullptr, 16);
  return static_cast<int>(h % 30000) + 100;  // within MPI's guaranteed tag range (32767)
}

std::unique_ptr<MpiShardGroup> group_for(comm::MpiComm& mpi, const std::vector<int64_t>& members,
                                         const std::string& task_id, const torch::Device& device) {
  if (members.size() < 2) return nullptr;
  return std::make_unique<MpiShardGroup>(mpi, members, group_tag(task_id), device);
}

}  // namespace anchorsweep
