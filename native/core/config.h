// Hyper-parameters of a LLaMA-architecture model, mirroring the fields of a
// Hugging Face `LlamaForCausalLM` config.json that the forward depends on.
// The TypeScript side reads every config dialect and fills exactly these.
#pragma once

#include <cstdint>
#include <string>

namespace poser {

// Rotary position embedding variant and its parameters (transformers'
// rope_type names).
struct RopeSpec {
  enum class Type { Default, Linear, Dynamic, Llama3 };
  Type type = Type::Default;
  double theta = 10000.0;
  double factor = 1.0;                           // linear, dynamic, llama3
  double low_freq_factor = 0.0;                  // llama3
  double high_freq_factor = 0.0;                 // llama3
  int64_t original_max_position_embeddings = 0;  // llama3

  // Type from its config name; throws E_UNSUPPORTED for any other.
  static Type parse_type(const std::string& name);
  static const char* type_name(Type type);
};

struct LlamaConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t explicit_head_dim = 0;  // config.json's head_dim; 0: hidden_size / num_attention_heads
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  RopeSpec rope;

  int64_t head_dim() const { return explicit_head_dim > 0 ? explicit_head_dim : hidden_size / num_attention_heads; }
  // Throws poser::Error(E_FORMAT) naming the first inconsistent field.
  void validate() const;
};

}  // namespace poser
