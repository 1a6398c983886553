// RMSNorm and the MLP's SwiGLU product for training on the CPU: the fused
// forward kernels of cpu_kernels.h with fused backward passes, as autograd
// functions. Composed, each is five to eight small ops and as many backward
// nodes a call, which at the zoo's widths cost more than their arithmetic.
#pragma once

#include <torch/torch.h>

#include <tuple>

namespace poser {

// fused_rms_norm as a differentiable function of x and weight.
torch::Tensor rms_norm_with_grad(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// silu(gate) * up as a differentiable function of both.
torch::Tensor silu_mul_with_grad(const torch::Tensor& gate, const torch::Tensor& up);

// Gradients of x and weight of y = weight * x * inv_rms from the gradient of
// y; inv_rms [..., 1] as fused_rms_norm gives it. The weight's gradient sums
// over rows in row order, whatever the number of threads.
std::tuple<torch::Tensor, torch::Tensor> fused_rms_norm_backward(const torch::Tensor& grad_y, const torch::Tensor& x,
                                                                 const torch::Tensor& weight,
                                                                 const torch::Tensor& inv_rms);

// Gradients of gate and up of silu(gate) * up from the gradient of the product.
std::tuple<torch::Tensor, torch::Tensor> fused_silu_mul_backward(const torch::Tensor& grad_out,
                                                                 const torch::Tensor& gate, const torch::Tensor& up);

}  // namespace poser
