// libFuzzer target: the input is a whole GGUF file. The parser must either
// accept it, with every tensor of a known type inside the data section and
// sized by its shape, or throw poser::Error; anything else (a crash, a
// sanitizer report, another exception, a broken invariant) is a finding.
//
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -Inative/core \
//     native/core/fuzz/fuzz_gguf.cpp native/core/gguf_format.cpp -o build-fuzz/fuzz_gguf
//   build-fuzz/fuzz_gguf -max_total_time=25 build-fuzz/corpus-gguf native/core/fuzz/corpus/gguf

#include <cstddef>
#include <cstdint>

#include "errors.h"
#include "gguf_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const poser::GgufFile f = poser::parse_gguf(data, size, "fuzz.gguf");
    if (f.version != 2 && f.version != 3) __builtin_trap();
    if (f.alignment == 0 || f.data_offset % f.alignment != 0) __builtin_trap();
    if (f.tensors.empty()) return 0;
    if (f.data_offset > size) __builtin_trap();
    const uint64_t data_len = size - f.data_offset;
    for (const auto& t : f.tensors) {
      const poser::GgmlTypeInfo* type = poser::ggml_type_info(t.type);
      if (type == nullptr || t.shape.empty() || t.shape.size() > 4) __builtin_trap();
      if (t.offset > data_len || t.nbytes > data_len - t.offset) __builtin_trap();
      uint64_t numel = 1;
      for (int64_t d : t.shape) {
        if (d < 0) __builtin_trap();
        numel *= static_cast<uint64_t>(d);
      }
      if (numel / type->block * type->bytes != t.nbytes) __builtin_trap();
    }
  } catch (const poser::Error&) {
  }
  return 0;
}
