// Causal self-attention for training on the CPU: the fused forward kernel of
// cpu_kernels.h with a fused backward pass, as one autograd function. At the
// zoo's sizes the composed ops spend most of a training step in batched
// products of 16-wide heads, the softmax and their autograd bookkeeping; one
// pass per (row, key/value head) in each direction keeps the work in cache.
#pragma once

#include <torch/torch.h>

#include <tuple>

namespace poser {

// fused_causal_attention (no cache) as a differentiable function of q, k and
// v; same shapes and meaning. Keeps the attention weights [B, H, T, T] for
// the backward pass, as the composed ops do. Not differentiable twice.
torch::Tensor causal_attention_with_grad(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                         const torch::Tensor& cos, const torch::Tensor& sin,
                                         const torch::Tensor& key_mask, int64_t heads, int64_t kv_heads);

// The gradients of q, k and v from the gradient of the output [B, T, H * hd],
// the inputs, and the forward's output and attention weights probs [B, H, T, T].
std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> fused_causal_attention_backward(
    const torch::Tensor& grad_out, const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
    const torch::Tensor& out, const torch::Tensor& cos, const torch::Tensor& sin, const torch::Tensor& probs,
    int64_t heads, int64_t kv_heads);

}  // namespace poser
