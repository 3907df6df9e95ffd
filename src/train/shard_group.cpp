#include "train/shard_group.hpp"

namespace anchorsweep {

std::pair<int64_t, int64_t> shard_rows(int64_t n, int rank, int size) {
  const int64_t base = n / size, extra = n % size;
  const int64_t begin = rank * base + std::min<int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

void all_reduce_gradients(ShardGroup& group, const std::vector<torch::Tensor>& parameters) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  parts.reserve(parameters.size());
  for (const auto& p : parameters)
    parts.push_back(p.grad().defined() ? p.grad().reshape(-1) : torch::zeros({p.numel()}, p.options()));
  auto flat = torch::cat(parts);
  group.all_reduce_sum(flat);
  int64_t offset = 0;
  for (auto p : parameters) {
    auto sum = flat.narrow(0, offset, p.numel()).view_as(p);
    if (p.grad().defined()) p.mutable_grad().copy_(sum);
    else p.mutable_grad() = sum.clone();
    offset += p.numel();
  }
}

}  // namespace anchorsweep
