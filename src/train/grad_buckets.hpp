// GradientBuckets: a data-parallel group's gradient exchange, started while backward still runs,
// bucket by bucket, as PyTorch's DistributedDataParallel does.
//
// Backward produces gradients from the last layer to the first. A hook on each parameter copies
// its gradient into its bucket's flat buffer as soon as it exists; once a bucket is full, and every
// bucket before it has started, its sum over the group starts (ShardGroup::start_sum: an
// MPI_Iallreduce on CPUs, NCCL on the device's stream on GPUs) while backward goes on with the
// layers below. Buckets hold the parameters in reverse registration order, about the order backward
// reaches them, and start in bucket order on every member, so the members' collectives match.
//
// The word embedding is not bucketed: a batch touches a few thousand of its rows. Its exchange
// needs the union of the rows all members touched, which is known before the forward pass, so
// begin_step() starts that sum (a 0/1 mask over the rows) first; end_step() then sums just those
// rows. Each element is summed over the same members as by a flat exchange of every gradient
// (all_reduce_gradients), so the result is the same.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "train/shard_group.hpp"

namespace anchorsweep {

// The bucket size a group uses: kDefaultBucketBytes, or ANCHORSWEEP_GRADIENT_BUCKET_BYTES (a
// benchmark's knob: `tests/bench/group_scaling.sh ceiling` measures the overlap with one huge bucket).
// Throws std::invalid_argument, naming the variable, for a value that is not a positive integer;
// the sweep checks it at start-up.
int64_t gradient_bucket_bytes();

class GradientBuckets {
 public:
  static constexpr int64_t kDefaultBucketBytes = 256 * 1024;

  // `params`: every parameter the step trains. `table`: the one among them whose gradient is the
  // rows this member's batch looked up (dense or sparse), or an undefined tensor.
  GradientBuckets(ShardGroup& group, const std::vector<torch::Tensor>& params, torch::Tensor table,
                  int64_t bucket_bytes = kDefaultBucketBytes);
  ~GradientBuckets();  // removes the hooks
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  // Before the forward pass, with the table rows this member's share looks up (token ids, any
  // shape; empty when it has no rows): starts the union of every member's rows.
  void begin_step(const torch::Tensor& ids);
  // After backward (at once for a member without rows): starts the buckets still waiting, in
  // order, waits for every sum, then sums the table's touched rows. Every parameter's .grad then
  // holds the group's sum (the table's sparse when it came sparse, else dense).
  void end_step();

  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }
  int64_t started_during_backward() const { return started_early_; }  // buckets, since construction

 private:
  struct Bucket {
    torch::Tensor flat;
    int64_t params = 0, waiting = 0;
  };
  struct Slot {
    torch::Tensor param;
    size_t bucket = 0;
    int64_t offset = 0;
    bool filled = false;
    unsigned hook = 0;
  };
  void on_grad(size_t slot, const torch::Tensor& grad);
  void start_full_buckets();

  ShardGroup& group_;
  torch::Tensor table_, mask_;
  std::vector<Slot> slots_;
  std::vector<Bucket> buckets_;
  size_t next_ = 0;  // the first bucket not yet started
  bool in_step_ = false;
  int64_t started_early_ = 0;
};

}  // namespace anchorsweep
