// GGUF tensors as float32 (dequantized), and the LLaMA tensors of a GGUF file
// under their Hugging Face names. The header parser is in gguf_format.h.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "config.h"
#include "gguf_format.h"
#include "safetensors.h"

namespace poser {

// Dequantizes one tensor's raw bytes (info.nbytes of them) to a new float32
// CPU tensor of info.shape. Supports F32, F16, BF16, F64, Q8_0, Q4_0, Q4_1,
// Q4_K and Q6_K; any other type throws E_UNSUPPORTED naming it.
torch::Tensor dequantize_gguf_tensor(const GgufTensorInfo& info, const uint8_t* data);

// Reads and dequantizes one tensor of the file (by name) to float32.
torch::Tensor read_gguf_tensor(const GgufFile& file, const std::string& name);

// HF name of a llama.cpp LLaMA tensor name ("blk.3.attn_q.weight" ->
// "model.layers.3.self_attn.q_proj.weight"); empty when it has none.
std::string gguf_llama_hf_name(const std::string& gguf_name);

// Undoes the row order llama.cpp's converter gives Q and K projections for its
// interleaved rotary layout: within each of `heads` heads, GGUF row 2j + i is
// HF row i * (head_dim / 2) + j. weight is [heads * head_dim, in].
torch::Tensor unpermute_qk_rows(const torch::Tensor& weight, int64_t heads);

// Every LLaMA tensor of a GGUF file as float32 CPU tensors owned by the caller
// (the file is closed on return), under HF names, Q/K rows restored. Refuses
// (E_UNSUPPORTED) an architecture other than llama and tensors it cannot map;
// the shapes are checked later against `config` by the model.
TensorMap load_gguf_llama_weights(const std::string& path, const LlamaConfig& config);

}  // namespace poser
