#include "config.h"

#include <cmath>

#include "errors.h"

namespace poser {

RopeSpec::Type RopeSpec::parse_type(const std::string& name) {
  if (name == "default") return Type::Default;
  if (name == "linear") return Type::Linear;
  if (name == "dynamic") return Type::Dynamic;
  if (name == "llama3") return Type::Llama3;
  throw Error("E_UNSUPPORTED", "config: rope type '" + name + "' is not supported (supported: default, linear, dynamic, llama3)");
}

const char* RopeSpec::type_name(Type type) {
  switch (type) {
    case Type::Default: return "default";
    case Type::Linear: return "linear";
    case Type::Dynamic: return "dynamic";
    case Type::Llama3: return "llama3";
  }
  return "?";
}

void LlamaConfig::validate() const {
  auto fail = [](const std::string& message) { throw Error("E_FORMAT", "config: " + message); };
  auto positive = [&](const char* field, int64_t v) {
    if (v <= 0) fail(std::string(field) + " must be positive, got " + std::to_string(v));
  };
  positive("vocab_size", vocab_size);
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("num_key_value_heads", num_key_value_heads);
  positive("max_position_embeddings", max_position_embeddings);
  if (explicit_head_dim < 0) fail("head_dim must be positive, got " + std::to_string(explicit_head_dim));
  if (explicit_head_dim == 0 && hidden_size % num_attention_heads != 0)
    fail("hidden_size " + std::to_string(hidden_size) + " is not divisible by num_attention_heads " +
         std::to_string(num_attention_heads) + " (and no head_dim is given)");
  if (num_attention_heads % num_key_value_heads != 0)
    fail("num_attention_heads " + std::to_string(num_attention_heads) + " is not divisible by num_key_value_heads " +
         std::to_string(num_key_value_heads));
  if (head_dim() % 2 != 0) fail("head_dim " + std::to_string(head_dim()) + " must be even for rotary embeddings");
  if (!(rms_norm_eps > 0)) fail("rms_norm_eps must be positive");
  const std::string rope = std::string("rope (") + RopeSpec::type_name(this->rope.type) + "): ";
  if (!(this->rope.theta > 0) || !std::isfinite(this->rope.theta)) fail(rope + "rope_theta must be positive");
  if (this->rope.type != RopeSpec::Type::Default && (!(this->rope.factor > 0) || !std::isfinite(this->rope.factor)))
    fail(rope + "factor must be positive");
  if (this->rope.type == RopeSpec::Type::Llama3) {
    if (!(this->rope.low_freq_factor > 0)) fail(rope + "low_freq_factor must be positive");
    if (!(this->rope.high_freq_factor > this->rope.low_freq_factor))
      fail(rope + "high_freq_factor must be greater than low_freq_factor");
    if (this->rope.original_max_position_embeddings <= 0) fail(rope + "original_max_position_embeddings must be positive");
  }
}

}  // namespace poser
