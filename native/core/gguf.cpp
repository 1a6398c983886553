// Dequantizing GGUF tensors and reading a LLaMA model's weights from a GGUF
// file, under Hugging Face names.

#include "gguf.h"

#include <ATen/Parallel.h>
#include <c10/util/Half.h>

#include <cstring>
#include <map>
#include <set>

#include "errors.h"

namespace poser {

namespace {

std::string str(uint64_t x) { return std::to_string(x); }

enum : uint32_t { kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ8_0 = 8, kQ4_K = 12, kQ6_K = 14, kF64 = 28, kBF16 = 30 };

float half(const uint8_t* p) {
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return static_cast<float>(c10::Half(bits, c10::Half::from_bits()));
}

// Runs dequantize(block, y) over `blocks` blocks of Bytes bytes in `in`, each
// writing its Elems floats to y in `out`, in parallel.
template <int64_t Bytes, int64_t Elems, typename Fn>
void each_block(const uint8_t* in, float* out, int64_t blocks, Fn dequantize) {
  at::parallel_for(0, blocks, 256, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) dequantize(in + b * Bytes, out + b * Elems);
  });
}

// Writes value(nibble) for the 32 nibbles of 16 bytes q: element j is the low
// nibble of byte j, element j + 16 the high nibble.
template <typename Fn>
void unpack_nibbles(const uint8_t* q, float* y, Fn value) {
  for (int j = 0; j < 16; ++j) {
    y[j] = value(q[j] & 0x0F);
    y[j + 16] = value(q[j] >> 4);
  }
}

// Block formats (as ggml defines them): Q8_0 = f16 scale d, 32 int8 q: d*q.
// Q4_0 = d, 16 bytes of nibbles: element j is the low nibble of byte j,
// element j + 16 the high nibble, each (q - 8) * d. Q4_1 = d, f16 minimum m,
// nibbles as Q4_0 without the offset: q * d + m.
void dequant_q8_0(const uint8_t* in, float* out, int64_t blocks) {
  each_block<34, 32>(in, out, blocks, [](const uint8_t* p, float* y) {
    const float d = half(p);
    const int8_t* q = reinterpret_cast<const int8_t*>(p + 2);
    for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(q[j]);
  });
}

void dequant_q4_0(const uint8_t* in, float* out, int64_t blocks) {
  each_block<18, 32>(in, out, blocks, [](const uint8_t* p, float* y) {
    const float d = half(p);
    unpack_nibbles(p + 2, y, [d](int q) { return static_cast<float>(q - 8) * d; });
  });
}

void dequant_q4_1(const uint8_t* in, float* out, int64_t blocks) {
  each_block<20, 32>(in, out, blocks, [](const uint8_t* p, float* y) {
    const float d = half(p), m = half(p + 2);
    unpack_nibbles(p + 4, y, [d, m](int q) { return static_cast<float>(q) * d + m; });
  });
}

// Q4_K: 256 elements in 8 sub-blocks of 32. f16 d, f16 dmin, 12 bytes holding
// eight 6-bit scales and eight 6-bit minimums, 128 bytes of nibbles. Sub-block
// s is d * scale[s] * q - dmin * min[s]; each 32 bytes of nibbles hold two
// sub-blocks (low nibbles first).
void q4_k_scale_min(int s, const uint8_t* packed, uint8_t* scale, uint8_t* min) {
  if (s < 4) {
    *scale = packed[s] & 63;
    *min = packed[s + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((packed[s + 4] & 0x0F) | ((packed[s - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((packed[s + 4] >> 4) | ((packed[s] >> 6) << 4));
  }
}

void dequant_q4_k(const uint8_t* in, float* out, int64_t blocks) {
  each_block<144, 256>(in, out, blocks, [](const uint8_t* p, float* y) {
    const float d = half(p), dmin = half(p + 2);
    const uint8_t* packed = p + 4;
    const uint8_t* q = p + 16;
    for (int pair = 0; pair < 4; ++pair) {
      uint8_t sc0, m0, sc1, m1;
      q4_k_scale_min(2 * pair, packed, &sc0, &m0);
      q4_k_scale_min(2 * pair + 1, packed, &sc1, &m1);
      const float d0 = d * sc0, dm0 = dmin * m0, d1 = d * sc1, dm1 = dmin * m1;
      for (int l = 0; l < 32; ++l) y[l] = d0 * static_cast<float>(q[l] & 0x0F) - dm0;
      for (int l = 0; l < 32; ++l) y[32 + l] = d1 * static_cast<float>(q[l] >> 4) - dm1;
      q += 32;
      y += 64;
    }
  });
}

// Q6_K: 256 elements; 128 bytes of low nibbles (ql), 64 bytes of high 2-bit
// pairs (qh), 16 int8 scales (one per 16 elements), f16 d. Each half of 128
// elements uses 64 bytes of ql and 32 of qh: element l + 32 k (k = 0..3) takes
// a nibble of ql (low for k = 0, 1; high for k = 2, 3; byte l or l + 32) and
// bits 2k..2k+1 of qh[l]; value d * scale * (q - 32).
void dequant_q6_k(const uint8_t* in, float* out, int64_t blocks) {
  each_block<210, 256>(in, out, blocks, [](const uint8_t* p, float* y) {
    const uint8_t* ql = p;
    const uint8_t* qh = p + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(p + 192);
    const float d = half(p + 208);
    for (int part = 0; part < 2; ++part) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q0 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q1 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * static_cast<float>(q0);
        y[l + 32] = d * sc[is + 2] * static_cast<float>(q1);
        y[l + 64] = d * sc[is + 4] * static_cast<float>(q2);
        y[l + 96] = d * sc[is + 6] * static_cast<float>(q3);
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  });
}

const std::set<std::string>& llama_keys_refused() {
  // Metadata that changes the computation in ways this model does not implement.
  static const std::set<std::string> keys = {"llama.expert_count", "llama.attention.clamp_kqv",
                                             "llama.attention.max_alibi_bias"};
  return keys;
}

}  // namespace

torch::Tensor dequantize_gguf_tensor(const GgufTensorInfo& info, const uint8_t* data) {
  const GgmlTypeInfo* type = ggml_type_info(info.type);
  const std::string where = "tensor '" + info.name + "'";
  if (type == nullptr) throw Error("E_UNSUPPORTED", where + ": unknown ggml type id " + str(info.type));
  int64_t numel = 1;
  for (int64_t d : info.shape) numel *= d;
  const int64_t blocks = numel / static_cast<int64_t>(type->block);
  if (static_cast<uint64_t>(blocks) * type->bytes != info.nbytes)
    throw Error("E_FORMAT", where + ": " + str(info.nbytes) + " bytes do not hold its shape in " + type->name);
  auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  auto raw = [&](torch::ScalarType st) {
    return torch::from_blob(const_cast<uint8_t*>(data), info.shape, torch::TensorOptions().dtype(st))
        .to(torch::kFloat32, /*non_blocking=*/false, /*copy=*/true);
  };
  switch (info.type) {
    case kF32: return raw(torch::kFloat32);
    case kF16: return raw(torch::kFloat16);
    case kBF16: return raw(torch::kBFloat16);
    case kF64: return raw(torch::kFloat64);
    default: break;
  }
  torch::Tensor out = torch::empty(info.shape, opts);
  float* y = out.data_ptr<float>();
  switch (info.type) {
    case kQ8_0: dequant_q8_0(data, y, blocks); break;
    case kQ4_0: dequant_q4_0(data, y, blocks); break;
    case kQ4_1: dequant_q4_1(data, y, blocks); break;
    case kQ4_K: dequant_q4_k(data, y, blocks); break;
    case kQ6_K: dequant_q6_k(data, y, blocks); break;
    default:
      throw Error("E_UNSUPPORTED", where + ": ggml type " + type->name +
                                       " is not supported (supported: F32, F16, BF16, F64, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K)");
  }
  return out;
}

torch::Tensor read_gguf_tensor(const GgufFile& file, const std::string& name) {
  for (const auto& t : file.tensors) {
    if (t.name != name) continue;
    std::vector<uint8_t> bytes;
    read_gguf_bytes(file, t, bytes);
    return dequantize_gguf_tensor(t, bytes.data());
  }
  throw Error("E_ARG", file.path + ": no tensor named '" + name + "'");
}

std::string gguf_llama_hf_name(const std::string& name) {
  static const std::map<std::string, std::string> top = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"},
  };
  static const std::map<std::string, std::string> block = {
      {"attn_norm.weight", "input_layernorm.weight"},     {"attn_q.weight", "self_attn.q_proj.weight"},
      {"attn_k.weight", "self_attn.k_proj.weight"},       {"attn_v.weight", "self_attn.v_proj.weight"},
      {"attn_output.weight", "self_attn.o_proj.weight"},  {"ffn_norm.weight", "post_attention_layernorm.weight"},
      {"ffn_gate.weight", "mlp.gate_proj.weight"},        {"ffn_up.weight", "mlp.up_proj.weight"},
      {"ffn_down.weight", "mlp.down_proj.weight"},
  };
  auto it = top.find(name);
  if (it != top.end()) return it->second;
  // "blk.<1 to 6 digits>.<suffix>"
  const std::string prefix = "blk.";
  if (name.compare(0, prefix.size(), prefix) != 0) return "";
  const size_t digits_end = name.find_first_not_of("0123456789", prefix.size());
  const size_t digits = digits_end == std::string::npos ? 0 : digits_end - prefix.size();
  if (digits < 1 || digits > 6 || name[digits_end] != '.' || digits_end + 1 >= name.size()) return "";
  auto b = block.find(name.substr(digits_end + 1));
  if (b == block.end()) return "";
  return "model.layers." + std::to_string(std::stoll(name.substr(prefix.size(), digits))) + "." + b->second;
}

torch::Tensor unpermute_qk_rows(const torch::Tensor& weight, int64_t heads) {
  const int64_t rows = weight.size(0);
  if (heads <= 0 || rows % (2 * heads) != 0)
    throw Error("E_SHAPE", "cannot restore Q/K row order: " + str(rows) + " rows do not split into " + str(heads) +
                               " heads of even size");
  const int64_t half = rows / heads / 2;
  // GGUF rows within a head are (j, i) with i the fast index; HF's are (i, j).
  return weight.reshape({heads, half, 2, -1}).transpose(1, 2).reshape(weight.sizes()).contiguous();
}

TensorMap load_gguf_llama_weights(const std::string& path, const LlamaConfig& config) {
  GgufFile file = read_gguf(path);
  const GgufValue* arch = file.find("general.architecture");
  if (arch == nullptr || arch->type != GgufType::String)
    throw Error("E_FORMAT", path + ": no general.architecture string in the metadata");
  if (arch->s != "llama")
    throw Error("E_UNSUPPORTED", path + ": architecture '" + arch->s + "' is not supported (only llama)");
  for (const auto& key : llama_keys_refused())
    if (file.find(key)) throw Error("E_UNSUPPORTED", path + ": metadata " + key + " is not supported");

  TensorMap out;
  std::vector<uint8_t> bytes;
  for (const auto& t : file.tensors) {
    const std::string hf = gguf_llama_hf_name(t.name);
    if (hf.empty()) {
      if (t.name == "rope_freqs.weight")
        throw Error("E_UNSUPPORTED", path + ": tensor rope_freqs.weight (per-frequency rope factors, as llama.cpp "
                                            "stores llama3 rope scaling) is not supported");
      throw Error("E_UNSUPPORTED", path + ": tensor '" + t.name + "' has no place in a LLaMA model");
    }
    read_gguf_bytes(file, t, bytes);
    torch::Tensor w;
    try {
      w = dequantize_gguf_tensor(t, bytes.data());
    } catch (const Error& e) {
      throw Error(e.code(), path + ": " + e.what());
    }
    if (t.name.find(".attn_q.") != std::string::npos) w = unpermute_qk_rows(w, config.num_attention_heads);
    if (t.name.find(".attn_k.") != std::string::npos) w = unpermute_qk_rows(w, config.num_key_value_heads);
    out.emplace(hf, std::move(w));
  }
  return out;
}

}  // namespace poser
