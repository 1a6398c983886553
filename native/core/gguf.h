// Reading GGUF files (llama.cpp's model format): header, metadata, tensor
// infos, dequantization to float32, and the LLaMA tensors under their
// Hugging Face names.
//
// Layout (little-endian): "GGUF", uint32 version (2 or 3), uint64 tensor
// count, uint64 metadata count, the metadata (key string, uint32 value type,
// value), the tensor infos (name, uint32 n_dims, uint64 ne[n_dims] innermost
// first, uint32 ggml type, uint64 offset), padding to `general.alignment`
// (default 32), then the data section the offsets point into.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config.h"
#include "safetensors.h"

namespace poser {

enum class GgufType : uint32_t {
  UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6,
  Bool = 7, String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
};

const char* gguf_type_name(GgufType type);

// One metadata value. Integers keep their sign in `i` (signed types) or `u`
// (unsigned types and bool); floats are widened to `f`.
struct GgufValue {
  GgufType type = GgufType::UInt8;
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  std::string s;
  GgufType elem_type = GgufType::UInt8;  // arrays
  std::vector<GgufValue> items;          // arrays

  bool is_integer() const;
  bool is_number() const { return is_integer() || type == GgufType::Float32 || type == GgufType::Float64; }
  double number() const;  // any numeric type as a double
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // row-major (torch) order: ne reversed
  uint32_t type = 0;           // ggml type id
  uint64_t offset = 0;         // from the start of the data section
  uint64_t nbytes = 0;
};

struct GgufFile {
  std::string path;
  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t data_offset = 0;  // absolute start of the data section
  uint64_t file_size = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata;  // file order
  std::vector<GgufTensorInfo> tensors;                      // file order

  const GgufValue* find(const std::string& key) const;
};

// Name of a ggml tensor type id ("Q4_K", "IQ2_XS", ...; "type N" if unknown).
std::string ggml_type_name(uint32_t type);

// Parses header, metadata and tensor infos, reading only those bytes. Every
// count, length and offset is checked against the file: a malformed file
// throws poser::Error E_FORMAT naming the file, the byte offset and what is
// wrong; E_IO when it cannot be read; E_UNSUPPORTED for a version other than
// 2 or 3 or a big-endian file. Tensor types are not checked here.
GgufFile read_gguf(const std::string& path);

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
