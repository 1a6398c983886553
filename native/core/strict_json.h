// JSON from untrusted files: parsed without recursion, with limits, and shown
// in error messages without recursion and at bounded length. Needs no libtorch.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace poser {

// Deeper than anything a safetensors header or shard index needs (3 levels),
// far below what would strain a recursive walk of the DOM.
constexpr size_t kMaxJsonDepth = 64;

// Parses `text` as one JSON value. A first pass over the tokens (iterative)
// refuses nesting deeper than `max_depth` and objects that repeat a key, so no
// DOM is built for such input; then the DOM is built. Throws poser::Error
// E_FORMAT starting with `where`.
nlohmann::json parse_strict_json(std::string_view text, const std::string& where,
                                 size_t max_depth = kMaxJsonDepth);

// `value` as compact JSON cut to about `max_chars` characters ("..." marks a
// cut), rendered iteratively; invalid UTF-8 in strings is replaced.
std::string json_excerpt(const nlohmann::json& value, size_t max_chars = 200);

// `text` quoted for a message, cut to `max_chars`, bytes outside printable
// ASCII escaped: for names and other strings that came from a file.
std::string quoted_excerpt(std::string_view text, size_t max_chars = 200);

}  // namespace poser
