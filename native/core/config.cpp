#include "config.h"

#include "errors.h"

namespace poser {

void LlamaConfig::validate() const {
  auto positive = [](const char* field, int64_t v) {
    if (v <= 0) throw Error("E_FORMAT", std::string("config: ") + field + " must be positive, got " + std::to_string(v));
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("num_key_value_heads", num_key_value_heads);
  positive("max_position_embeddings", max_position_embeddings);
  if (hidden_size % num_attention_heads != 0)
    throw Error("E_FORMAT", "config: hidden_size " + std::to_string(hidden_size) +
                                " is not divisible by num_attention_heads " + std::to_string(num_attention_heads));
  if (num_attention_heads % num_key_value_heads != 0)
    throw Error("E_FORMAT", "config: num_attention_heads " + std::to_string(num_attention_heads) +
                                " is not divisible by num_key_value_heads " + std::to_string(num_key_value_heads));
  if (head_dim() % 2 != 0)
    throw Error("E_FORMAT", "config: head dimension " + std::to_string(head_dim()) + " must be even for rotary embeddings");
  if (!(rms_norm_eps > 0)) throw Error("E_FORMAT", "config: rms_norm_eps must be positive");
  if (!(rope_theta > 0)) throw Error("E_FORMAT", "config: rope_theta must be positive");
}

}  // namespace poser
