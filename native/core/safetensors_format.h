// The safetensors format's rules, checked on bytes without libtorch: the
// 8-byte header length, the JSON header, and a sharded checkpoint's
// model.safetensors.index.json. The loader (safetensors.cpp) and the fuzz
// target (fuzz/) both use these.
//
// Rules, as the format's specification states them and the reference
// implementation (huggingface/safetensors) enforces them. On whitespace we
// follow the specification ("MUST begin with {", "MAY be trailing padded with
// whitespace (0x20)"); the reference (0.8) also lets tabs, newlines and a
// leading space through its JSON parser.
//   - the first 8 bytes are the header length N, little-endian; N <= 100,000,000
//     and 8 + N <= the file size;
//   - the N header bytes are one UTF-8 JSON object starting with '{', followed
//     only by spaces (0x20) as padding; no key repeats in any object;
//   - "__metadata__", if present, maps strings to strings;
//   - every other key names a tensor: {"dtype": known dtype, "shape": [non-negative
//     integers], "data_offsets": [begin, end]} with end - begin = numel * dtype size;
//   - sorted by offset, the tensors tile the data section (the bytes after the
//     header) exactly: the first begins at 0, each begins where the previous
//     ended, the last ends at the end of the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace poser {

constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

struct SafetensorsDtype {
  const char* name;  // as in the header: "F32", "BF16", ...
  size_t size;       // bytes per element
};

// The dtypes the loader can turn into tensors (F64, F32, F16, BF16, I64, I32,
// I16, I8, U8, BOOL); nullptr for any other name.
const SafetensorsDtype* find_safetensors_dtype(std::string_view name);

struct SafetensorsEntry {
  std::string name;
  const SafetensorsDtype* dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // within the data section
};

struct SafetensorsHeader {
  uint64_t data_start = 0;                     // 8 + N: where the data section begins
  std::vector<SafetensorsEntry> tensors;       // sorted by offset
  std::map<std::string, std::string> metadata; // "__metadata__"
};

// Reads N from the first 8 bytes of a file of `file_size` bytes and checks it
// against the limit and the size. Throws poser::Error E_FORMAT naming `where`.
uint64_t parse_safetensors_header_length(const uint8_t prefix[8], uint64_t file_size,
                                         const std::string& where);

// Validates the N header bytes of a file of `file_size` bytes (N = header.size())
// and returns its entries. Throws poser::Error: E_FORMAT for any broken rule,
// E_DTYPE for a dtype outside the list above; messages start with `where`
// and name the tensor.
SafetensorsHeader parse_safetensors_header(std::string_view header, uint64_t file_size,
                                           const std::string& where);

// Parses model.safetensors.index.json: {"weight_map": {tensor: shard file}, ...}.
// Returns (tensor, shard) pairs in name order. Shard names must be relative
// paths inside the directory (no "..", not absolute). Throws E_FORMAT.
std::vector<std::pair<std::string, std::string>> parse_shard_index(std::string_view text,
                                                                   const std::string& where);

}  // namespace poser
