// libFuzzer target: the input is a model.safetensors.index.json, and the same
// text through the strict JSON parser and the bounded renderer used in error
// messages. Only poser::Error may come out; excerpts stay bounded.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "errors.h"
#include "safetensors_format.h"
#include "strict_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto entries = poser::parse_shard_index(text, "fuzz.index.json");
    if (entries.empty()) __builtin_trap();
    for (const auto& [name, shard] : entries)
      if (shard.empty() || shard.front() == '/') __builtin_trap();
  } catch (const poser::Error&) {
  }
  try {
    const auto value = poser::parse_strict_json(text, "fuzz.json");
    // Cut to max_chars, plus "..." when cut.
    if (poser::json_excerpt(value, 100).size() > 100 + 3) __builtin_trap();
  } catch (const poser::Error&) {
  }
  return 0;
}
