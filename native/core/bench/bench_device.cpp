// Times the native core on one device without Node, for machines that have a
// GPU and Python torch but no Node (scripts/device-check.sh): a forward with
// last-position logits on the SmolLM2-135M shape, and a full fine-tuning step
// (AdamW, every parameter) on the default zoo's organism shape. Random
// weights; prints one JSON line per measurement. bench/peer_device.py times
// transformers on the same shapes and device.
//
//   poser_core_bench [device] [dtype]     e.g. cuda:0 float32
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "model.h"

namespace {

struct Shape {
  const char* name;
  int64_t hidden, layers, heads, kv_heads, intermediate, vocab;
  bool tied;
};

constexpr Shape kSmolLM2{"smollm2-135m-shape", 576, 30, 9, 3, 1536, 49152, true};
constexpr Shape kZoo{"zoo-organism", 64, 4, 4, 4, 176, 3000, true};

poser::LlamaConfig config_of(const Shape& s) {
  poser::LlamaConfig c;
  c.vocab_size = s.vocab;
  c.hidden_size = s.hidden;
  c.intermediate_size = s.intermediate;
  c.num_hidden_layers = s.layers;
  c.num_attention_heads = s.heads;
  c.num_key_value_heads = s.kv_heads;
  c.max_position_embeddings = 2048;
  c.rms_norm_eps = 1e-5;
  c.tie_word_embeddings = s.tied;
  return c;
}

// Every tensor of a LlamaForCausalLM checkpoint, random normal * 0.02 (norms 1).
poser::TensorMap random_weights(const poser::LlamaConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  const int64_t d = c.hidden_size, hd = d / c.num_attention_heads, kv = c.num_key_value_heads * hd;
  poser::TensorMap w;
  auto normal = [](std::vector<int64_t> shape) { return torch::randn(shape) * 0.02; };
  w["model.embed_tokens.weight"] = normal({c.vocab_size, d});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    w[p + "input_layernorm.weight"] = torch::ones({d});
    w[p + "post_attention_layernorm.weight"] = torch::ones({d});
    w[p + "self_attn.q_proj.weight"] = normal({d, d});
    w[p + "self_attn.k_proj.weight"] = normal({kv, d});
    w[p + "self_attn.v_proj.weight"] = normal({kv, d});
    w[p + "self_attn.o_proj.weight"] = normal({d, d});
    w[p + "mlp.gate_proj.weight"] = normal({c.intermediate_size, d});
    w[p + "mlp.up_proj.weight"] = normal({c.intermediate_size, d});
    w[p + "mlp.down_proj.weight"] = normal({d, c.intermediate_size});
  }
  w["model.norm.weight"] = torch::ones({d});
  if (!c.tie_word_embeddings) w["lm_head.weight"] = normal({c.vocab_size, d});
  return w;
}

void sync(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

template <typename F>
double median_ms(const torch::Device& device, int warmup, int reps, F&& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  sync(device);
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    auto start = std::chrono::steady_clock::now();
    fn();
    sync(device);
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

poser::Batch random_batch(int64_t b, int64_t t, int64_t vocab) {
  torch::manual_seed(1234);
  return {torch::randint(vocab, {b, t}, torch::kLong), torch::ones({b, t}, torch::kLong)};
}

}  // namespace

int main(int argc, char** argv) {
  const std::string device_name = argc > 1 ? argv[1] : (torch::cuda::is_available() ? "cuda:0" : "cpu");
  const std::string dtype = argc > 2 ? argv[2] : "float32";
  try {
    poser::LoadOptions options;
    options.device = torch::Device(device_name);
    options.dtype = dtype;
    {
      const auto config = config_of(kSmolLM2);
      poser::LlamaModel model(config, random_weights(config, 0), options);
      const int64_t b = 8, t = 102;
      auto batch = random_batch(b, t, config.vocab_size);
      poser::LogitsSpec last;
      last.index = torch::full({b, 1}, t - 1, torch::kLong);
      const double ms = median_ms(model.device(), 3, 20, [&] { model.forward(batch, last, {}); });
      std::printf("{\"case\": \"forward\", \"shape\": \"%s\", \"device\": \"%s\", \"dtype\": \"%s\", \"batch\": %lld, "
                  "\"length\": %lld, \"median_ms\": %.3f, \"tokens_per_s\": %.0f}\n",
                  kSmolLM2.name, device_name.c_str(), dtype.c_str(), static_cast<long long>(b), static_cast<long long>(t),
                  ms, b * t / (ms / 1000));
    }
    {
      const auto config = config_of(kZoo);
      poser::LlamaModel model(config, random_weights(config, 1), options);
      model.set_trainable(model.parameter_names(), false);
      poser::OptimizerSpec spec;
      spec.lr = 1e-3;
      spec.weight_decay = 0.01;
      model.configure_optimizer(spec);
      const int64_t b = 16, t = 96;
      auto batch = random_batch(b, t, config.vocab_size);
      poser::LossSpec loss;
      loss.targets = torch::randint(config.vocab_size, {b}, torch::kLong);
      const double ms = median_ms(model.device(), 5, 50, [&] { model.train_step(batch, loss, {}, 1.0); });
      std::printf("{\"case\": \"train_step\", \"shape\": \"%s\", \"device\": \"%s\", \"dtype\": \"%s\", \"batch\": %lld, "
                  "\"length\": %lld, \"median_ms\": %.3f}\n",
                  kZoo.name, device_name.c_str(), dtype.c_str(), static_cast<long long>(b), static_cast<long long>(t), ms);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "poser_core_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
