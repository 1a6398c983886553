// Rotary frequencies of each rope type against their closed forms computed in
// double precision, and the position limit.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "expect_error.h"
#include "rope.h"

namespace {

constexpr int64_t kHeadDim = 8;
constexpr double kTheta = 5000.0;

std::vector<double> plain(double theta) {
  std::vector<double> out;
  for (int64_t i = 0; i < kHeadDim; i += 2) out.push_back(std::pow(theta, -static_cast<double>(i) / kHeadDim));
  return out;
}

void expect_close(const torch::Tensor& got, const std::vector<double>& want) {
  ASSERT_EQ(got.numel(), static_cast<int64_t>(want.size()));
  auto g = got.to(torch::kFloat64).contiguous();
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(g[i].item<double>(), want[i], 1e-6 * want[i]) << "frequency " << i;
}

poser::RopeSpec spec(poser::RopeSpec::Type type, double factor = 1.0) {
  poser::RopeSpec s;
  s.type = type;
  s.theta = kTheta;
  s.factor = factor;
  return s;
}

}  // namespace

TEST(Rope, DefaultAndLinear) {
  expect_close(poser::rope_inv_freq(spec(poser::RopeSpec::Type::Default), kHeadDim, 32, 10), plain(kTheta));
  auto want = plain(kTheta);
  for (auto& f : want) f /= 4.0;
  expect_close(poser::rope_inv_freq(spec(poser::RopeSpec::Type::Linear, 4.0), kHeadDim, 32, 10), want);
}

TEST(Rope, DynamicGrowsTheBaseOnlyPastTheLimit) {
  const auto s = spec(poser::RopeSpec::Type::Dynamic, 2.0);
  expect_close(poser::rope_inv_freq(s, kHeadDim, 16, 16), plain(kTheta));
  const double base = kTheta * std::pow(2.0 * 28 / 16 - 1.0, kHeadDim / (kHeadDim - 2.0));
  expect_close(poser::rope_inv_freq(s, kHeadDim, 16, 28), plain(base));
}

TEST(Rope, Llama3Bands) {
  auto s = spec(poser::RopeSpec::Type::Llama3, 8.0);
  s.low_freq_factor = 1.0;
  s.high_freq_factor = 4.0;
  s.original_max_position_embeddings = 64;
  // Wavelengths 6.3 (kept), 52.8 (between 16 and 64: blended), 444 and 3737 (slowed).
  auto want = plain(kTheta);
  const double wavelen = 2 * M_PI / want[1];
  const double blend = (64.0 / wavelen - 1.0) / (4.0 - 1.0);
  want[1] = (1 - blend) * want[1] / 8.0 + blend * want[1];
  want[2] /= 8.0;
  want[3] /= 8.0;
  expect_close(poser::rope_inv_freq(s, kHeadDim, 256, 10), want);
}

TEST(Rope, PositionLimit) {
  poser::RotaryEmbedding plain_rope(spec(poser::RopeSpec::Type::Default), kHeadDim, 16, torch::kCPU);
  auto within = torch::arange(16, torch::kLong).view({1, 16});
  EXPECT_EQ(plain_rope.tables(within, torch::kFloat32).first.sizes(), (std::vector<int64_t>{1, 1, 16, kHeadDim}));
  auto beyond = torch::arange(17, torch::kLong).view({1, 17});
  expect_error([&] { plain_rope.tables(beyond, torch::kFloat32); }, "E_ARG",
               {"17 positions", "limit of 16", "max_position_embeddings"});
  poser::RotaryEmbedding dynamic(spec(poser::RopeSpec::Type::Dynamic, 2.0), kHeadDim, 16, torch::kCPU);
  EXPECT_NO_THROW(dynamic.tables(beyond, torch::kFloat32));
  expect_error([] { poser::RopeSpec::parse_type("yarn"); }, "E_UNSUPPORTED", {"'yarn'"});
}

// The tables are computed where the positions live; on a GPU they must equal
// the CPU's (dynamic scaling builds its frequencies on the CPU and moves them).
TEST(Rope, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  auto s = spec(poser::RopeSpec::Type::Dynamic, 2.0);
  auto positions = torch::arange(28, torch::kLong).view({1, 28});
  poser::RotaryEmbedding cpu(s, kHeadDim, 16, torch::kCPU);
  poser::RotaryEmbedding gpu(s, kHeadDim, 16, torch::Device(torch::kCUDA, 0));
  auto [cos_c, sin_c] = cpu.tables(positions, torch::kFloat32);
  auto [cos_g, sin_g] = gpu.tables(positions.to(torch::kCUDA), torch::kFloat32);
  EXPECT_LT((cos_g.cpu() - cos_c).abs().max().item<double>(), 1e-5);
  EXPECT_LT((sin_g.cpu() - sin_c).abs().max().item<double>(), 1e-5);
}
