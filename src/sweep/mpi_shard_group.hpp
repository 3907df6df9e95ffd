// MpiShardGroup: a data-parallel group's transport. Gradients on CPU ranks are summed with
// MPI_Allreduce over the group's own communicator; on GPU ranks with NCCL (bootstrapped over
// that communicator) when anchorsweep was built with it and every member has a GPU of its own,
// else through host memory.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "comm/mpi_comm.hpp"
#ifdef ANCHORSWEEP_WITH_NCCL
#include "comm/nccl_comm.hpp"
#endif
#include "train/shard_group.hpp"

namespace anchorsweep {

class MpiShardGroup : public ShardGroup {
 public:
  // Called by every member, with the same members (world ranks, leader first) and tag.
  MpiShardGroup(comm::MpiComm& mpi, const std::vector<int64_t>& members, int tag, const torch::Device& device);
  int rank() const override { return comm_->rank(); }
  int size() const override { return comm_->size(); }
  std::vector<int64_t> ranks() const override { return members_; }
  void all_reduce_sum(torch::Tensor& t) override;
  bool broadcast_flag(bool value) override;
  void start_sum(torch::Tensor& t) override;
  void progress_sums() override;
  void finish_sums() override;

 private:
  std::vector<int64_t> members_;
  std::unique_ptr<comm::GroupComm> comm_;
#ifdef ANCHORSWEEP_WITH_NCCL
  std::unique_ptr<comm::NcclComm> nccl_;
#endif
};

// A tag that names one group task on every member (MPI_Comm_create_group's tag).
int group_tag(const std::string& task_id);

// The group of a task handed to this rank with `members` (leader first); null for a one-rank task.
std::unique_ptr<MpiShardGroup> group_for(comm::MpiComm& mpi, const std::vector<int64_t>& members,
                                         const std::string& task_id, const torch::Device& device);

}  // namespace anchorsweep
