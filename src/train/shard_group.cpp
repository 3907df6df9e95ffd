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

void all_reduce_gradients(ShardGroup& group, const std::vector<torch::Tensor>& parameters, const TouchedRows& sparse) {
  torch::NoGradGuard no_grad;
  // Which rows any member touched: the sum of every member's 0/1 mask, nonzero where one did.
  const int64_t rows = sparse.table.size(0);
  auto mask = torch::zeros({rows}, sparse.table.options());
  if (sparse.ids.numel() > 0) mask.index_fill_(0, sparse.ids.reshape(-1).to(mask.device()), 1.0);
  group.all_reduce_sum(mask);
  const auto touched = mask.nonzero().squeeze(1);  // sorted, the same on every member
  std::vector<torch::Tensor> parts;
  parts.reserve(parameters.size());
  for (const auto& p : parameters) {
    const bool table = p.is_same(sparse.table);
    if (!p.grad().defined())
      parts.push_back(torch::zeros({table ? touched.numel() * p.size(1) : p.numel()}, p.options()));
    else
      parts.push_back(table ? p.grad().index_select(0, touched).reshape(-1) : p.grad().reshape(-1));
  }
  auto flat = torch::cat(parts);
  group.all_reduce_sum(flat);
  int64_t offset = 0;
  for (auto p : parameters) {
    if (p.is_same(sparse.table)) {
      const int64_t n = touched.numel() * p.size(1);
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      // Rows outside `touched` are zero on every member already: only the summed rows change.
      p.mutable_grad().index_copy_(0, touched, flat.narrow(0, offset, n).view({touched.numel(), p.size(1)}));
      offset += n;
      continue;
    }
    auto sum = flat.narrow(0, offset, p.numel()).view_as(p);
    if (p.grad().defined()) p.mutable_grad().copy_(sum);
    else p.mutable_grad() = sum.clone();
    offset += p.numel();
  }
}

}  // namespace anchorsweep
