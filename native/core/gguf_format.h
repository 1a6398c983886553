// Parsing GGUF files (llama.cpp's model format): header, metadata and tensor
// infos, without libtorch.
//
// Layout (little-endian): "GGUF", uint32 version (2 or 3), uint64 tensor
// count, uint64 metadata count, the metadata (key string, uint32 value type,
// value), the tensor infos (name, uint32 n_dims, uint64 ne[n_dims] innermost
// first, uint32 ggml type, uint64 offset), padding to `general.alignment`
// (default 32), then the data section the offsets point into.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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

// A ggml tensor type: its id, name and block layout (block elements stored
// in block bytes); null for an id this reader does not know.
struct GgmlTypeInfo {
  uint32_t id;
  const char* name;
  uint64_t block;
  uint64_t bytes;
};
const GgmlTypeInfo* ggml_type_info(uint32_t id);

// Name of a ggml tensor type id ("Q4_K", "IQ2_XS", ...; "type N" if unknown).
std::string ggml_type_name(uint32_t type);

// Parses header, metadata and tensor infos, reading only those bytes. Every
// count, length and offset is checked against the file: a malformed file
// throws poser::Error E_FORMAT naming the file, the byte offset and what is
// wrong; E_IO when it cannot be read; E_UNSUPPORTED for a version other than
// 2 or 3 or a big-endian file. Tensor types are not checked here.
GgufFile read_gguf(const std::string& path);
// The same for a whole file already in memory (`name` appears in errors).
GgufFile parse_gguf(const uint8_t* data, size_t size, const std::string& name);

// The raw bytes of one tensor of a parsed file (E_IO if the file changed size).
void read_gguf_bytes(const GgufFile& file, const GgufTensorInfo& tensor, std::vector<uint8_t>& out);

}  // namespace poser
