// Hyper-parameters of a LLaMA-architecture model, mirroring the fields of a
// Hugging Face `LlamaForCausalLM` config.json that the forward depends on.
#pragma once

#include <cstdint>
#include <string>

namespace poser {

struct LlamaConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;

  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // Throws poser::Error(E_FORMAT) naming the first inconsistent field.
  void validate() const;
};

}  // namespace poser
