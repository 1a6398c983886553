#include "attention_grad.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "cpu_kernels.h"
#include "kernel_support.h"

namespace poser {

using namespace kernel;

namespace {

struct GradShape {
  int64_t t, heads, kv_heads, hd;
};

// Per-task scratch: the group's keys rotated [T, hd], its values transposed
// to [hd, tp] (tp = T rounded up to a block, the columns after the last key
// zero), the group's key and value gradients [T, hd], one query's weight
// gradients before and after the softmax, its rotated query and the gradient
// of that query.
struct GradScratch {
  std::vector<float> storage;
  float *keys, *values_t, *dk, *dv, *dp, *ds, *qs, *dqs;
  GradScratch(int64_t t, int64_t hd) {
    const int64_t tp = round_up(t, kBlock);
    storage.assign(4 * tp * hd + 2 * tp + 2 * hd, 0.0f);
    keys = storage.data();
    values_t = keys + tp * hd;
    dk = values_t + tp * hd;
    dv = dk + tp * hd;
    dp = dv + tp * hd;
    ds = dp + tp;
    qs = ds + tp;
    dqs = qs + hd;
  }
};

// The backward pass of one (row, key/value head). With S = (scale * R q) (R k)^T,
// P = softmax(S) over the keys a query sees, O = P V and G the gradient of O:
//   dP = G V^T, dS = P * (dP - rowsum(P * dP)), dV = P^T G,
// where rowsum(P * dP) = rowsum(G * O), a sum over the head rather than the keys,
//   d(R k) = dS^T (scale * R q), d(R q) = scale * dS (R k),
// and the rotation's transpose takes R q and R k back to q and k. Query i sees
// keys j <= i at most, and P is zero wherever it sees none, so only j <= i is
// visited. kHd: the head size when fixed at compile time, else 0.
template <int64_t kHd>
__attribute__((always_inline)) inline void attend_group_backward(const GradShape& s, int64_t group, const float* go,
                                                                 const float* q, const float* k, const float* v,
                                                                 const float* o, const float* cos, const float* sin,
                                                                 const float* probs, float* dq, float* dk_out,
                                                                 float* dv_out, GradScratch& w) {
  const int64_t t = s.t, hd = kHd > 0 ? kHd : s.hd, rep = s.heads / s.kv_heads, tp = round_up(t, kBlock);
  const int64_t q_stride = s.heads * hd, kv_stride = s.kv_heads * hd;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int64_t j = 0; j < t; ++j) {
    rotate(k + j * kv_stride + group * hd, cos + j * hd, sin + j * hd, w.keys + j * hd, hd, 1.0f);
    for (int64_t d = 0; d < hd; ++d) w.values_t[d * tp + j] = v[j * kv_stride + group * hd + d];
  }
  std::fill(w.dk, w.dk + t * hd, 0.0f);
  std::fill(w.dv, w.dv + t * hd, 0.0f);
  for (int64_t r = 0; r < rep; ++r) {
    const int64_t head = group * rep + r;
    for (int64_t i = 0; i < t; ++i) {
      const float* p = probs + (head * t + i) * t;
      const float* g = go + i * q_stride + head * hd;
      rotate(q + i * q_stride + head * hd, cos + i * hd, sin + i * hd, w.qs, hd, scale);
      const int64_t n = i + 1, nb = round_up(n, kBlock);
      for (int64_t jb = 0; jb < nb; jb += kBlock) {
        Lanes block{};
        for (int64_t d = 0; d < hd; ++d) block += g[d] * load(w.values_t + d * tp + jb);
        store(w.dp + jb, block);
      }
      const float* oi = o + i * q_stride + head * hd;
      float weighted = 0.0f;
      for (int64_t d = 0; d < hd; ++d) weighted += g[d] * oi[d];
      for (int64_t j = 0; j < n; ++j) w.ds[j] = p[j] * (w.dp[j] - weighted);
      if constexpr (kHd > 0) {
        // The head's vectors live in registers, kParts blocks each.
        constexpr int64_t kParts = kHd / kBlock;
        Lanes dqs[kParts] = {}, qs[kParts], gs[kParts];
        for (int64_t c = 0; c < kParts; ++c) {
          qs[c] = load(w.qs + c * kBlock);
          gs[c] = load(g + c * kBlock);
        }
        for (int64_t j = 0; j < n; ++j) {
          const float a = w.ds[j], b = p[j];
          float* dkj = w.dk + j * kHd;
          float* dvj = w.dv + j * kHd;
          for (int64_t c = 0; c < kParts; ++c) {
            dqs[c] += a * load(w.keys + j * kHd + c * kBlock);
            store(dkj + c * kBlock, load(dkj + c * kBlock) + a * qs[c]);
            store(dvj + c * kBlock, load(dvj + c * kBlock) + b * gs[c]);
          }
        }
        for (int64_t c = 0; c < kParts; ++c) store(w.dqs + c * kBlock, dqs[c] * scale);
      } else {
        for (int64_t d = 0; d < hd; ++d) w.dqs[d] = 0.0f;
        for (int64_t j = 0; j < n; ++j) {
          const float a = w.ds[j], b = p[j];
          for (int64_t d = 0; d < hd; ++d) {
            w.dqs[d] += a * w.keys[j * hd + d];
            w.dk[j * hd + d] += a * w.qs[d];
            w.dv[j * hd + d] += b * g[d];
          }
        }
        for (int64_t d = 0; d < hd; ++d) w.dqs[d] *= scale;
      }
      rotate_back(w.dqs, cos + i * hd, sin + i * hd, dq + i * q_stride + head * hd, hd);
    }
  }
  for (int64_t j = 0; j < t; ++j) {
    rotate_back(w.dk + j * hd, cos + j * hd, sin + j * hd, dk_out + j * kv_stride + group * hd, hd);
    std::memcpy(dv_out + j * kv_stride + group * hd, w.dv + j * hd, sizeof(float) * hd);
  }
}

POSER_CPU_CLONES
void attend_groups_backward(const GradShape& s, int64_t begin, int64_t end, const float* go, const float* q,
                            const float* k, const float* v, const float* o, const float* cos, const float* sin,
                            const float* probs, float* dq, float* dk, float* dv) {
  GradScratch scratch(s.t, s.hd);
  const int64_t t = s.t, hd = s.hd, q_row = t * s.heads * hd, kv_row = t * s.kv_heads * hd;
  for (int64_t task = begin; task < end; ++task) {
    const int64_t row = task / s.kv_heads, group = task % s.kv_heads;
    const float *gr = go + row * q_row, *qr = q + row * q_row, *orow = o + row * q_row, *kr = k + row * kv_row,
                *vr = v + row * kv_row, *cr = cos + row * t * hd, *sr = sin + row * t * hd,
                *pr = probs + row * s.heads * t * t;
    float *dqr = dq + row * q_row, *dkr = dk + row * kv_row, *dvr = dv + row * kv_row;
    switch (hd) {
      case 16: attend_group_backward<16>(s, group, gr, qr, kr, vr, orow, cr, sr, pr, dqr, dkr, dvr, scratch); break;
      case 32: attend_group_backward<32>(s, group, gr, qr, kr, vr, orow, cr, sr, pr, dqr, dkr, dvr, scratch); break;
      case 64: attend_group_backward<64>(s, group, gr, qr, kr, vr, orow, cr, sr, pr, dqr, dkr, dvr, scratch); break;
      case 128: attend_group_backward<128>(s, group, gr, qr, kr, vr, orow, cr, sr, pr, dqr, dkr, dvr, scratch); break;
      default: attend_group_backward<0>(s, group, gr, qr, kr, vr, orow, cr, sr, pr, dqr, dkr, dvr, scratch); break;
    }
  }
}

// fused_causal_attention with its attention weights kept for the backward pass.
class CausalAttentionFunction : public torch::autograd::Function<CausalAttentionFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& cos, const torch::Tensor& sin,
                               const torch::Tensor& key_mask, int64_t heads, int64_t kv_heads) {
    torch::Tensor probs;
    AttentionExtras extras;
    extras.probs = &probs;
    auto out = fused_causal_attention(q, k, v, cos, sin, key_mask, heads, kv_heads, extras);
    ctx->save_for_backward({q, k, v, out, cos, sin, probs});
    ctx->saved_data["heads"] = heads;
    ctx->saved_data["kv_heads"] = kv_heads;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    auto [dq, dk, dv] = fused_causal_attention_backward(grads[0], saved[0], saved[1], saved[2], saved[3], saved[4],
                                                        saved[5], saved[6], ctx->saved_data["heads"].toInt(),
                                                        ctx->saved_data["kv_heads"].toInt());
    return {dq, dk, dv, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor causal_attention_with_grad(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                         const torch::Tensor& cos, const torch::Tensor& sin,
                                         const torch::Tensor& key_mask, int64_t heads, int64_t kv_heads) {
  return CausalAttentionFunction::apply(q, k, v, cos, sin, key_mask, heads, kv_heads);
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> fused_causal_attention_backward(
    const torch::Tensor& grad_out_in, const torch::Tensor& q_in, const torch::Tensor& k_in, const torch::Tensor& v_in,
    const torch::Tensor& out_in, const torch::Tensor& cos_in, const torch::Tensor& sin_in, const torch::Tensor& probs_in,
    int64_t heads, int64_t kv_heads) {
  for (const auto* x : {&grad_out_in, &q_in, &k_in, &v_in, &out_in, &cos_in, &sin_in, &probs_in})
    check_float_cpu(*x, "every input");
  const int64_t b = q_in.size(0), t = q_in.size(1), hd = q_in.size(2) / heads;
  TORCH_CHECK(heads % kv_heads == 0 && hd % 2 == 0 && q_in.size(2) == heads * hd &&
                  grad_out_in.sizes() == q_in.sizes() && out_in.sizes() == q_in.sizes() &&
                  k_in.sizes() == torch::IntArrayRef({b, t, kv_heads * hd}) && v_in.sizes() == k_in.sizes() &&
                  cos_in.numel() == b * t * hd && sin_in.numel() == b * t * hd &&
                  probs_in.sizes() == torch::IntArrayRef({b, heads, t, t}),
              "fused_causal_attention_backward: inconsistent shapes");
  torch::NoGradGuard no_grad;
  auto go = grad_out_in.contiguous(), q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous(),
       out = out_in.contiguous();
  auto cos = cos_in.contiguous(), sin = sin_in.contiguous(), probs = probs_in.contiguous();
  auto dq = torch::empty_like(q), dk = torch::empty_like(k), dv = torch::empty_like(v);
  const GradShape shape{t, heads, kv_heads, hd};
  const float *gp = go.data_ptr<float>(), *qp = q.data_ptr<float>(), *kp = k.data_ptr<float>(),
              *vp = v.data_ptr<float>(), *op = out.data_ptr<float>(), *cp = cos.data_ptr<float>(),
              *sp = sin.data_ptr<float>(), *pp = probs.data_ptr<float>();
  float *dqp = dq.data_ptr<float>(), *dkp = dk.data_ptr<float>(), *dvp = dv.data_ptr<float>();
  at::parallel_for(0, b * kv_heads, 1, [&](int64_t begin, int64_t end) {
    attend_groups_backward(shape, begin, end, gp, qp, kp, vp, op, cp, sp, pp, dqp, dkp, dvp);
  });
  return {dq, dk, dv};
}

}  // namespace poser
