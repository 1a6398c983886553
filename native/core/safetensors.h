// Reading and writing the safetensors format
// (8-byte little-endian header length N, N bytes of JSON header, raw data).
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>

namespace poser {

using TensorMap = std::map<std::string, torch::Tensor>;

// Loads every tensor of one .safetensors file, memory-mapped: each tensor is a
// CPU tensor in its stored dtype (F32, F16, BF16, F64, I64, I32, I16, I8, U8,
// BOOL) viewing a private copy-on-write mapping, so no second copy of the file
// is made until a tensor is written to. The mapping lives as long as any
// tensor from it. Throws poser::Error (E_IO, E_FORMAT, E_DTYPE) naming the file
// and, where it applies, the tensor: truncated file, header length larger than
// the file, malformed JSON, offsets out of range or inconsistent with the
// shape and dtype, unknown dtype.
TensorMap load_safetensors_file(const std::string& path);

// Loads the weights of a Hugging Face model directory: model.safetensors, or
// every shard named by model.safetensors.index.json ("weight_map").
TensorMap load_model_weights(const std::string& dir);

// Writes tensors (any device; moved to CPU, made contiguous) to `path` through
// `path + ".tmp-<pid>"` and an atomic rename, so a crash never leaves a
// half-written file at `path`. Metadata goes in the header's "__metadata__".
void save_safetensors_file(const std::string& path, const TensorMap& tensors,
                           const std::map<std::string, std::string>& metadata = {});

}  // namespace poser
