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
};

// Rows [begin, end) of a batch of n that member `rank` of `size` takes: contiguous, sizes
// differing by at most one (the first n mod size members take one more).
std::pair<int64_t, int64_t> shard_rows(int64_t n, int rank, int size);

// Sums the gradients of `parameters` over the group through one flat buffer (one collective per
// step); a parameter without a gradient counts as zeros.
void all_reduce_gradients(ShardGroup& group, const std::vector<torch::Tensor>& parameters);

// An embedding table in `parameters` and the rows this member's share of the batch looked up
// (its token ids, duplicates allowed): every other row's gradient is zero on this member.
struct TouchedRows {
  torch::Tensor table;
  torch::Tensor ids;
};

// The same sums, but the table's gradient travels as the rows some member touched, not whole:
// a batch of SemEval touches about a thousand of 20,000 words (about 1/20 of the embedding's
// 8 MB). Two collectives: the union of touched rows (a 0/1 mask over the table's rows, summed),
// then those rows with every other parameter's gradient in one flat buffer. Each element is
// summed over the same members as by the dense exchange, so the result is the same.
void all_reduce_gradients(ShardGroup& group, const std::vector<torch::Tensor>& parameters, const TouchedRows& sparse);

}  // namespace anchorsweep
