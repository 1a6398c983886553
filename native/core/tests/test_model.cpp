// The model core against the transformers fixture (test/fixtures/tiny-llama,
// written by tools/make_fixtures.py), without Node: logits at real positions
// within 1e-4 relative (max |ours - ref| / max |ref|), on the CPU and, where
// this libtorch has CUDA and a GPU is visible, on cuda:0.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <fstream>
#include <string>

#include "model.h"
#include "safetensors.h"

namespace {

const std::string kFixture = std::string(POSER_FIXTURES_DIR) + "/tiny-llama";

poser::LlamaConfig fixture_config() {
  std::ifstream in(kFixture + "/config.json");
  const auto j = nlohmann::json::parse(in);
  poser::LlamaConfig c;
  c.vocab_size = j.at("vocab_size");
  c.hidden_size = j.at("hidden_size");
  c.intermediate_size = j.at("intermediate_size");
  c.num_hidden_layers = j.at("num_hidden_layers");
  c.num_attention_heads = j.at("num_attention_heads");
  c.num_key_value_heads = j.at("num_key_value_heads");
  c.max_position_embeddings = j.at("max_position_embeddings");
  c.rms_norm_eps = j.at("rms_norm_eps");
  c.rope.theta = j.at("rope_theta");
  c.tie_word_embeddings = j.at("tie_word_embeddings");
  return c;
}

// max |a - b| / max |b| over the positions where mask is 1.
double relative_error(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& mask) {
  auto keep = mask.to(torch::kBool).unsqueeze(-1).expand_as(b);
  auto diff = (a - b).abs().masked_select(keep).max().item<double>();
  return diff / b.abs().masked_select(keep).max().item<double>();
}

std::unique_ptr<poser::LlamaModel> load_fixture(const std::string& device) {
  poser::LoadOptions options;
  options.device = torch::Device(device);
  return poser::LlamaModel::load(kFixture, fixture_config(), options);
}

// Relative error of the model's logits on the fixture batch.
double logits_error(poser::LlamaModel& model) {
  auto expected = poser::load_safetensors_file(kFixture + "/expected.safetensors");
  poser::Batch batch{expected.at("input_ids"), expected.at("attention_mask")};
  poser::LogitsSpec all;
  all.mode = poser::LogitsSpec::Mode::All;
  auto out = model.forward(batch, all, {});
  return relative_error(out.logits, expected.at("logits"), batch.mask);
}

TEST(ModelParity, LogitsOnCpu) { EXPECT_LT(logits_error(*load_fixture("cpu")), 1e-4); }

TEST(ModelParity, LogitsOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const double err = logits_error(*load_fixture("cuda:0"));
  std::cout << "cuda:0 logits relative error " << err << "\n";
  EXPECT_LT(err, 1e-4);
}

// Greedy generation against transformers' generate (hooks.safetensors, from
// tools/make_hook_fixtures.py): the KV-cached loop gives the same tokens.
void expect_greedy_tokens(const std::string& device) {
  auto model = load_fixture(device);
  auto expected = poser::load_safetensors_file(kFixture + "/expected.safetensors");
  auto hooks = poser::load_safetensors_file(kFixture + "/hooks.safetensors");
  poser::Batch batch{expected.at("input_ids"), expected.at("attention_mask")};
  poser::GenerateSpec spec;
  spec.max_new_tokens = hooks.at("greedy_tokens").size(1);
  auto out = model->generate(batch, spec, {}, {});
  EXPECT_TRUE(torch::equal(out.tokens, hooks.at("greedy_tokens").to(torch::kLong))) << device << ": " << out.tokens;
}

TEST(ModelParity, GreedyGenerateOnCpu) { expect_greedy_tokens("cpu"); }

TEST(ModelParity, GreedyGenerateOnCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  expect_greedy_tokens("cuda:0");
}

TEST(ModelParity, PerturbedWeightIsDetected) {
  auto model = load_fixture("cpu");
  auto w = model->get("model.layers.1.mlp.down_proj.weight");
  w.index_put_({0, 0}, w.index({0, 0}) + 0.05);
  model->set("model.layers.1.mlp.down_proj.weight", w);
  EXPECT_GT(logits_error(*model), 1e-4);
}

}  // namespace
