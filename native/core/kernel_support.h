// What the fused float32 CPU kernels (cpu_kernels.cpp, attention_grad.cpp)
// share: the multi-versioning attribute, 16-float vector lanes, the rotary
// rotation and the input check. Internal to the core.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

// The loops below are written so the compiler can vectorise them without
// reassociating any sum: every vector loop runs over independent outputs.
// On x86-64 with GCC, the hot functions are compiled for AVX-512 and AVX2 as
// well as the baseline and picked at load time by the CPU's features.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define POSER_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define POSER_CPU_CLONES
#endif

namespace poser::kernel {

// Keys are scored in blocks of this many, one vector register's worth on
// AVX-512 (two on AVX2), kept in registers across the head dimension.
constexpr int64_t kBlock = 16;
using Lanes = float __attribute__((vector_size(kBlock * sizeof(float))));

// Lanes are passed by value only between inlined functions; GCC warns that
// their ABI would differ between the baseline and AVX-512 clones.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
inline Lanes load(const float* p) {
  Lanes v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, const Lanes& v) { std::memcpy(p, &v, sizeof v); }

// exp(x) for x in [-87, 0] (a softmax's scores less their maximum, clamped
// to that range by the caller), to about 1 ulp: Cephes' expf, range reduction by
// ln 2 and a degree-6 polynomial, written branch-free so a loop over it
// vectorises. NaN stays NaN.
inline float exp_clamped(float x) {
  const float z = x * 1.44269504088896341f + 0.5f;
  int32_t n = static_cast<int32_t>(z);             // toward zero,
  n -= static_cast<int32_t>(z < static_cast<float>(n));  // then down: floor(z)
  const float nf = static_cast<float>(n);
  const float r = (x - nf * 0.693359375f) - nf * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const int32_t bits = (n + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

// s[i] = sigmoid(g[i]) for i < m, from e = exp(-|g|) so nothing overflows:
// 1 / (1 + e) for g >= 0, e / (1 + e) below.
inline void sigmoid_into(const float* g, float* s, int64_t m) {
  for (int64_t i = 0; i < m; ++i) s[i] = std::max(-std::abs(g[i]), -87.0f);
  for (int64_t i = 0; i < m; ++i) s[i] = exp_clamped(s[i]);
  for (int64_t i = 0; i < m; ++i) s[i] = (g[i] >= 0.0f ? 1.0f : s[i]) / (1.0f + s[i]);
}

// Elements a parallel task should get at least: enough work to be worth a thread.
constexpr int64_t kTaskElements = 16384;

// Rows of `width` elements per parallel task.
inline int64_t rows_per_task(int64_t width) { return std::max<int64_t>(1, kTaskElements / std::max<int64_t>(1, width)); }

inline int64_t round_up(int64_t n, int64_t to) { return (n + to - 1) / to * to; }

// out[d] = rotate(x)[d] * scale, with rotate(x) = x * cos + rotate_half(x) * sin.
inline void rotate(const float* x, const float* cos, const float* sin, float* out, int64_t hd, float scale) {
  const int64_t half = hd / 2;
  for (int64_t d = 0; d < half; ++d) out[d] = (x[d] * cos[d] - x[d + half] * sin[d]) * scale;
  for (int64_t d = half; d < hd; ++d) out[d] = (x[d] * cos[d] + x[d - half] * sin[d]) * scale;
}

// out[d] = the gradient of x from g, the gradient of rotate(x) (scale 1):
// the rotation's transpose.
inline void rotate_back(const float* g, const float* cos, const float* sin, float* out, int64_t hd) {
  const int64_t half = hd / 2;
  for (int64_t d = 0; d < half; ++d) out[d] = g[d] * cos[d] + g[d + half] * sin[d + half];
  for (int64_t d = half; d < hd; ++d) out[d] = g[d] * cos[d] - g[d - half] * sin[d - half];
}

inline void check_float_cpu(const torch::Tensor& x, const char* what) {
  TORCH_CHECK(x.defined() && x.device().is_cpu() && x.scalar_type() == torch::kFloat32,
              "fused kernel: ", what, " must be a float32 CPU tensor");
}

}  // namespace poser::kernel
