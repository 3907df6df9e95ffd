#include "train/fused_adam.hpp"

#include <cmath>
#include <string>

#include "common/vector_clones.hpp"

namespace anchorsweep {

namespace {

// The scalars of one parameter's step, in float as ATen applies them to float tensors.
struct StepScalars {
  float beta1, one_minus_beta1, beta2, one_minus_beta2, bias2_sqrt, eps, neg_step_size;
};

// n consecutive elements; g may be a row of zeros (a row a sparse gradient does not touch).
ANCHORSWEEP_VECTOR_CLONES void adam_span(int64_t n, const StepScalars& s, float* __restrict p, const float* __restrict g,
                                         float* __restrict m, float* __restrict v) {
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i];
    const float mi = m[i] * s.beta1 + gi * s.one_minus_beta1;   // exp_avg.mul_(β1).add_(g, 1−β1)
    const float vi = v[i] * s.beta2 + s.one_minus_beta2 * gi * gi;  // exp_avg_sq.mul_(β2).addcmul_(g, g, 1−β2)
    const float denom = std::sqrt(vi) / s.bias2_sqrt + s.eps;   // (√v / √(1−β2ᵗ)).add_(ε)
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] + s.neg_step_size * (mi / denom);               // θ.addcdiv_(m, denom, −lr/(1−β1ᵗ))
  }
}

}  // namespace

FusedAdam::FusedAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options)
    : torch::optim::Adam(std::move(params), options) {
  TORCH_CHECK(options.weight_decay() == 0 && !options.amsgrad(), "FusedAdam: no weight decay, no AMSGrad");
  for (const auto& group : param_groups())
    for (const auto& p : group.params()) {
      TORCH_CHECK(supports({p}), "FusedAdam: parameters must be dense float tensors on the CPU");
      moments_.push_back({0, torch::zeros_like(p, torch::MemoryFormat::Contiguous),
                          torch::zeros_like(p, torch::MemoryFormat::Contiguous)});
    }
}

bool FusedAdam::supports(const std::vector<torch::Tensor>& params) {
  for (const auto& p : params)
    if (!p.device().is_cpu() || p.scalar_type() != torch::kFloat || p.is_sparse() || !p.is_contiguous()) return false;
  return true;
}

torch::Tensor FusedAdam::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable_grad(true);
    loss = closure();
  }
  size_t k = 0;
  for (auto& group : param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamOptions&>(group.options());
    const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
    for (auto& p : group.params()) {
      Moments& mo = moments_[k++];
      const torch::Tensor& grad = p.grad();
      if (!grad.defined()) continue;  // as Adam: no gradient, no step
      ++mo.step;
      // Adam's scalars, in double, then as the float kernels receive them.
      const double bias1 = 1 - std::pow(beta1, static_cast<double>(mo.step));
      const double bias2 = 1 - std::pow(beta2, static_cast<double>(mo.step));
      const StepScalars s{static_cast<float>(beta1),       static_cast<float>(1 - beta1),
                          static_cast<float>(beta2),       static_cast<float>(1 - beta2),
                          static_cast<float>(std::sqrt(bias2)), static_cast<float>(o.eps()),
                          static_cast<float>(-(o.lr() / bias1))};
      float* P = p.data_ptr<float>();
      float* M = mo.m.data_ptr<float>();
      float* V = mo.v.data_ptr<float>();
      if (!grad.is_sparse()) {
        const auto g = grad.contiguous();
        const float* G = g.data_ptr<float>();
        at::parallel_for(0, p.numel(), 16384, [&](int64_t b, int64_t e) { adam_span(e - b, s, P + b, G + b, M + b, V + b); });
        continue;
      }
      // Rows: the first dimension; a row's elements are contiguous.
      const auto g = grad.coalesce();
      const auto rows_touched = g._indices()[0].contiguous();
      const auto values = g._values().contiguous();
      const int64_t rows = p.size(0), width = p.numel() / std::max<int64_t>(1, rows);
      row_of_.assign(static_cast<size_t>(rows), -1);
      const int64_t* R = rows_touched.data_ptr<int64_t>();
      for (int64_t i = 0; i < rows_touched.numel(); ++i) row_of_[static_cast<size_t>(R[i])] = i;
      const float* G = values.data_ptr<float>();
      const std::vector<float> zeros(static_cast<size_t>(width), 0.0f);
      at::parallel_for(0, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, width)), [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
          const int64_t gi = row_of_[static_cast<size_t>(r)];
          const int64_t at = r * width;
          adam_span(width, s, P + at, gi >= 0 ? G + gi * width : zeros.data(), M + at, V + at);
        }
      });
    }
  }
  return loss;
}

void FusedAdam::save(torch::serialize::OutputArchive& archive) const {
  std::vector<int64_t> steps;
  for (size_t i = 0; i < moments_.size(); ++i) {
    steps.push_back(moments_[i].step);
    archive.write("m" + std::to_string(i), moments_[i].m);
    archive.write("v" + std::to_string(i), moments_[i].v);
  }
  archive.write("fused_adam_steps", torch::tensor(steps, torch::kLong));
}

void FusedAdam::load(torch::serialize::InputArchive& archive) {
  torch::Tensor steps;
  TORCH_CHECK(archive.try_read("fused_adam_steps", steps),
              "this checkpoint holds torch::optim::Adam's state (an anchorsweep from before FusedAdam wrote it), "
              "which FusedAdam does not read: rerun this task from its start");
  TORCH_CHECK(steps.numel() == static_cast<int64_t>(moments_.size()), "FusedAdam: the checkpoint holds ",
              steps.numel(), " parameters' moments, this model has ", moments_.size());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < moments_.size(); ++i) {
    moments_[i].step = steps[static_cast<int64_t>(i)].item<int64_t>();
    torch::Tensor m, v;
    archive.read("m" + std::to_string(i), m);
    archive.read("v" + std::to_string(i), v);
    // copy_ would broadcast a [1] or [N] moment over a [K, N] parameter without a word.
    TORCH_CHECK(m.sizes() == moments_[i].m.sizes() && v.sizes() == moments_[i].v.sizes(), "FusedAdam: the checkpoint's moments of parameter ",
                i, " have shape ", m.sizes(), " / ", v.sizes(), ", the parameter has ", moments_[i].m.sizes(),
                ": the checkpoint belongs to another model");
    moments_[i].m.copy_(m);
    moments_[i].v.copy_(v);
  }
}

}  // namespace anchorsweep
