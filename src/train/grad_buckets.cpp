#include "train/grad_buckets.hpp"

#include <cstdlib>
#include <stdexcept>
#include <string>

namespace anchorsweep {

int64_t gradient_bucket_bytes() {
  const char* v = std::getenv("ANCHORSWEEP_GRADIENT_BUCKET_BYTES");
  if (!v || !*v) return GradientBuckets::kDefaultBucketBytes;
  char* end = nullptr;
  const long long n = std::strtoll(v, &end, 10);
  if (*end != '\0' || n <= 0)
    throw std::invalid_argument(std::string("ANCHORSWEEP_GRADIENT_BUCKET_BYTES: expected a positive number of bytes, got \"") +
                                v + "\"");
  return n;
}

GradientBuckets::GradientBuckets(ShardGroup& group, const std::vector<torch::Tensor>& params, torch::Tensor table,
                                 int64_t bucket_bytes)
    : group_(group), table_(std::move(table)) {
  // Reverse registration order: backward reaches the last layers first.
  std::vector<int64_t> sizes;  // each bucket's elements
  int64_t in_bucket = 0;       // bytes
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    if (table_.defined() && it->is_same(table_)) continue;
    const int64_t bytes = it->numel() * static_cast<int64_t>(it->element_size());
    if (sizes.empty() || (in_bucket > 0 && in_bucket + bytes > bucket_bytes)) {
      sizes.push_back(0);
      buckets_.push_back({});
      in_bucket = 0;
    }
    slots_.push_back({*it, buckets_.size() - 1, sizes.back()});
    sizes.back() += it->numel();
    ++buckets_.back().params;
    in_bucket += bytes;
  }
  for (size_t b = 0; b < buckets_.size(); ++b)
    buckets_[b].flat = torch::zeros({sizes[b]}, slots_.front().param.options().requires_grad(false));
  for (size_t i = 0; i < slots_.size(); ++i)
    slots_[i].hook = slots_[i].param.register_hook([this, i](const torch::Tensor& g) { on_grad(i, g); });
}

GradientBuckets::~GradientBuckets() {
  for (auto& s : slots_) s.param.remove_hook(s.hook);
}

void GradientBuckets::begin_step(const torch::Tensor& ids) {
  torch::NoGradGuard no_grad;
  for (auto& b : buckets_) b.waiting = b.params;
  // Each gradient is a view of its bucket after end_step. An optimizer's in-place zero_grad()
  // (LibTorch 1.13's) would leave it there, and backward would then add the new gradient into
  // the bucket the hook already filled: dropped here, backward makes a fresh one.
  for (auto& s : slots_) {
    s.filled = false;
    s.param.mutable_grad().reset();
  }
  next_ = 0;
  in_step_ = true;
  if (table_.defined()) {
    mask_ = torch::zeros({table_.size(0)}, table_.options().requires_grad(false));
    if (ids.numel() > 0) mask_.index_fill_(0, ids.reshape(-1).to(mask_.device()), 1.0);
    group_.start_sum(mask_);
  }
}

void GradientBuckets::on_grad(size_t i, const torch::Tensor& grad) {
  if (!in_step_) return;  // a backward outside a step (none in training; kept harmless)
  Slot& s = slots_[i];
  if (s.filled) throw std::logic_error("GradientBuckets: a parameter's gradient arrived twice in one step");
  torch::NoGradGuard no_grad;
  buckets_[s.bucket].flat.narrow(0, s.offset, s.param.numel()).copy_(grad.reshape(-1));
  s.filled = true;
  --buckets_[s.bucket].waiting;
  const size_t before = next_;
  start_full_buckets();
  started_early_ += static_cast<int64_t>(next_ - before);
  group_.progress_sums();
}

void GradientBuckets::start_full_buckets() {
  while (next_ < buckets_.size() && buckets_[next_].waiting == 0) group_.start_sum(buckets_[next_++].flat);
}

void GradientBuckets::end_step() {
  torch::NoGradGuard no_grad;
  // A parameter that got no gradient (a member without rows) adds zeros.
  for (auto& s : slots_)
    if (!s.filled) {
      buckets_[s.bucket].flat.narrow(0, s.offset, s.param.numel()).zero_();
      s.filled = true;
      --buckets_[s.bucket].waiting;
    }
  start_full_buckets();
  group_.finish_sums();
  in_step_ = false;
  for (auto& s : slots_) {
    auto sum = buckets_[s.bucket].flat.narrow(0, s.offset, s.param.numel()).view(s.param.sizes());
    s.param.mutable_grad() = sum;  // a view of the bucket: the next step refills it
  }
  if (!table_.defined()) return;

  // The table: only the rows some member touched (sorted, the same on every member).
  const auto touched = mask_.nonzero().squeeze(1);
  const int64_t width = table_.size(1);
  auto rows = torch::zeros({touched.numel(), width}, table_.options().requires_grad(false));
  const torch::Tensor& g = table_.grad();
  const bool sparse = g.defined() && g.is_sparse();
  if (g.defined() && g.is_sparse()) {
    const auto c = g.coalesce();
    // A row's place in `touched`: how many touched rows come before it.
    const auto place = (mask_ > 0).to(torch::kLong).cumsum(0).sub_(1);
    rows.index_copy_(0, place.index_select(0, c._indices()[0]), c._values());
  } else if (g.defined()) {
    rows = g.index_select(0, touched);
  }
  group_.all_reduce_sum(rows);
  if (sparse) {
    table_.mutable_grad() = torch::sparse_coo_tensor(touched.unsqueeze(0), rows, table_.sizes())._coalesced_(true);
  } else {
    // Rows outside `touched` are zero on every member already: only the summed rows change.
    if (!g.defined()) table_.mutable_grad() = torch::zeros_like(table_);  // this member had no rows
    table_.mutable_grad().index_copy_(0, touched, rows);
  }
}

}  // namespace anchorsweep
