#include "cpu_kernels.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernel_support.h"
#include "switches.h"

namespace poser {

using namespace kernel;

namespace {

struct AttentionShape {
  int64_t t, past, heads, kv_heads, hd;  // new tokens, cached ones before them
  int64_t past_rows;                     // rows of the cache; query row r reads cached row r % past_rows
};

// Per-task scratch: keys rotated and transposed to [hd, tp] (tp = past + T
// rounded up to a block, the columns after the last key zero), values
// [tp, hd], one query's scores and weights, the keys it may see, its rotated
// query.
struct AttentionScratch {
  std::vector<float> storage;
  float *kt, *vs, *scores, *allowed, *qr, *acc;
  AttentionScratch(int64_t t, int64_t hd) {
    const int64_t tp = round_up(t, kBlock);
    storage.assign(2 * tp * hd + 2 * tp + 2 * hd, 0.0f);
    kt = storage.data();
    vs = kt + tp * hd;
    scores = vs + tp * hd;
    allowed = scores + tp;
    qr = allowed + tp;
    acc = qr + hd;
  }
};

// sum_j p[j] * v[j] / total over j < n, v rows of hd floats. With the head
// size a multiple of the block, known at compile time, the sums live in
// registers, spread over several accumulators so that consecutive keys do not
// wait on each other.
template <int64_t kHd>
inline void weighted_sum(const float* p, const float* v, int64_t n, float total, float* out) {
  constexpr int64_t kParts = kHd / kBlock, kAcc = kParts >= 4 ? 1 : 4 / kParts;
  Lanes acc[kAcc][kParts] = {};
  int64_t j = 0;
  for (; j + kAcc <= n; j += kAcc)
    for (int64_t a = 0; a < kAcc; ++a)
      for (int64_t c = 0; c < kParts; ++c) acc[a][c] += p[j + a] * load(v + (j + a) * kHd + c * kBlock);
  for (; j < n; ++j)
    for (int64_t c = 0; c < kParts; ++c) acc[0][c] += p[j] * load(v + j * kHd + c * kBlock);
  const float inv = 1.0f / total;
  for (int64_t c = 0; c < kParts; ++c) {
    Lanes sum = acc[0][c];
    for (int64_t a = 1; a < kAcc; ++a) sum += acc[a][c];
    store(out + c * kBlock, sum * inv);
  }
}

inline void weighted_sum_any(const float* p, const float* v, int64_t n, int64_t hd, float total, float* acc,
                             float* out) {
  for (int64_t d = 0; d < hd; ++d) acc[d] = 0.0f;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t d = 0; d < hd; ++d) acc[d] += p[j] * v[j * hd + d];
  const float inv = 1.0f / total;
  for (int64_t d = 0; d < hd; ++d) out[d] = acc[d] * inv;
}

// One (row, key/value head) of fused_causal_attention: gathers the group's
// cached keys and values, rotates its new keys and copies its new values into
// scratch, then attends every query head of the group. kHd: the head size
// when fixed at compile time, else 0.
template <int64_t kHd>
__attribute__((always_inline)) inline void attend_group(const AttentionShape& s, int64_t group, const float* q,
                                                        const float* k, const float* v, const float* past_k,
                                                        const float* past_v, const float* cos, const float* sin,
                                                        const float* mask, float* out, float* probs,
                                                        float* new_keys, float* new_values, AttentionScratch& w) {
  const int64_t t = s.t, past = s.past, hd = kHd > 0 ? kHd : s.hd, rep = s.heads / s.kv_heads;
  const int64_t tk = past + t, tp = round_up(tk, kBlock);
  const int64_t q_stride = s.heads * hd, kv_stride = s.kv_heads * hd;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int64_t j = 0; j < past; ++j)
    for (int64_t d = 0; d < hd; ++d) w.kt[d * tp + j] = past_k[j * hd + d];
  if (past > 0) std::memcpy(w.vs, past_v, sizeof(float) * past * hd);
  for (int64_t j = 0; j < t; ++j) {
    rotate(k + j * kv_stride + group * hd, cos + j * hd, sin + j * hd, w.qr, hd, 1.0f);
    for (int64_t d = 0; d < hd; ++d) w.kt[d * tp + past + j] = w.qr[d];
    std::memcpy(w.vs + (past + j) * hd, v + j * kv_stride + group * hd, sizeof(float) * hd);
    if (new_keys != nullptr) std::memcpy(new_keys + j * hd, w.qr, sizeof(float) * hd);
  }
  if (new_values != nullptr) std::memcpy(new_values, w.vs + past * hd, sizeof(float) * t * hd);
  for (int64_t r = 0; r < rep; ++r) {
    const int64_t head = group * rep + r;
    // allowed[j]: 1 where the current query sees key j. Before the query at
    // key position a it holds the mask below a and zeros from a on.
    for (int64_t j = 0; j < tp; ++j) w.allowed[j] = j < past ? mask[j] : 0.0f;
    for (int64_t qi = 0; qi < t; ++qi) {
      const int64_t i = past + qi;  // the query's own key
      rotate(q + qi * q_stride + head * hd, cos + qi * hd, sin + qi * hd, w.qr, hd, scale);
      const int64_t n = i + 1, nb = round_up(n, kBlock);
      w.allowed[i] = 1.0f;
      Lanes top = Lanes{} - std::numeric_limits<float>::infinity();
      for (int64_t jb = 0; jb < nb; jb += kBlock) {
        Lanes block{};
        for (int64_t d = 0; d < hd; ++d) block += w.qr[d] * load(w.kt + d * tp + jb);
        store(w.scores + jb, block);
        const Lanes seen = load(w.allowed + jb) != 0.0f ? block : Lanes{} - std::numeric_limits<float>::infinity();
        top = top < seen ? seen : top;
      }
      float m = top[0];
      for (int64_t l = 1; l < kBlock; ++l) m = m < top[l] ? top[l] : m;
      if (std::isnan(w.scores[i])) m = w.scores[i];
      for (int64_t j = 0; j < nb; ++j) w.scores[j] = std::min(std::max(w.scores[j] - m, -87.0f), 0.0f);
      for (int64_t j = 0; j < nb; ++j) w.scores[j] = exp_clamped(w.scores[j]) * w.allowed[j];
      Lanes total{};
      for (int64_t jb = 0; jb < nb; jb += kBlock) total += load(w.scores + jb);
      float sum = 0.0f;
      for (int64_t l = 0; l < kBlock; ++l) sum += total[l];
      float* o = out + qi * q_stride + head * hd;
      if (probs != nullptr) {  // [H, T, past + T] of this row, zero where not seen
        float* pr = probs + (head * t + qi) * tk;
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < n; ++j) pr[j] = w.scores[j] * inv;
      }
      if constexpr (kHd > 0)
        weighted_sum<kHd>(w.scores, w.vs, n, sum, o);
      else
        weighted_sum_any(w.scores, w.vs, n, hd, sum, w.acc, o);
      w.allowed[i] = mask[i];
    }
  }
}

// The head sizes of common models get a specialised kernel each.
POSER_CPU_CLONES
void attend_groups(const AttentionShape& s, int64_t begin, int64_t end, const float* q, const float* k, const float* v,
                   const float* past_k, const float* past_v, const float* cos, const float* sin, const float* mask,
                   float* out, float* probs, float* new_keys, float* new_values) {
  AttentionScratch scratch(s.past + s.t, s.hd);
  const int64_t t = s.t, hd = s.hd, tk = s.past + s.t;
  for (int64_t task = begin; task < end; ++task) {
    const int64_t row = task / s.kv_heads, group = task % s.kv_heads;
    const float *qr = q + row * t * s.heads * hd, *kr = k + row * t * s.kv_heads * hd,
                *vr = v + row * t * s.kv_heads * hd, *cr = cos + row * t * hd, *sr = sin + row * t * hd,
                *mr = mask + row * tk;
    // past keys/values [Bp, KV, past, hd]: the block of this task's cached row
    const int64_t past_block = ((row % s.past_rows) * s.kv_heads + group) * s.past * hd;
    const float* pk = past_k == nullptr ? nullptr : past_k + past_block;
    const float* pv = past_v == nullptr ? nullptr : past_v + past_block;
    float* orow = out + row * t * s.heads * hd;
    float* prow = probs == nullptr ? nullptr : probs + row * s.heads * t * tk;
    // new keys/values out [B, KV, T, hd]: this task's block
    float* nk = new_keys == nullptr ? nullptr : new_keys + task * t * hd;
    float* nv = new_values == nullptr ? nullptr : new_values + task * t * hd;
    switch (hd) {
      case 16: attend_group<16>(s, group, qr, kr, vr, pk, pv, cr, sr, mr, orow, prow, nk, nv, scratch); break;
      case 32: attend_group<32>(s, group, qr, kr, vr, pk, pv, cr, sr, mr, orow, prow, nk, nv, scratch); break;
      case 48: attend_group<48>(s, group, qr, kr, vr, pk, pv, cr, sr, mr, orow, prow, nk, nv, scratch); break;
      case 64: attend_group<64>(s, group, qr, kr, vr, pk, pv, cr, sr, mr, orow, prow, nk, nv, scratch); break;
      case 128: attend_group<128>(s, group, qr, kr, vr, pk, pv, cr, sr, mr, orow, prow, nk, nv, scratch); break;
      default: attend_group<0>(s, group, qr, kr, vr, pk, pv, cr, sr, mr, orow, prow, nk, nv, scratch); break;
    }
  }
}

POSER_CPU_CLONES
void rms_norm_rows(const float* x, const float* w, float* out, float* inv_out, int64_t rows, int64_t dim, float eps) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    double sum = 0.0;  // a sequential sum: in double so long rows lose nothing to its order
    for (int64_t d = 0; d < dim; ++d) sum += static_cast<double>(xr[d]) * xr[d];
    const float inv = 1.0f / std::sqrt(static_cast<float>(sum / static_cast<double>(dim)) + eps);
    if (inv_out != nullptr) inv_out[r] = inv;
    float* o = out + r * dim;
    for (int64_t d = 0; d < dim; ++d) o[d] = w[d] * (xr[d] * inv);
  }
}

// gate <- silu(gate) * up, with silu(x) = x / (1 + exp(-x)) computed from
// e = exp(-|x|) so the exponential never overflows. In chunks, one simple
// loop per step: GCC vectorises each, but not the three fused into one.
POSER_CPU_CLONES
void silu_mul_range(const float* gate, const float* up, float* out, int64_t n) {
  constexpr int64_t kChunk = 256;
  float s[kChunk];
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t m = std::min(kChunk, n - start);
    const float* g = gate + start;
    const float* u = up + start;
    float* o = out + start;  // may be gate itself
    sigmoid_into(g, s, m);
    for (int64_t i = 0; i < m; ++i) o[i] = g[i] * s[i] * u[i];
  }
}


}  // namespace

bool fused_kernels_enabled() {
  static const bool enabled = switch_on("POSER_FUSED_KERNELS");
  return enabled;
}

bool fused_kernels_apply(const torch::Device& device, torch::ScalarType dtype) {
  return fused_kernels_enabled() && device.is_cpu() && dtype == torch::kFloat32 && !at::GradMode::is_enabled();
}

bool fused_training_enabled() {
  static const bool enabled = switch_on("POSER_FUSED_TRAINING");
  return enabled && fused_kernels_enabled();
}

bool fused_grad_applies(const torch::Device& device, torch::ScalarType dtype) {
  return fused_training_enabled() && device.is_cpu() && dtype == torch::kFloat32 && at::GradMode::is_enabled();
}

torch::Tensor fused_causal_attention(const torch::Tensor& q_in, const torch::Tensor& k_in, const torch::Tensor& v_in,
                                     const torch::Tensor& cos_in, const torch::Tensor& sin_in,
                                     const torch::Tensor& mask_in, int64_t heads, int64_t kv_heads,
                                     const AttentionExtras& extras) {
  for (const auto* x : {&q_in, &k_in, &v_in, &cos_in, &sin_in, &mask_in}) check_float_cpu(*x, "every input");
  const int64_t b = q_in.size(0), t = q_in.size(1), hd = q_in.size(2) / heads;
  const bool has_past = extras.past_k.defined();
  const int64_t past = has_past ? extras.past_k.size(2) : 0, past_rows = has_past ? extras.past_k.size(0) : 1;
  TORCH_CHECK(heads % kv_heads == 0 && hd % 2 == 0 && q_in.size(2) == heads * hd && k_in.size(2) == kv_heads * hd &&
                  v_in.sizes() == k_in.sizes() && k_in.size(0) == b && k_in.size(1) == t &&
                  cos_in.numel() == b * t * hd && sin_in.numel() == b * t * hd && mask_in.numel() == b * (past + t),
              "fused_causal_attention: inconsistent shapes");
  if (has_past) {
    check_float_cpu(extras.past_k, "past keys");
    check_float_cpu(extras.past_v, "past values");
    TORCH_CHECK(past_rows > 0 && b % past_rows == 0 &&
                    extras.past_k.sizes() == torch::IntArrayRef({past_rows, kv_heads, past, hd}) &&
                    extras.past_v.sizes() == extras.past_k.sizes(),
                "fused_causal_attention: past keys and values must be [Bp, KV, past, hd] with Bp dividing B");
  }
  auto q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  auto cos = cos_in.contiguous(), sin = sin_in.contiguous(), mask = mask_in.contiguous();
  torch::Tensor past_k, past_v;
  if (has_past) {
    past_k = extras.past_k.contiguous();
    past_v = extras.past_v.contiguous();
  }
  auto out = torch::empty({b, t, heads * hd}, q.options());
  const AttentionShape shape{t, past, heads, kv_heads, hd, past_rows};
  const float *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(), *vp = v.data_ptr<float>();
  const float *cp = cos.data_ptr<float>(), *sp = sin.data_ptr<float>(), *mp = mask.data_ptr<float>();
  const float* pkp = has_past ? past_k.data_ptr<float>() : nullptr;
  const float* pvp = has_past ? past_v.data_ptr<float>() : nullptr;
  float* op = out.data_ptr<float>();
  auto output = [&](torch::Tensor* x, torch::IntArrayRef sizes, bool zeroed) -> float* {
    if (x == nullptr) return nullptr;
    *x = zeroed ? torch::zeros(sizes, q.options()) : torch::empty(sizes, q.options());
    return x->data_ptr<float>();
  };
  float* pp = output(extras.probs, {b, heads, t, past + t}, true);
  float* nkp = output(extras.new_keys, {b, kv_heads, t, hd}, false);
  float* nvp = output(extras.new_values, {b, kv_heads, t, hd}, false);
  at::parallel_for(0, b * kv_heads, 1, [&](int64_t begin, int64_t end) {
    attend_groups(shape, begin, end, qp, kp, vp, pkp, pvp, cp, sp, mp, op, pp, nkp, nvp);
  });
  return out;
}

torch::Tensor fused_rms_norm(const torch::Tensor& x_in, const torch::Tensor& weight_in, double eps,
                             torch::Tensor* inv_rms) {
  check_float_cpu(x_in, "x");
  check_float_cpu(weight_in, "weight");
  const int64_t dim = x_in.size(-1);
  TORCH_CHECK(weight_in.numel() == dim, "fused_rms_norm: weight has ", weight_in.numel(), " elements, x's last axis ", dim);
  auto x = x_in.contiguous(), w = weight_in.contiguous();
  auto out = torch::empty_like(x);
  const int64_t rows = dim == 0 ? 0 : x.numel() / dim;
  const float *xp = x.data_ptr<float>(), *wp = w.data_ptr<float>();
  float* op = out.data_ptr<float>();
  float* ip = nullptr;
  if (inv_rms != nullptr) {
    auto sizes = x.sizes().vec();
    sizes.back() = 1;
    *inv_rms = torch::empty(sizes, x.options());
    ip = inv_rms->data_ptr<float>();
  }
  at::parallel_for(0, rows, rows_per_task(dim), [&](int64_t begin, int64_t end) {
    rms_norm_rows(xp + begin * dim, wp, op + begin * dim, ip == nullptr ? nullptr : ip + begin, end - begin, dim,
                  static_cast<float>(eps));
  });
  return out;
}

}  // namespace poser

namespace poser {

namespace {
// out <- silu(gate) * up for contiguous float32 tensors of one shape; out may be gate.
void silu_mul_into(const torch::Tensor& gate, const torch::Tensor& up, torch::Tensor& out) {
  const float *gp = gate.data_ptr<float>(), *upp = up.data_ptr<float>();
  float* op = out.data_ptr<float>();
  at::parallel_for(0, gate.numel(), kTaskElements, [&](int64_t begin, int64_t end) {
    silu_mul_range(gp + begin, upp + begin, op + begin, end - begin);
  });
}
}  // namespace

void fused_silu_mul_(torch::Tensor& gate, const torch::Tensor& up) {
  check_float_cpu(gate, "gate");
  check_float_cpu(up, "up");
  TORCH_CHECK(gate.is_contiguous() && gate.sizes() == up.sizes(), "fused_silu_mul_: gate must be contiguous and shaped as up");
  silu_mul_into(gate, up.contiguous(), gate);
}

torch::Tensor fused_silu_mul(const torch::Tensor& gate_in, const torch::Tensor& up) {
  check_float_cpu(gate_in, "gate");
  check_float_cpu(up, "up");
  TORCH_CHECK(gate_in.sizes() == up.sizes(), "fused_silu_mul: gate and up must have one shape");
  auto gate = gate_in.contiguous();
  auto out = torch::empty_like(gate);
  silu_mul_into(gate, up.contiguous(), out);
  return out;
}

}  // namespace poser
