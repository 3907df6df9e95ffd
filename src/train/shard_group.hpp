// ShardGroup: the ranks that train one classifier together, data-parallel (pretrain.ranks = k).
//
// Every member holds the same weights and walks the same global batches (order from the seed,
// dropout masks drawn for the whole batch); member j takes its contiguous share of each batch's
// rows, computes Σ_{its rows} CE / n_global, and the group sums the gradients, so every member
// holds ∇ of the global batch's mean loss and takes the same optimizer step. A result depends on
// k only through the order of float sums. The transport (MPI on CPUs, NCCL on GPUs) lives in
// sweep/ and comm/; training sees only this interface.
#pragma once

#include <torch/torch.h>

#include <utility>
#include <vector>

namespace anchorsweep {

class ShardGroup {
 public:
  virtual ~ShardGroup() = default;
  virtual int rank() const = 0;  // 0 = the leader, who reports epochs and the result
  virtual int size() const = 0;
  virtual std::vector<int64_t> ranks() const = 0;  // the members' ranks in the job, leader first
  // In place: every member ends with the element-wise sum over the group (float or double, on
  // the tensor's device).
  virtual void all_reduce_sum(torch::Tensor& t) = 0;
  // The leader's `value`, on every member.
  virtual bool broadcast_flag(bool value) = 0;

  // The same sum, started now and complete after finish_sums(); `t` stays alive and untouched
  // until then. Every member starts its sums in the same order. progress_sums() lets started sums
  // advance while the caller computes. A transport without non-blocking sums sums at once
  // (these defaults); MPI starts an MPI_Iallreduce; NCCL queues on the device's stream.
  virtual void start_sum(torch::Tensor& t) { all_reduce_sum(t); }
  virtual void progress_sums() {}
  virtual void finish_sums() {}
};

// Rows [begin, end) of a batch of n that member `rank` of `size` takes: contiguous, sizes
// differing by at most one (the first n mod size members take one more).
std::pair<int64_t, int64_t> shard_rows(int64_t n, int rank, int size);

// Sums the gradients of `parameters` over the group through one flat buffer (one collective per
// step); a parameter without a gradient counts as zeros. The reference that training's exchange
// (train/grad_buckets.hpp: bucketed, overlapped with backward, the embedding's touched rows only)
// must equal.
void all_reduce_gradients(ShardGroup& group, const std::vector<torch::Tensor>& parameters);

}  // namespace anchorsweep
