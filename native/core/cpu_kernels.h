// Fused float32 CPU kernels: causal self-attention with its rotary
// embedding, RMSNorm and the SwiGLU product. At the zoo's sizes (head size
// 16, hidden 64) the composed libtorch ops spend most of their time
// allocating, launching and synchronising threads for tiny tensors; one pass
// per head keeps the work in cache. Inference calls them directly (see
// fused_kernels_apply); training through autograd functions that add their
// backward passes (fused_grad_applies). Elsewhere (other
// dtypes, CUDA) the model composes libtorch ops.
#pragma once

#include <torch/torch.h>

namespace poser {

// False when POSER_FUSED_KERNELS=0 (the composed ops everywhere, to compare).
bool fused_kernels_enabled();

// True for float32 on the CPU outside autograd (inference or no-grad mode).
bool fused_kernels_apply(const torch::Device& device, torch::ScalarType dtype);

// Training through the fused kernels' autograd functions and the answer
// loss's trimmed last block: on unless POSER_FUSED_TRAINING=0 (the composed
// ops, which built the zoos documented before this became the default) or
// POSER_FUSED_KERNELS=0.
bool fused_training_enabled();

// True for float32 on the CPU under autograd with fused training on: training
// takes the kernels' autograd functions (attention_grad.h, norm_mlp_grad.h) there.
bool fused_grad_applies(const torch::Device& device, torch::ScalarType dtype);

// What fused_causal_attention reads besides the new tokens, and what else it
// may hand back. Every member is optional.
struct AttentionExtras {
  // Cached keys (already rotated) and values [Bp, KV, past, hd] of the
  // positions before the new ones. Bp divides B: query row r reads cached row
  // r % Bp, so settings stacked along the batch share one cache.
  torch::Tensor past_k, past_v;
  // Out: the attention weights [B, H, T, past + T] (zero where a key is not seen).
  torch::Tensor* probs = nullptr;
  // Out: the new keys after their rotation and the new values, [B, KV, T, hd],
  // as a cache holds them.
  torch::Tensor* new_keys = nullptr;
  torch::Tensor* new_values = nullptr;
};

// Causal self-attention of T new tokens after `past` cached ones, from the
// projections as they come out of the linear layers:
//   q [B, T, H * hd], k and v [B, T, KV * hd] (query head h reads key/value
//   head h / (H / KV)); cos, sin [B, 1, T, hd] rotary tables of the new
//   positions (the halves rotated as in rotate_half); key_mask
//   [B, past + T] float32, 1 on real tokens.
// New token i sees the cached keys and new keys j <= i that are real tokens,
// and always itself (so a padding row is never empty). Queries are scaled by
// 1/sqrt(hd) after the rotation. Returns [B, T, H * hd], heads side by side.
torch::Tensor fused_causal_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                     const torch::Tensor& cos, const torch::Tensor& sin,
                                     const torch::Tensor& key_mask, int64_t heads, int64_t kv_heads,
                                     const AttentionExtras& extras = {});

// weight * x / sqrt(mean(x^2) + eps) over the last axis of x [..., D]; when
// inv_rms is given, it receives 1 / sqrt(mean(x^2) + eps) [..., 1].
torch::Tensor fused_rms_norm(const torch::Tensor& x, const torch::Tensor& weight, double eps,
                             torch::Tensor* inv_rms = nullptr);

// gate <- silu(gate) * up, in place: the SwiGLU product of the MLP. gate
// must be contiguous; both [..., I] of the same shape.
void fused_silu_mul_(torch::Tensor& gate, const torch::Tensor& up);
// silu(gate) * up in a new tensor.
torch::Tensor fused_silu_mul(const torch::Tensor& gate, const torch::Tensor& up);

}  // namespace poser
