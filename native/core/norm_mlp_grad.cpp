#include "norm_mlp_grad.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "cpu_kernels.h"
#include "kernel_support.h"

namespace poser {

using namespace kernel;

namespace {

// dx of y = w * x * r (r = 1 / rms(x), per row) for rows [begin, end):
//   dx = r * (gy * w) - x * r^3 / D * sum(gy * w * x).
POSER_CPU_CLONES
void rms_norm_backward_rows(const float* gy, const float* x, const float* w, const float* inv, float* dx,
                            int64_t begin, int64_t end, int64_t dim) {
  for (int64_t row = begin; row < end; ++row) {
    const float *g = gy + row * dim, *xr = x + row * dim;
    double dot = 0.0;  // sequential, in double as the forward's sum of squares
    for (int64_t d = 0; d < dim; ++d) dot += static_cast<double>(g[d] * w[d]) * xr[d];
    const float r = inv[row];
    const float c = static_cast<float>(dot) * r * r * r / static_cast<float>(dim);
    float* o = dx + row * dim;
    for (int64_t d = 0; d < dim; ++d) o[d] = r * (g[d] * w[d]) - xr[d] * c;
  }
}

// dw[d] = sum over rows of gy * x * r, for columns [begin, end): each column
// sums its rows in order, so the result does not depend on the threads.
POSER_CPU_CLONES
void rms_norm_weight_grad(const float* gy, const float* x, const float* inv, float* dw, int64_t rows, int64_t dim,
                          int64_t begin, int64_t end) {
  for (int64_t d = begin; d < end; ++d) dw[d] = 0.0f;
  for (int64_t row = 0; row < rows; ++row) {
    const float r = inv[row];
    const float *g = gy + row * dim, *xr = x + row * dim;
    for (int64_t d = begin; d < end; ++d) dw[d] += g[d] * (xr[d] * r);
  }
}

// With s = sigmoid(g): d(silu(g) u)/dg = u * s * (1 + g (1 - s)), d/du = g s.
POSER_CPU_CLONES
void silu_mul_backward_range(const float* go, const float* gate, const float* up, float* dgate, float* dup,
                             int64_t n) {
  constexpr int64_t kChunk = 256;
  float s[kChunk];
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t m = std::min(kChunk, n - start);
    const float *o = go + start, *g = gate + start, *u = up + start;
    sigmoid_into(g, s, m);
    float *dg = dgate + start, *du = dup + start;
    for (int64_t i = 0; i < m; ++i) {
      du[i] = o[i] * (g[i] * s[i]);
      dg[i] = o[i] * u[i] * (s[i] * (1.0f + g[i] * (1.0f - s[i])));
    }
  }
}

class RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, double eps) {
    torch::Tensor inv;
    auto y = fused_rms_norm(x, weight, eps, &inv);
    ctx->save_for_backward({x, weight, inv});
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    auto [dx, dw] = fused_rms_norm_backward(grads[0], saved[0], saved[1], saved[2]);
    return {dx, dw, torch::Tensor()};
  }
};

class SiluMulFunction : public torch::autograd::Function<SiluMulFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& gate,
                               const torch::Tensor& up) {
    ctx->save_for_backward({gate, up});
    return fused_silu_mul(gate, up);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    auto [dg, du] = fused_silu_mul_backward(grads[0], saved[0], saved[1]);
    return {dg, du};
  }
};

}  // namespace

torch::Tensor rms_norm_with_grad(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  return RmsNormFunction::apply(x, weight, eps);
}

torch::Tensor silu_mul_with_grad(const torch::Tensor& gate, const torch::Tensor& up) {
  return SiluMulFunction::apply(gate, up);
}

std::tuple<torch::Tensor, torch::Tensor> fused_rms_norm_backward(const torch::Tensor& grad_y_in,
                                                                 const torch::Tensor& x_in,
                                                                 const torch::Tensor& weight_in,
                                                                 const torch::Tensor& inv_in) {
  for (const auto* t : {&grad_y_in, &x_in, &weight_in, &inv_in}) check_float_cpu(*t, "every input");
  const int64_t dim = x_in.size(-1), rows = dim == 0 ? 0 : x_in.numel() / dim;
  TORCH_CHECK(grad_y_in.sizes() == x_in.sizes() && weight_in.numel() == dim && inv_in.numel() == rows,
              "fused_rms_norm_backward: inconsistent shapes");
  torch::NoGradGuard no_grad;
  auto gy = grad_y_in.contiguous(), x = x_in.contiguous(), w = weight_in.contiguous(), inv = inv_in.contiguous();
  auto dx = torch::empty_like(x), dw = torch::empty_like(w);
  const float *gp = gy.data_ptr<float>(), *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>(),
              *ip = inv.data_ptr<float>();
  float *dxp = dx.data_ptr<float>(), *dwp = dw.data_ptr<float>();
  at::parallel_for(0, rows, rows_per_task(dim), [&](int64_t begin, int64_t end) {
    rms_norm_backward_rows(gp, xp, wp, ip, dxp, begin, end, dim);
  });
  // Columns in blocks of 16 per task: whole vectors, and no two tasks share a cache line's worth.
  at::parallel_for(0, (dim + 15) / 16, rows_per_task(rows * 16),
                   [&](int64_t begin, int64_t end) {
                     rms_norm_weight_grad(gp, xp, ip, dwp, rows, dim, begin * 16, std::min(end * 16, dim));
                   });
  return {dx, dw};
}

std::tuple<torch::Tensor, torch::Tensor> fused_silu_mul_backward(const torch::Tensor& grad_out_in,
                                                                 const torch::Tensor& gate_in,
                                                                 const torch::Tensor& up_in) {
  for (const auto* t : {&grad_out_in, &gate_in, &up_in}) check_float_cpu(*t, "every input");
  TORCH_CHECK(grad_out_in.sizes() == gate_in.sizes() && up_in.sizes() == gate_in.sizes(),
              "fused_silu_mul_backward: inconsistent shapes");
  torch::NoGradGuard no_grad;
  auto go = grad_out_in.contiguous(), gate = gate_in.contiguous(), up = up_in.contiguous();
  auto dgate = torch::empty_like(gate), dup = torch::empty_like(up);
  const float *op = go.data_ptr<float>(), *gp = gate.data_ptr<float>(), *up_p = up.data_ptr<float>();
  float *dgp = dgate.data_ptr<float>(), *dup_p = dup.data_ptr<float>();
  at::parallel_for(0, gate.numel(), kTaskElements, [&](int64_t begin, int64_t end) {
    silu_mul_backward_range(op + begin, gp + begin, up_p + begin, dgp + begin, dup_p + begin, end - begin);
  });
  return {dgate, dup};
}

}  // namespace poser
