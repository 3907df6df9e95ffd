#include "model/fused_lstm.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "common/vector_clones.hpp"

namespace anchorsweep {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// e^x in float without libm, so that the gate loops below vectorize (libm's tanhf and expm1f
// were a sixth of a pretraining profile). Cephes' expf: x = n ln 2 + r, |r| <= ln 2 / 2, a
// degree-6 polynomial for e^r, 2^n through the exponent bits; relative error about 2e-7 (ATen's
// Sleef functions: 1 ulp). Arguments are clamped to [-87, 88], where float's e^x is finite.
__attribute__((always_inline)) inline float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (x * 1.44269504088896341f + shifter) - shifter;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e_r = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return e_r * scale;
}
__attribute__((always_inline)) inline float sigmoid(float v) { return 1.0f / (1.0f + exp_approx(-v)); }
__attribute__((always_inline)) inline float tanh_approx(float v) { return 2.0f / (1.0f + exp_approx(-2.0f * v)) - 1.0f; }

// One time step's gates for rows [r0, r1), in place: g holds the pre-activations [i f g o] of
// each row (4H wide) and receives the activations; c_prev is zero at t = 0. Compiled for
// AVX-512, AVX2 and plain x86-64 (on x86-64); the loader picks what the CPU runs.
ANCHORSWEEP_VECTOR_CLONES void gates_forward(
    int64_t r0, int64_t r1, int64_t H, float* __restrict g_base, const float* __restrict c_prev_base,
    float* __restrict c_base, float* __restrict h_base) {
  for (int64_t r = r0; r < r1; ++r) {
    float* __restrict g = g_base + r * 4 * H;
    const float* __restrict c_prev = c_prev_base + r * H;
    float* __restrict c_t = c_base + r * H;
    float* __restrict h_t = h_base + r * H;
    for (int64_t j = 0; j < H; ++j) {
      const float i = sigmoid(g[j]), f = sigmoid(g[H + j]), gg = tanh_approx(g[2 * H + j]), o = sigmoid(g[3 * H + j]);
      const float cv = f * c_prev[j] + i * gg;
      c_t[j] = cv;
      h_t[j] = o * tanh_approx(cv);
      g[j] = i;
      g[H + j] = f;
      g[2 * H + j] = gg;
      g[3 * H + j] = o;
    }
  }
}

// The backward of one step for rows [r0, r1): dG from the activations, the output gradient and
// what steps t + 1 send back (dh_next, dc_next), which it replaces by dc f for step t − 1.
ANCHORSWEEP_VECTOR_CLONES void gates_backward(
    int64_t r0, int64_t r1, int64_t H, const float* __restrict g_base, const float* __restrict c_base,
    const float* __restrict c_prev_base, const float* __restrict dh_out_base, const float* __restrict dh_next_base,
    float* __restrict dc_next_base, float* __restrict dg_base) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict g = g_base + r * 4 * H;
    const float* __restrict c_t = c_base + r * H;
    const float* __restrict c_prev = c_prev_base + r * H;
    const float* __restrict dh_out = dh_out_base + r * H;
    const float* __restrict dhn = dh_next_base + r * H;
    float* __restrict dcn = dc_next_base + r * H;
    float* __restrict dg = dg_base + r * 4 * H;
    for (int64_t j = 0; j < H; ++j) {
      const float i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
      const float tc = tanh_approx(c_t[j]);
      const float dh = dh_out[j] + dhn[j];
      const float dc = dh * o * (1.0f - tc * tc) + dcn[j];
      dg[j] = dc * gg * i * (1.0f - i);
      dg[H + j] = dc * c_prev[j] * f * (1.0f - f);
      dg[2 * H + j] = dc * i * (1.0f - gg * gg);
      dg[3 * H + j] = dh * tc * o * (1.0f - o);
      dcn[j] = dc * f;
    }
  }
}

// The packed layout (PackedSequence's): sentences sorted longest first (stable); step t's b_t
// running sentences are rows offset[t] .. offset[t] + b_t − 1 of every buffer, sorted row i of
// the step at offset[t] + i. Only real tokens have rows (N = Σ lengths), so no product computes
// padding: on SemEval batches of 50 only 41% of the padded [B, L] positions are words.
struct StepPlan {
  std::vector<int64_t> running;   // running[t] = b_t
  std::vector<int64_t> offset;    // offset[t] = b_0 + … + b_{t−1}
  std::vector<int64_t> source;    // packed row -> its position b·L + t in the padded [B, L] batch
  std::vector<int64_t> previous;  // packed row of step t ≥ 1 -> the packed row of the same sentence at t − 1
  std::vector<int64_t> last_row;  // batch row -> the packed row of its last token
  int64_t rows = 0;               // N
};

StepPlan plan_steps(const torch::Tensor& lengths, int64_t width) {
  const auto l = lengths.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t* len = l.data_ptr<int64_t>();
  const int64_t B = l.numel();
  std::vector<int64_t> perm(B);
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) { return len[a] > len[b]; });
  const int64_t steps = B > 0 ? len[perm[0]] : 0;
  TORCH_CHECK(B == 0 || (len[perm[B - 1]] >= 1 && steps <= width), "fused_lstm: lengths must lie in 1..", width);
  StepPlan p;
  p.running.assign(steps, 0);
  for (int64_t i = 0; i < B; ++i)
    for (int64_t t = 0; t < len[perm[i]]; ++t) ++p.running[t];
  p.offset.assign(steps, 0);
  for (int64_t t = 1; t < steps; ++t) p.offset[t] = p.offset[t - 1] + p.running[t - 1];
  p.rows = steps > 0 ? p.offset[steps - 1] + p.running[steps - 1] : 0;
  p.source.resize(p.rows);
  p.previous.reserve(p.rows);
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t i = 0; i < p.running[t]; ++i) {
      p.source[p.offset[t] + i] = perm[i] * width + t;
      if (t > 0) p.previous.push_back(p.offset[t - 1] + i);
    }
  p.last_row.resize(B);
  for (int64_t i = 0; i < B; ++i) p.last_row[perm[i]] = p.offset[len[perm[i]] - 1] + i;
  return p;
}

torch::Tensor long_tensor(const std::vector<int64_t>& v) {
  return torch::tensor(v, torch::TensorOptions().dtype(torch::kLong));
}

struct FusedLstmFunction : public torch::autograd::Function<FusedLstmFunction> {
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& lengths,
                               const torch::Tensor& w_ih, const torch::Tensor& w_hh, const torch::Tensor& b_ih,
                               const torch::Tensor& b_hh) {
    const int64_t B = x.size(0), L = x.size(1), E = x.size(2), H = w_hh.size(1);
    const StepPlan plan = plan_steps(lengths, L);
    const int64_t T = static_cast<int64_t>(plan.running.size()), N = plan.rows;
    const auto source = long_tensor(plan.source);

    // The real tokens, packed; the input products of every step at once, biases included.
    const auto xs = x.reshape({B * L, E}).index_select(0, source);  // [N, E]
    auto gates = torch::addmm(b_ih + b_hh, xs, w_ih.t());          // [N, 4H]
    auto c = torch::empty({N, H}, x.options());
    auto hs = torch::empty({N, H}, x.options());
    const auto w_hh_t = w_hh.t();
    float* G = gates.data_ptr<float>();
    float* C = c.data_ptr<float>();
    float* Hs = hs.data_ptr<float>();
    const std::vector<float> zero_rows(static_cast<size_t>(B * H), 0.0f);  // h_{-1} = c_{-1} = 0
    for (int64_t t = 0; t < T; ++t) {
      const int64_t b = plan.running[t], at = plan.offset[t];
      if (t > 0) gates.narrow(0, at, b).addmm_(hs.narrow(0, plan.offset[t - 1], b), w_hh_t);
      // The gates, in place: G keeps the activated i, f, g, o for the backward pass.
      const float* c_prev = t > 0 ? C + plan.offset[t - 1] * H : zero_rows.data();
      at::parallel_for(0, b, 8, [&](int64_t r0, int64_t r1) {
        gates_forward(r0, r1, H, G + at * 4 * H, c_prev, C + at * H, Hs + at * H);
      });
    }

    auto h = torch::zeros({B * L, H}, x.options());
    h.index_copy_(0, source, hs);
    const auto last_row = long_tensor(plan.last_row);
    auto last = hs.index_select(0, last_row);

    ctx->save_for_backward({w_ih, w_hh});
    ctx->saved_data["xs"] = xs;
    ctx->saved_data["gates"] = gates;
    ctx->saved_data["c"] = c;
    ctx->saved_data["hs"] = hs;
    ctx->saved_data["source"] = source;
    ctx->saved_data["previous"] = long_tensor(plan.previous);
    ctx->saved_data["last_row"] = last_row;
    ctx->saved_data["running"] = long_tensor(plan.running);
    ctx->saved_data["offset"] = long_tensor(plan.offset);
    ctx->saved_data["batch"] = B;
    ctx->saved_data["width"] = L;
    return {h.view({B, L, H}), last};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& w_ih = saved[0];
    const auto& w_hh = saved[1];
    const auto xs = ctx->saved_data["xs"].toTensor();
    const auto gates = ctx->saved_data["gates"].toTensor();
    const auto c = ctx->saved_data["c"].toTensor();
    const auto hs = ctx->saved_data["hs"].toTensor();
    const auto source = ctx->saved_data["source"].toTensor();
    const auto previous = ctx->saved_data["previous"].toTensor();
    const auto last_row = ctx->saved_data["last_row"].toTensor();
    const auto running_t = ctx->saved_data["running"].toTensor();
    const auto offset_t = ctx->saved_data["offset"].toTensor();
    const int64_t B = ctx->saved_data["batch"].toInt(), L = ctx->saved_data["width"].toInt();
    const int64_t N = xs.size(0), E = xs.size(1), H = w_hh.size(1), T = running_t.numel();
    const int64_t* running = running_t.data_ptr<int64_t>();
    const int64_t* offset = offset_t.data_ptr<int64_t>();

    // ∂loss/∂h_t of each real token (padded positions are outputs fixed at zero: their gradients
    // go nowhere); the last state's gradient joins its token's.
    auto dhs = grads[0].defined() ? grads[0].reshape({B * L, H}).index_select(0, source)
                                  : torch::zeros({N, H}, xs.options());
    if (grads[1].defined()) dhs.index_add_(0, last_row, grads[1].contiguous());
    dhs = dhs.contiguous();

    auto dgates = torch::empty({N, 4 * H}, xs.options());  // every row is written below
    auto dh_next = torch::zeros({B, H}, xs.options());     // through h_t's use at step t + 1
    auto dc_next = torch::zeros({B, H}, xs.options());     // through c_t's use at step t + 1
    const float* G = gates.data_ptr<float>();
    const float* C = c.data_ptr<float>();
    const float* DH = dhs.data_ptr<float>();
    float* DG = dgates.data_ptr<float>();
    float* DHn = dh_next.data_ptr<float>();
    float* DCn = dc_next.data_ptr<float>();
    const std::vector<float> zero_rows(static_cast<size_t>(B * H), 0.0f);  // c_{-1}
    for (int64_t t = T - 1; t >= 0; --t) {
      const int64_t b = running[t], at = offset[t];  // rows b.. of dh_next and dc_next are still zero
      const float* c_prev = t > 0 ? C + offset[t - 1] * H : zero_rows.data();
      at::parallel_for(0, b, 8, [&](int64_t r0, int64_t r1) {
        gates_backward(r0, r1, H, G + at * 4 * H, C + at * H, c_prev, DH + at * H, DHn, DCn, DG + at * 4 * H);
      });
      if (t > 0) {
        auto dh_rows = dh_next.narrow(0, 0, b);
        torch::mm_out(dh_rows, dgates.narrow(0, at, b), w_hh);
      }
    }

    // The sums over steps, each as one product over all real tokens. Step 0's h_{-1} is zero,
    // so dW_hh needs only the rows of steps 1…
    const int64_t first = T > 0 ? running[0] : 0;
    auto d_w_hh = dgates.narrow(0, first, N - first).t().mm(hs.index_select(0, previous));
    auto d_w_ih = dgates.t().mm(xs);
    auto d_b = dgates.sum(0);
    auto dx = torch::zeros({B * L, E}, xs.options());
    dx.index_copy_(0, source, dgates.mm(w_ih));
    return {dx.view({B, L, E}), torch::Tensor(), d_w_ih, d_w_hh, d_b, d_b.clone()};
  }
};

}  // namespace

FusedLstmOutput fused_lstm(const torch::Tensor& x, const torch::Tensor& lengths, const torch::Tensor& w_ih,
                           const torch::Tensor& w_hh, const torch::Tensor& b_ih, const torch::Tensor& b_hh) {
  TORCH_CHECK(x.dim() == 3 && x.device().is_cpu() && x.scalar_type() == torch::kFloat,
              "fused_lstm: x must be a float [B, L, E] tensor on the CPU");
  TORCH_CHECK(lengths.dim() == 1 && lengths.size(0) == x.size(0), "fused_lstm: one length per row");
  auto out = FusedLstmFunction::apply(x, lengths, w_ih.contiguous(), w_hh.contiguous(), b_ih, b_hh);
  return {out[0], out[1]};
}

}  // namespace anchorsweep
