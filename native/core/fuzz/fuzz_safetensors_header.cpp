// libFuzzer target: the input is a whole .safetensors file. The parser must
// either accept it, with tensors that tile the data section, or throw
// poser::Error; anything else (a crash, a sanitizer report, another exception,
// a broken invariant) is a finding.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "errors.h"
#include "safetensors_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    uint8_t prefix[8] = {};
    if (size >= 8) std::memcpy(prefix, data, 8);
    const uint64_t n = poser::parse_safetensors_header_length(prefix, size, "fuzz.safetensors");
    const auto header = poser::parse_safetensors_header(
        std::string_view(reinterpret_cast<const char*>(data) + 8, n), size, "fuzz.safetensors");
    if (header.data_start != 8 + n) __builtin_trap();
    uint64_t pos = 0;
    for (const auto& t : header.tensors) {
      if (t.begin != pos || t.end < t.begin || t.dtype == nullptr) __builtin_trap();
      uint64_t numel = 1;
      for (int64_t d : t.shape) {
        if (d < 0) __builtin_trap();
        numel *= static_cast<uint64_t>(d);
      }
      if (numel * t.dtype->size != t.end - t.begin) __builtin_trap();
      pos = t.end;
    }
    if (header.data_start + pos != size) __builtin_trap();
  } catch (const poser::Error&) {
  }
  return 0;
}
