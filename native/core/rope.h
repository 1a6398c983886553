// Rotary position embeddings: the inverse frequencies of each rope type
// (default, linear, dynamic NTK, llama3) and the cos/sin tables for a batch.
#pragma once

#include <torch/torch.h>

#include <utility>

#include "config.h"

namespace poser {

// Inverse frequencies [head_dim / 2], float32 on the CPU, for a batch whose
// longest sequence holds `length` positions (only dynamic scaling depends on
// it). The arithmetic follows transformers' float32 order of operations, so
// the tables agree with it to the last bit or two.
torch::Tensor rope_inv_freq(const RopeSpec& spec, int64_t head_dim, int64_t max_position_embeddings, int64_t length);

class RotaryEmbedding {
 public:
  RotaryEmbedding() = default;
  RotaryEmbedding(const RopeSpec& spec, int64_t head_dim, int64_t max_position_embeddings, torch::Device device);

  // cos and sin [B, 1, T, head_dim] in `dtype` for absolute positions [B, T].
  // Throws E_ARG when a position lies beyond max_position_embeddings and the
  // rope type does not extend the context (only dynamic does). `length` is the
  // sequence the positions belong to (-1: the positions' own); a part of a
  // sequence run on its own (a sweep's prefix) passes the whole one's.
  std::pair<torch::Tensor, torch::Tensor> tables(const torch::Tensor& positions, torch::ScalarType dtype,
                                                 int64_t length = -1) const;

  // Throws E_ARG when `length` positions exceed what the model supports.
  void check_length(int64_t length) const;

 private:
  RopeSpec spec_;
  int64_t head_dim_ = 0;
  int64_t max_positions_ = 0;
  torch::Tensor inv_freq_;  // for lengths within max_position_embeddings, on the model's device
};

}  // namespace poser
