// The safetensors rules on bytes (see safetensors_format.h).

#include "safetensors_format.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <tuple>

#include "errors.h"
#include "strict_json.h"

namespace poser {

namespace {

using json = nlohmann::json;

const SafetensorsDtype kDtypes[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8},
    {"I32", 4}, {"I16", 2}, {"I8", 1},  {"U8", 1},   {"BOOL", 1},
};

// A non-negative JSON integer that fits in int64_t.
bool get_index(const json& v, uint64_t* out) {
  if (!v.is_number_unsigned()) return false;
  uint64_t x = v.get<uint64_t>();
  if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  *out = x;
  return true;
}

// A name from the file, cut for a message.
std::string shown(const std::string& name) {
  constexpr size_t kMax = 200;
  return name.size() <= kMax ? name : name.substr(0, kMax) + "...";
}

std::string span(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + "," + std::to_string(end) + "]";
}

std::string hex_byte(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", c);
  return buf;
}

SafetensorsEntry parse_entry(const std::string& name, const json& entry, uint64_t data_len,
                             const std::string& where) {
  if (!entry.is_object())
    throw Error("E_FORMAT", where + ": header entry is not an object: " + json_excerpt(entry));

  auto dt = entry.find("dtype");
  if (dt == entry.end() || !dt->is_string())
    throw Error("E_FORMAT", where + ": missing or non-string \"dtype\"" +
                                (dt == entry.end() ? "" : ": " + json_excerpt(*dt)));
  const std::string& dtype_name = dt->get_ref<const std::string&>();
  SafetensorsEntry out;
  out.name = name;
  out.dtype = find_safetensors_dtype(dtype_name);
  if (out.dtype == nullptr)
    throw Error("E_DTYPE", where + ": unsupported dtype " + quoted_excerpt(dtype_name, 40) +
                               " (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");

  auto sh = entry.find("shape");
  if (sh == entry.end() || !sh->is_array())
    throw Error("E_FORMAT", where + ": missing or non-array \"shape\"" +
                                (sh == entry.end() ? "" : ": " + json_excerpt(*sh)));
  uint64_t numel = 1;
  bool overflow = false;
  out.shape.reserve(sh->size());
  for (const auto& d : *sh) {
    uint64_t dim = 0;
    if (!get_index(d, &dim))
      throw Error("E_FORMAT", where + ": shape " + json_excerpt(*sh) +
                                  " must hold non-negative integers (found " + json_excerpt(d, 40) +
                                  ")");
    out.shape.push_back(static_cast<int64_t>(dim));
    if (__builtin_mul_overflow(numel, dim, &numel)) overflow = true;
  }
  uint64_t expected = 0;
  if (overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(out.dtype->size), &expected))
    throw Error("E_FORMAT", where + ": shape " + json_excerpt(*sh) + " is too large");

  auto off = entry.find("data_offsets");
  if (off == entry.end() || !off->is_array() || off->size() != 2 ||
      !get_index((*off)[0], &out.begin) || !get_index((*off)[1], &out.end))
    throw Error("E_FORMAT", where + ": \"data_offsets\" must be [begin, end] of non-negative integers" +
                                (off == entry.end() ? "" : " (found " + json_excerpt(*off) + ")"));
  if (out.begin > out.end || out.end > data_len)
    throw Error("E_FORMAT", where + ": data offsets " + span(out.begin, out.end) +
                                " out of range (data section is " + std::to_string(data_len) +
                                " bytes)");
  if (out.end - out.begin != expected)
    throw Error("E_FORMAT", where + ": size mismatch: dtype " + dtype_name + " and shape " +
                                json_excerpt(*sh) + " need " + std::to_string(expected) +
                                " bytes but data offsets " + span(out.begin, out.end) + " span " +
                                std::to_string(out.end - out.begin) + " bytes");
  return out;
}

}  // namespace

const SafetensorsDtype* find_safetensors_dtype(std::string_view name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

uint64_t parse_safetensors_header_length(const uint8_t prefix[8], uint64_t file_size,
                                         const std::string& where) {
  if (file_size == 0) throw Error("E_FORMAT", where + ": file is empty (truncated safetensors file)");
  if (file_size < 8)
    throw Error("E_FORMAT", where + ": truncated safetensors file (" + std::to_string(file_size) +
                                " bytes, shorter than the 8-byte header length)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | prefix[i];
  if (n == 0) throw Error("E_FORMAT", where + ": header length is 0");
  if (n > kMaxSafetensorsHeaderBytes)
    throw Error("E_FORMAT", where + ": header length " + std::to_string(n) +
                                " exceeds the format's limit of " +
                                std::to_string(kMaxSafetensorsHeaderBytes) + " bytes" +
                                (n > file_size - 8 ? " and is larger than the file (size " +
                                                         std::to_string(file_size) + ")"
                                                   : ""));
  if (n > file_size - 8)
    throw Error("E_FORMAT", where + ": header length " + std::to_string(n) +
                                " larger than the file (size " + std::to_string(file_size) + ")");
  return n;
}

SafetensorsHeader parse_safetensors_header(std::string_view header, uint64_t file_size,
                                           const std::string& where) {
  SafetensorsHeader out;
  out.data_start = 8 + static_cast<uint64_t>(header.size());
  if (header.size() > kMaxSafetensorsHeaderBytes || out.data_start > file_size)
    throw Error("E_FORMAT", where + ": header length " + std::to_string(header.size()) +
                                " larger than the file (size " + std::to_string(file_size) + ")");
  const uint64_t data_len = file_size - out.data_start;

  if (header.empty() || header.front() != '{')
    throw Error("E_FORMAT", where + ": header does not start with '{' (first byte " +
                                (header.empty() ? std::string("none") : hex_byte(header.front())) +
                                "); is the header length right?");
  size_t body_end = header.size();
  while (body_end > 0 && header[body_end - 1] == ' ') --body_end;
  const unsigned char last = static_cast<unsigned char>(header[body_end - 1]);
  if (last == '\0' || last == '\n' || last == '\r' || last == '\t')
    throw Error("E_FORMAT", where + ": header padded with byte " + hex_byte(last) +
                                " at header offset " + std::to_string(body_end - 1) +
                                " (only spaces, 0x20, may pad the header)");

  const json root = parse_strict_json(header.substr(0, body_end), where + ": header");
  if (!root.is_object()) throw Error("E_FORMAT", where + ": JSON header is not an object");

  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      const json& meta = it.value();
      if (!meta.is_object())
        throw Error("E_FORMAT", where + ": \"__metadata__\" must be an object of strings, not " +
                                    json_excerpt(meta));
      for (auto m = meta.begin(); m != meta.end(); ++m) {
        if (!m.value().is_string())
          throw Error("E_FORMAT", where + ": \"__metadata__\" must map strings to strings, but " +
                                      quoted_excerpt(m.key(), 120) + " is " +
                                      json_excerpt(m.value()));
        out.metadata.emplace(m.key(), m.value().get<std::string>());
      }
      continue;
    }
    out.tensors.push_back(parse_entry(name, it.value(), data_len, where + ": tensor " + shown(name)));
  }

  // Tiling: sorted by (begin, end), each tensor starts where the previous ended.
  std::sort(out.tensors.begin(), out.tensors.end(),
            [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
              return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
            });
  uint64_t pos = 0;
  const SafetensorsEntry* prev = nullptr;
  for (const auto& t : out.tensors) {
    const std::string who = where + ": tensor " + shown(t.name) + " at data offsets " + span(t.begin, t.end);
    if (t.begin < pos)
      throw Error("E_FORMAT", who + " overlaps tensor " + shown(prev->name) + " at " +
                                  span(prev->begin, prev->end) + " (tensors may not share bytes)");
    if (t.begin > pos)
      throw Error("E_FORMAT", who + " leaves a gap: bytes " + span(pos, t.begin) +
                                  " of the data section belong to no tensor" +
                                  (prev ? " (the previous tensor, " + shown(prev->name) + ", ends at " +
                                              std::to_string(pos) + ")"
                                        : " (the first tensor must begin at 0)"));
    pos = t.end;
    prev = &t;
  }
  if (pos != data_len)
    throw Error("E_FORMAT", where + ": " + std::to_string(data_len - pos) +
                                (data_len - pos == 1 ? " byte" : " bytes") +
                                " left over after the last tensor (the tensors end at data offset " +
                                std::to_string(pos) + " but the data section is " +
                                std::to_string(data_len) + " bytes; is the header length right?)");
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_shard_index(std::string_view text,
                                                                   const std::string& where) {
  const json index = parse_strict_json(text, where);
  if (!index.is_object()) throw Error("E_FORMAT", where + ": not a JSON object: " + json_excerpt(index));
  auto wm = index.find("weight_map");
  if (wm == index.end() || !wm->is_object())
    throw Error("E_FORMAT", where + ": missing or non-object \"weight_map\"" +
                                (wm == index.end() ? "" : ": " + json_excerpt(*wm)));
  if (wm->empty()) throw Error("E_FORMAT", where + ": weight_map is empty");
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(wm->size());
  for (auto it = wm->begin(); it != wm->end(); ++it) {
    const std::string what = where + ": weight_map entry for " + shown(it.key());
    if (!it.value().is_string())
      throw Error("E_FORMAT", what + " is not a string: " + json_excerpt(it.value()));
    const std::string& shard = it.value().get_ref<const std::string&>();
    bool ok = !shard.empty() && shard.front() != '/' && shard.find('\0') == std::string::npos;
    for (size_t start = 0; ok && start <= shard.size();) {
      size_t slash = shard.find('/', start);
      if (slash == std::string::npos) slash = shard.size();
      const std::string_view part = std::string_view(shard).substr(start, slash - start);
      if (part == ".." || part == "." || part.empty()) ok = false;
      start = slash + 1;
    }
    if (!ok)
      throw Error("E_FORMAT", what + " names an invalid shard file " + quoted_excerpt(shard, 120) +
                                  " (a file name inside the model directory is expected)");
    out.emplace_back(it.key(), shard);
  }
  return out;
}

}  // namespace poser
