// References for the fused kernels' tests: the same computations composed of
// plain libtorch ops, in float64.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <tuple>

namespace {

inline torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}

// Causal self-attention with rotary embeddings in float64, differentiable
// with respect to q, k and v: q [B, T, H*hd], k/v [B, T, KV*hd], cos/sin
// [B, 1, T, hd], mask [B, T]. Returns the output [B, T, H*hd] and the
// attention weights [B, H, T, T].
inline std::tuple<torch::Tensor, torch::Tensor> reference_attention(torch::Tensor q, torch::Tensor k, torch::Tensor v,
                                                             torch::Tensor cos, torch::Tensor sin,
                                                             const torch::Tensor& mask, int64_t heads,
                                                             int64_t kv_heads) {
  const int64_t b = q.size(0), t = q.size(1), hd = q.size(2) / heads, rep = heads / kv_heads;
  q = q.to(torch::kFloat64).view({b, t, heads, hd}).transpose(1, 2);
  k = k.to(torch::kFloat64).view({b, t, kv_heads, hd}).transpose(1, 2).repeat_interleave(rep, 1);
  v = v.to(torch::kFloat64).view({b, t, kv_heads, hd}).transpose(1, 2).repeat_interleave(rep, 1);
  cos = cos.to(torch::kFloat64);
  sin = sin.to(torch::kFloat64);
  q = (q * cos + rotate_half(q) * sin) / std::sqrt(static_cast<double>(hd));
  k = k * cos + rotate_half(k) * sin;
  auto scores = torch::matmul(q, k.transpose(-2, -1));  // [B, H, T, T]
  auto pos = torch::arange(t);
  auto seen = (pos.view({1, t}) <= pos.view({t, 1})).unsqueeze(0) & mask.to(torch::kBool).unsqueeze(1);
  seen = (seen | torch::eye(t, torch::kBool).unsqueeze(0)).unsqueeze(1);  // [B, 1, T, T]
  scores = scores.masked_fill(seen.logical_not(), -std::numeric_limits<double>::infinity());
  auto probs = torch::softmax(scores, -1);
  auto out = torch::matmul(probs, v).transpose(1, 2).reshape({b, t, heads * hd});
  return {out, probs};
}

// Rotary tables cos, sin [B, 1, T, hd] (float32) for a left-padded mask [B, T]:
// positions count real tokens, base 10000.
inline std::tuple<torch::Tensor, torch::Tensor> rotary_tables(const torch::Tensor& mask, int64_t head_dim) {
  auto positions = (mask.cumsum(-1) - 1).clamp_min(0);
  auto inv_freq = torch::pow(10000.0, -torch::arange(0, head_dim, 2, torch::kFloat64) / head_dim);
  auto freqs = positions.to(torch::kFloat64).unsqueeze(-1) * inv_freq;
  auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);
  return {emb.cos().to(torch::kFloat32), emb.sin().to(torch::kFloat32)};
}

}  // namespace
