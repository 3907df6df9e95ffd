#include "train/device_adam.hpp"

namespace anchorsweep {

DeviceAdam::DeviceAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options)
    : torch::optim::Adam(params, options), params_(std::move(params)) {
  TORCH_CHECK(options.weight_decay() == 0 && !options.amsgrad(), "DeviceAdam: no weight decay, no AMSGrad");
  TORCH_CHECK(!params_.empty(), "DeviceAdam: no parameters");
  int64_t total = 0;
  for (const auto& p : params_) {
    TORCH_CHECK(p.scalar_type() == params_[0].scalar_type() && p.device() == params_[0].device(),
                "DeviceAdam: parameters must share one dtype and one device");
    sizes_.push_back(p.numel());
    total += p.numel();
  }
  const auto opts = params_[0].options();
  m_ = torch::zeros({total}, opts);
  v_ = torch::zeros({total}, opts);
  t_ = torch::zeros({}, opts.dtype(torch::kDouble));
  lr_ = torch::zeros({}, opts.dtype(torch::kDouble));
  beta1_ = std::get<0>(options.betas());
  beta2_ = std::get<1>(options.betas());
  eps_ = options.eps();
  sync_lr();
}

void DeviceAdam::sync_lr() {
  const double lr = param_groups().front().options().get_lr();
  if (lr == lr_host_) return;
  torch::NoGradGuard no_grad;
  lr_.fill_(lr);
  lr_host_ = lr;
}

torch::Tensor DeviceAdam::step(LossClosure closure) {
  torch::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable_grad(true);
    loss = closure();
  }
  torch::NoGradGuard no_grad;
  sync_lr();
  std::vector<torch::Tensor> grads;
  grads.reserve(params_.size());
  for (const auto& p : params_) {
    const auto& g = p.grad();
    grads.push_back(!g.defined() ? torch::zeros({p.numel()}, p.options())
                                 : (g.is_sparse() ? g.to_dense() : g).reshape(-1));
  }
  const auto g = torch::cat(grads);
  t_.add_(1);
  const auto c1 = 1 - torch::pow(beta1_, t_), c2 = 1 - torch::pow(beta2_, t_);
  m_.mul_(beta1_).add_(g, 1 - beta1_);
  v_.mul_(beta2_).addcmul_(g, g, 1 - beta2_);
  const auto denom = (v_.sqrt() / c2.sqrt()).add_(eps_);
  const auto delta = (m_ / denom).mul_(-lr_ / c1);
  std::vector<torch::Tensor> deltas = delta.split_with_sizes(sizes_);
  for (size_t i = 0; i < deltas.size(); ++i) deltas[i] = deltas[i].view(params_[i].sizes());
  at::_foreach_add_(params_, deltas);
  return loss;
}

void DeviceAdam::save(torch::serialize::OutputArchive& archive) const {
  archive.write("device_adam_step", t_.cpu());
  archive.write("device_adam_m", m_);
  archive.write("device_adam_v", v_);
}

void DeviceAdam::load(torch::serialize::InputArchive& archive) {
  torch::Tensor t, m, v;
  TORCH_CHECK(archive.try_read("device_adam_step", t),
              "this checkpoint holds another optimizer's state (an anchorsweep from before DeviceAdam wrote it, or "
              "one that trained on another kind of device), which DeviceAdam does not read: rerun this task from its start");
  archive.read("device_adam_m", m);
  archive.read("device_adam_v", v);
  TORCH_CHECK(m.sizes() == m_.sizes() && v.sizes() == v_.sizes(), "DeviceAdam: the checkpoint's moments hold ",
              m.numel(), " numbers, this model's parameters ", m_.numel(), ": the checkpoint belongs to another model");
  torch::NoGradGuard no_grad;
  t_.copy_(t);
  m_.copy_(m);
  v_.copy_(v);
}

}  // namespace anchorsweep
