// The fused kernels' backward passes (attention_grad.h, norm_mlp_grad.h)
// against libtorch's autograd through the same computations composed in
// float64: every input's gradient, for grouped-query heads, padding, the
// specialised head sizes and a generic one.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/Parallel.h>

#include <algorithm>

#include "attention_grad.h"
#include "cpu_kernels.h"
#include "norm_mlp_grad.h"
#include "reference_ops.h"

namespace {

// max |got - want| / max(max |want|, scale): gradients that vanish (one key,
// a one-wide norm) are compared with the size of the terms they come from.
double relative_error(const torch::Tensor& got, const torch::Tensor& want, double scale = 0.0) {
  return (got.to(torch::kFloat64) - want).abs().max().item<double>() /
         std::max(want.abs().max().item<double>(), scale);
}

struct Case {
  int64_t batch, length, heads, kv_heads, head_dim;
};

class AttentionGradient : public ::testing::TestWithParam<Case> {};

TEST_P(AttentionGradient, MatchesAutogradOfComposedOps) {
  const auto c = GetParam();
  torch::manual_seed(11);
  auto q = torch::randn({c.batch, c.length, c.heads * c.head_dim}).requires_grad_();
  auto k = torch::randn({c.batch, c.length, c.kv_heads * c.head_dim}).requires_grad_();
  auto v = torch::randn({c.batch, c.length, c.kv_heads * c.head_dim}).requires_grad_();
  auto mask = torch::ones({c.batch, c.length});
  for (int64_t r = 0; r < c.batch; ++r) mask[r].narrow(0, 0, std::min(2 * r, c.length - 1)).zero_();
  auto [cos, sin] = rotary_tables(mask, c.head_dim);
  auto grad_out = torch::randn({c.batch, c.length, c.heads * c.head_dim});

  auto out = poser::causal_attention_with_grad(q, k, v, cos, sin, mask, c.heads, c.kv_heads);
  auto fused = torch::autograd::grad({out}, {q, k, v}, {grad_out});
  auto want_out = std::get<0>(reference_attention(q, k, v, cos, sin, mask, c.heads, c.kv_heads));
  auto want = torch::autograd::grad({want_out}, {q, k, v}, {grad_out.to(torch::kFloat64)});

  EXPECT_LT(relative_error(out.detach(), want_out.detach()), 1e-5);
  const char* names[] = {"q", "k", "v"};
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(fused[i].sizes(), want[i].sizes()) << names[i];
    // float32 against float64, sums over up to `length` keys.
    EXPECT_LT(relative_error(fused[i], want[i], 1.0), 1e-5) << names[i];  // unit-sized inputs and gradient
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionGradient,
                         ::testing::Values(Case{3, 1, 2, 2, 16},    // one token
                                           Case{4, 17, 4, 4, 16},   // the zoo's head size, past one key block
                                           Case{3, 40, 4, 2, 32},   // grouped-query
                                           Case{2, 33, 3, 1, 64},   // all heads on one key/value head
                                           Case{2, 20, 2, 1, 128},  //
                                           Case{3, 19, 4, 2, 24},   // generic head size
                                           Case{2, 16, 2, 2, 8}));  // generic, one block exactly

TEST(AttentionGradient, RefusesMismatchedShapes) {
  auto x = torch::randn({2, 5, 32}), cos = torch::ones({2, 1, 5, 16}), sin = torch::zeros({2, 1, 5, 16});
  auto probs = torch::rand({2, 2, 5, 5});
  EXPECT_THROW(poser::fused_causal_attention_backward(x, x, x, x, x, cos, sin, probs.narrow(3, 0, 4), 2, 2),
               c10::Error);
  EXPECT_THROW(poser::fused_causal_attention_backward(x.to(torch::kFloat64), x, x, x, x, cos, sin, probs, 2, 2),
               c10::Error);
}

TEST(RmsNormGradient, MatchesAutogradOfComposedOps) {
  for (int64_t dim : {1, 7, 64, 576}) {
    torch::manual_seed(dim);
    auto x = (torch::randn({3, 5, dim}) * 3.0).requires_grad_();
    auto w = torch::randn({dim}).requires_grad_();
    auto grad_y = torch::randn({3, 5, dim});
    auto y = poser::rms_norm_with_grad(x, w, 1e-5);
    auto fused = torch::autograd::grad({y}, {x, w}, {grad_y});
    auto xd = x.to(torch::kFloat64);
    auto want_y = w.to(torch::kFloat64) * xd / torch::sqrt(xd.pow(2).mean(-1, true) + 1e-5);
    auto want = torch::autograd::grad({want_y}, {x, w}, {grad_y.to(torch::kFloat64)});
    EXPECT_LT(relative_error(y.detach(), want_y.detach()), 1e-6) << "dim " << dim;
    // dx is the difference of two terms of the size of grad_y * w / rms(x), which cancel where dim is 1.
    const double terms = (grad_y * w / torch::sqrt(xd.pow(2).mean(-1, true))).abs().max().item<double>();
    EXPECT_LT(relative_error(fused[0], want[0], terms), 1e-6) << "x, dim " << dim;
    EXPECT_LT(relative_error(fused[1], want[1]), 1e-5) << "weight, dim " << dim;
  }
}

// The weight's gradient sums rows in one order whatever the threads: a
// population of models trained one thread each matches one trained on all.
TEST(RmsNormGradient, WeightGradientDoesNotDependOnThreads) {
  torch::manual_seed(5);
  const int64_t rows = 3000, dim = 64;
  auto x = torch::randn({rows, dim}), w = torch::randn({dim}), grad_y = torch::randn({rows, dim});
  torch::Tensor inv;
  {
    torch::NoGradGuard no_grad;
    poser::fused_rms_norm(x, w, 1e-5, &inv);
  }
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  auto one = poser::fused_rms_norm_backward(grad_y, x, w, inv);
  at::set_num_threads(4);
  auto four = poser::fused_rms_norm_backward(grad_y, x, w, inv);
  at::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(std::get<0>(one), std::get<0>(four)));
  EXPECT_TRUE(torch::equal(std::get<1>(one), std::get<1>(four)));
}

TEST(SiluMulGradient, MatchesAutogradOfComposedOps) {
  torch::manual_seed(2);
  // Large magnitudes too: exp(-gate) overflows float32 below -88.
  auto gate = torch::cat({torch::randn({4, 300}) * 4.0, torch::tensor({-200.0f, -90.0f, 0.0f, 90.0f}).expand({4, 4})}, 1)
                  .contiguous()
                  .requires_grad_();
  auto up = torch::randn({4, 304}).requires_grad_();
  auto grad_out = torch::randn({4, 304});
  auto out = poser::silu_mul_with_grad(gate, up);
  auto fused = torch::autograd::grad({out}, {gate, up}, {grad_out});
  auto want_out = torch::silu(gate.to(torch::kFloat64)) * up.to(torch::kFloat64);
  auto want = torch::autograd::grad({want_out}, {gate, up}, {grad_out.to(torch::kFloat64)});
  EXPECT_LT(relative_error(out.detach(), want_out.detach()), 1e-6);
  EXPECT_TRUE(torch::isfinite(fused[0]).all().item<bool>());
  EXPECT_LT(relative_error(fused[0], want[0]), 1e-6) << "gate";
  EXPECT_LT(relative_error(fused[1], want[1]), 1e-6) << "up";
}

}  // namespace
