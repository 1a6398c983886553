// The fused CPU kernels against the same computation written with composed
// libtorch ops in double precision: rotary embedding, causal and padding
// masks, grouped-query heads, every specialised head size and the generic one,
// lengths that do and do not fill the kernel's key blocks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <tuple>

#include "cpu_kernels.h"
#include "reference_ops.h"

namespace {

struct Case {
  int64_t batch, length, heads, kv_heads, head_dim, past = 0;
};

class FusedAttention : public ::testing::TestWithParam<Case> {};

// The kernel on the last `length` tokens of a sequence of past + length, with
// the first `past` given as cached keys (rotated) and values, against the
// reference over the whole sequence.
TEST_P(FusedAttention, MatchesComposedOps) {
  const auto c = GetParam();
  const int64_t total = c.past + c.length;
  torch::manual_seed(7);
  torch::NoGradGuard no_grad;
  auto q = torch::randn({c.batch, total, c.heads * c.head_dim});
  auto k = torch::randn({c.batch, total, c.kv_heads * c.head_dim});
  auto v = torch::randn({c.batch, total, c.kv_heads * c.head_dim});
  // Left padding: row r has r padding tokens (at most total - 1); positions count real tokens.
  auto mask = torch::ones({c.batch, total});
  for (int64_t r = 0; r < c.batch; ++r) mask[r].narrow(0, 0, std::min(r, total - 1)).zero_();
  auto [cos, sin] = rotary_tables(mask, c.head_dim);

  torch::Tensor past_k, past_v;
  if (c.past > 0) {
    auto heads_first = [&](const torch::Tensor& x) {
      return x.narrow(1, 0, c.past).view({c.batch, c.past, c.kv_heads, c.head_dim}).transpose(1, 2);
    };
    auto kp = heads_first(k);
    auto cp = cos.narrow(2, 0, c.past), sp = sin.narrow(2, 0, c.past);
    past_k = (kp * cp + rotate_half(kp) * sp).contiguous();
    past_v = heads_first(v).contiguous();
  }
  auto last = [&](const torch::Tensor& x, int64_t axis) { return x.narrow(axis, c.past, c.length); };
  torch::Tensor probs, new_keys, new_values;
  poser::AttentionExtras extras{past_k, past_v, &probs, &new_keys, &new_values};
  auto out = poser::fused_causal_attention(last(q, 1), last(k, 1), last(v, 1), last(cos, 2), last(sin, 2), mask,
                                           c.heads, c.kv_heads, extras);
  auto plain = poser::fused_causal_attention(last(q, 1), last(k, 1), last(v, 1), last(cos, 2), last(sin, 2), mask,
                                             c.heads, c.kv_heads, poser::AttentionExtras{past_k, past_v});
  auto [want, want_probs] = reference_attention(q, k, v, cos, sin, mask, c.heads, c.kv_heads);
  want = last(want, 1);
  want_probs = last(want_probs, 2);
  ASSERT_EQ(out.sizes(), want.sizes());
  ASSERT_EQ(probs.sizes(), want_probs.sizes());
  // float32 against float64: a few ulp of the unit-scale outputs.
  EXPECT_LT((out.to(torch::kFloat64) - want).abs().max().item<double>(), 2e-5);
  EXPECT_LT((probs.to(torch::kFloat64) - want_probs).abs().max().item<double>(), 2e-6);
  EXPECT_TRUE(torch::equal(out, plain));  // asking for the weights and the cache's entries changes nothing
  // The new entries of a cache, [B, KV, T, hd]: keys rotated, values as given.
  auto heads_first = [&](const torch::Tensor& x) {
    return last(x, 1).reshape({c.batch, c.length, c.kv_heads, c.head_dim}).transpose(1, 2);
  };
  auto kn = heads_first(k).to(torch::kFloat64);
  auto cn = last(cos, 2).to(torch::kFloat64), sn = last(sin, 2).to(torch::kFloat64);
  ASSERT_EQ(new_keys.sizes(), kn.sizes());
  EXPECT_LT((new_keys.to(torch::kFloat64) - (kn * cn + rotate_half(kn) * sn)).abs().max().item<double>(), 2e-6);
  EXPECT_TRUE(torch::equal(new_values, heads_first(v)));
}

INSTANTIATE_TEST_SUITE_P(Shapes, FusedAttention,
                         ::testing::Values(Case{3, 1, 2, 2, 16},        // one token
                                           Case{4, 17, 4, 2, 16},       // one full block and one key past it
                                           Case{5, 40, 4, 4, 32},       //
                                           Case{2, 33, 3, 1, 48},       // all heads on one key/value head
                                           Case{3, 102, 9, 3, 64},      // SmolLM2-135M's heads
                                           Case{2, 20, 2, 1, 128},      //
                                           Case{3, 19, 2, 2, 24},       // generic head size
                                           Case{2, 16, 2, 2, 8},        // generic, one block exactly
                                           Case{4, 1, 4, 2, 16, 63},    // one new token after a cache (a sweep's rerun)
                                           Case{3, 5, 9, 3, 64, 30},    // several new tokens after a cache
                                           Case{2, 3, 2, 2, 24, 16}));  // generic head size with a cache

TEST(FusedAttention, NanInAQueryStaysInItsRow) {
  torch::NoGradGuard no_grad;
  const int64_t t = 6, hd = 16;
  auto q = torch::randn({1, t, hd}), k = torch::randn({1, t, hd}), v = torch::randn({1, t, hd});
  q[0][3][0] = std::numeric_limits<float>::quiet_NaN();
  auto cos = torch::ones({1, 1, t, hd}), sin = torch::zeros({1, 1, t, hd});
  auto out = poser::fused_causal_attention(q, k, v, cos, sin, torch::ones({1, t}), 1, 1);
  auto nan_rows = out[0].isnan().any(-1);
  EXPECT_TRUE(nan_rows[3].item<bool>());
  EXPECT_EQ(nan_rows.sum().item<int64_t>(), 1);
}

// Settings stacked along the batch share one cache: query row r reads cached
// row r % Bp, exactly as if the cache had been copied for every stack.
TEST(FusedAttention, StackedRowsShareOneCache) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(3);
  const int64_t b = 3, past = 20, heads = 4, kv = 2, hd = 16, stacks = 3;
  auto q = torch::randn({b * stacks, 1, heads * hd}), k = torch::randn({b * stacks, 1, kv * hd});
  auto v = torch::randn({b * stacks, 1, kv * hd});
  auto cos = torch::rand({b * stacks, 1, 1, hd}), sin = torch::rand({b * stacks, 1, 1, hd});
  auto mask = torch::ones({b * stacks, past + 1});
  mask.narrow(1, 0, 2).zero_();
  auto past_k = torch::randn({b, kv, past, hd}), past_v = torch::randn({b, kv, past, hd});
  auto shared = poser::fused_causal_attention(q, k, v, cos, sin, mask, heads, kv, poser::AttentionExtras{past_k, past_v});
  auto copied = poser::fused_causal_attention(
      q, k, v, cos, sin, mask, heads, kv,
      poser::AttentionExtras{past_k.repeat({stacks, 1, 1, 1}), past_v.repeat({stacks, 1, 1, 1})});
  EXPECT_TRUE(torch::equal(shared, copied));
  auto two_rows = torch::randn({2, kv, past, hd});  // 2 does not divide 9
  EXPECT_THROW(poser::fused_causal_attention(q, k, v, cos, sin, mask, heads, kv, poser::AttentionExtras{two_rows, two_rows}),
               c10::Error);
}

TEST(FusedAttention, RefusesMismatchedShapes) {
  torch::NoGradGuard no_grad;
  auto q = torch::randn({2, 5, 32}), k = torch::randn({2, 5, 16}), v = torch::randn({2, 4, 16});
  auto cos = torch::ones({2, 1, 5, 16}), sin = torch::zeros({2, 1, 5, 16});
  EXPECT_THROW(poser::fused_causal_attention(q, k, v, cos, sin, torch::ones({2, 5}), 2, 1), c10::Error);
  EXPECT_THROW(poser::fused_causal_attention(q.to(torch::kFloat64), k, k, cos, sin, torch::ones({2, 5}), 2, 1),
               c10::Error);
}

TEST(FusedRmsNorm, MatchesComposedOps) {
  torch::NoGradGuard no_grad;
  for (int64_t dim : {1, 7, 64, 576}) {
    auto x = torch::randn({3, 5, dim}) * 3.0;
    auto w = torch::randn({dim});
    auto xd = x.to(torch::kFloat64);
    auto want = w.to(torch::kFloat64) * xd / torch::sqrt(xd.pow(2).mean(-1, true) + 1e-5);
    auto got = poser::fused_rms_norm(x, w, 1e-5);
    EXPECT_LT((got.to(torch::kFloat64) - want).abs().max().item<double>() / want.abs().max().item<double>(), 1e-6)
        << "dim " << dim;
  }
}

TEST(FusedKernels, InferenceAndTrainingGatesAreExclusive) {
  EXPECT_FALSE(poser::fused_kernels_apply(torch::kCPU, torch::kFloat32));  // grad mode is on by default
  EXPECT_EQ(poser::fused_grad_applies(torch::kCPU, torch::kFloat32), poser::fused_training_enabled());  // POSER_FUSED_TRAINING
  EXPECT_FALSE(poser::fused_grad_applies(torch::kCPU, torch::kBFloat16));
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(poser::fused_kernels_apply(torch::kCPU, torch::kFloat32));
  EXPECT_FALSE(poser::fused_grad_applies(torch::kCPU, torch::kFloat32));
  EXPECT_FALSE(poser::fused_kernels_apply(torch::kCPU, torch::kBFloat16));
}

}  // namespace
