// Reading and writing the safetensors format
// (8-byte little-endian header length N, N bytes of JSON header, raw data).
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>

namespace poser {

using TensorMap = std::map<std::string, torch::Tensor>;

// How weights are read.
struct ReadOptions {
  // false (default): every tensor lives in memory it owns, read from the file
  // with read(2); once loading returns, the file may be changed, truncated or
  // deleted without effect. true: tensors stored in the requested dtype view a
  // private copy-on-write mapping of the file (no copy, pages shared with the
  // page cache) -- but truncating the file then kills the process with SIGBUS
  // on the next access, and rewriting it in place changes the tensors.
  bool mmap = false;
  // Floating-point tensors are converted to this dtype as they are read, one at
  // a time, so the stored and the converted weights never coexist in full.
  // Undefined keeps each tensor's stored dtype.
  torch::ScalarType float_dtype = torch::ScalarType::Undefined;
};

// Loads every tensor of one .safetensors file as CPU tensors (F32, F16, BF16,
// F64, I64, I32, I16, I8, U8, BOOL). The file must follow the format's rules
// exactly (safetensors_format.h): bounded header length, one JSON object
// padded only with spaces, no repeated keys, string metadata, offsets that tile
// the data section. Throws poser::Error (E_IO, E_FORMAT, E_DTYPE) naming the
// file and, where it applies, the tensor.
TensorMap load_safetensors_file(const std::string& path, const ReadOptions& options = {});

// Loads the weights of a Hugging Face model directory: model.safetensors, or
// the tensors that model.safetensors.index.json ("weight_map") names, each from
// its shard (other tensors in a shard are not read).
TensorMap load_model_weights(const std::string& dir, const ReadOptions& options = {});

// Writes tensors (any device; moved to CPU, made contiguous) to `path` through
// `path + ".tmp-<pid>"` and an atomic rename, so a crash never leaves a
// half-written file at `path`. Metadata goes in the header's "__metadata__".
void save_safetensors_file(const std::string& path, const TensorMap& tensors,
                           const std::map<std::string, std::string>& metadata = {});

}  // namespace poser
