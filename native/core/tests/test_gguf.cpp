// Tests of the GGUF reader: every value and tensor type against gguf-py
// (data/gguf-types.gguf, written by tools/make_gguf_reference.py), and
// malformed files built byte by byte, each of which must end in a typed error.

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "errors.h"
#include "expect_error.h"
#include "temp_dir.h"
#include "gguf.h"

namespace fs = std::filesystem;

namespace {

const std::string kTypesFile = std::string(POSER_TEST_DATA_DIR) + "/gguf-types.gguf";
const std::string kTypesExpected = std::string(POSER_TEST_DATA_DIR) + "/gguf-types-expected.safetensors";

// Little-endian byte builder for hand-made files.
struct Bytes {
  std::string b;
  template <typename T>
  Bytes& put(T v) {
    b.append(reinterpret_cast<const char*>(&v), sizeof v);
    return *this;
  }
  Bytes& u32(uint32_t v) { return put(v); }
  Bytes& u64(uint64_t v) { return put(v); }
  Bytes& str(const std::string& s) {
    u64(s.size());
    b += s;
    return *this;
  }
  Bytes& pad_to(size_t alignment) {
    while (b.size() % alignment) b.push_back('\0');
    return *this;
  }
};

// A valid file: general.architecture = arch, one F32 tensor "x" of 32 values.
struct Minimal {
  uint32_t version = 3;
  std::string arch = "llama";
  std::string tensor = "x";
  uint32_t type = 0;
  uint64_t elements = 32;
  uint64_t offset = 0;
  uint64_t data_bytes = 128;

  std::string build() const {
    Bytes f;
    f.u32(0x46554747).u32(version).u64(1).u64(1);
    f.str("general.architecture").u32(8).str(arch);
    f.str(tensor).u32(1).u64(elements).u32(type).u64(offset);
    f.pad_to(32);
    for (uint64_t i = 0; i < data_bytes / 4; ++i) f.put(static_cast<float>(i));
    return f.b;
  }
};

// File header up to the metadata, with kv_count entries to follow.
Bytes header(uint64_t tensors, uint64_t kvs) {
  Bytes f;
  f.u32(0x46554747).u32(3).u64(tensors).u64(kvs);
  return f;
}

class GgufTest : public TempDirTest {
 protected:
  GgufTest() : TempDirTest("poser-gguf") {}
  std::string write(const std::string& bytes, const std::string& name = "f.gguf") {
    const std::string p = path(name);
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    EXPECT_TRUE(out.good());
    return p;
  }
  // read_gguf(bytes) must throw `code` with every fragment in its message.
  void expect_bad(const std::string& bytes, const std::string& code, const std::vector<std::string>& fragments) {
    const std::string p = write(bytes);
    expect_error([&] { poser::read_gguf(p); }, code, fragments);
  }

};

TEST_F(GgufTest, MetadataOfEveryValueType) {
  const poser::GgufFile f = poser::read_gguf(kTypesFile);
  EXPECT_EQ(f.version, 3u);
  EXPECT_EQ(f.alignment, 32u);
  auto get = [&](const char* key) {
    const poser::GgufValue* v = f.find(key);
    EXPECT_NE(v, nullptr) << key;
    return v ? *v : poser::GgufValue();
  };
  EXPECT_EQ(get("general.architecture").s, "test");
  EXPECT_EQ(get("test.u8").u, 200u);
  EXPECT_EQ(get("test.i8").i, -100);
  EXPECT_EQ(get("test.u16").u, 60000u);
  EXPECT_EQ(get("test.i16").i, -30000);
  EXPECT_EQ(get("test.u32").u, 4000000000u);
  EXPECT_EQ(get("test.i32").i, -2000000000);
  EXPECT_EQ(get("test.f32").f, 0.25);
  EXPECT_EQ(get("test.bool").type, poser::GgufType::Bool);
  EXPECT_EQ(get("test.bool").u, 1u);
  EXPECT_EQ(get("test.string").s, "h\xc3\xa9llo");
  EXPECT_EQ(get("test.u64").u, (uint64_t{1} << 40) + 3);
  EXPECT_EQ(get("test.i64").i, -(int64_t{1} << 40) - 3);
  EXPECT_DOUBLE_EQ(get("test.f64").f, 1.0 / 3.0);
  const auto ints = get("test.array_i32");
  ASSERT_EQ(ints.items.size(), 3u);
  EXPECT_EQ(ints.elem_type, poser::GgufType::Int32);
  EXPECT_EQ(ints.items[1].i, -2);
  const auto strs = get("test.array_str");
  ASSERT_EQ(strs.items.size(), 3u);
  EXPECT_EQ(strs.items[1].s, "bc");
  EXPECT_EQ(strs.items[2].s, "");
  const auto nested = get("test.array_nested");
  ASSERT_EQ(nested.items.size(), 2u);
  EXPECT_EQ(nested.elem_type, poser::GgufType::Array);
  ASSERT_EQ(nested.items[0].items.size(), 2u);
  EXPECT_EQ(nested.items[0].items[1].number(), 2.0);
  EXPECT_EQ(nested.items[1].items[0].number(), 3.0);
}

TEST_F(GgufTest, DequantizesEveryTypeLikeGgufPy) {
  const poser::GgufFile f = poser::read_gguf(kTypesFile);
  const poser::TensorMap expected = poser::load_safetensors_file(kTypesExpected);
  int checked = 0;
  for (const auto& [name, want] : expected) {
    if (name == "t.q5_0") continue;
    SCOPED_TRACE(name);
    torch::Tensor got = poser::read_gguf_tensor(f, name);
    ASSERT_EQ(got.sizes(), want.sizes());
    const double scale = want.abs().max().item<double>();
    EXPECT_LE((got - want).abs().max().item<double>(), 1e-6 * scale);
    ++checked;
  }
  EXPECT_EQ(checked, 9);  // F32 F16 BF16 F64 Q8_0 Q4_0 Q4_1 Q4_K Q6_K
  expect_error([&] { poser::read_gguf_tensor(f, "t.q5_0"); }, "E_UNSUPPORTED", {"t.q5_0", "Q5_0"});
}

TEST_F(GgufTest, AQuantizedTensorDiffersWhenOneByteChanges) {
  // The comparison above can fail: flip one nibble of a Q4_1 block.
  const poser::GgufFile f = poser::read_gguf(kTypesFile);
  for (const auto& t : f.tensors) {
    if (t.name != "t.q4_1") continue;
    std::ifstream in(kTypesFile, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<uint8_t> raw(bytes.begin() + f.data_offset + t.offset, bytes.begin() + f.data_offset + t.offset + t.nbytes);
    const torch::Tensor before = poser::dequantize_gguf_tensor(t, raw.data());
    raw[4] ^= 0x01;  // first nibble byte after d and m
    const torch::Tensor after = poser::dequantize_gguf_tensor(t, raw.data());
    EXPECT_GT((before - after).abs().max().item<double>(), 0);
    return;
  }
  FAIL() << "t.q4_1 missing";
}

TEST_F(GgufTest, VersionTwoReadsLikeThree) {
  Minimal m;
  m.version = 2;
  const poser::GgufFile f = poser::read_gguf(write(m.build()));
  EXPECT_EQ(f.version, 2u);
  ASSERT_EQ(f.tensors.size(), 1u);
  const torch::Tensor x = poser::read_gguf_tensor(f, "x");
  EXPECT_EQ(x.sizes(), torch::IntArrayRef({32}));
  EXPECT_EQ(x[31].item<float>(), 31.0f);
}

TEST_F(GgufTest, EveryTruncationIsAFormatError) {
  const std::string full = Minimal().build();
  for (size_t n = 0; n < full.size(); ++n) {
    SCOPED_TRACE(n);
    const std::string p = write(full.substr(0, n));
    expect_error([&] { poser::read_gguf(p); }, "E_FORMAT", {p});
  }
}

TEST_F(GgufTest, BadMagic) {
  std::string bytes = Minimal().build();
  bytes[0] = 'X';
  expect_bad(bytes, "E_FORMAT", {"not a GGUF file", "XGUF"});
}

TEST_F(GgufTest, BadVersions) {
  for (uint32_t v : {0u, 1u, 4u, 1000u}) {
    Minimal m;
    m.version = v;
    expect_bad(m.build(), "E_UNSUPPORTED", {"version " + std::to_string(v)});
  }
  Minimal big;
  big.version = 3u << 24;  // 3 written big-endian
  expect_bad(big.build(), "E_UNSUPPORTED", {"big-endian"});
}

TEST_F(GgufTest, OffsetsOutOfRange) {
  Minimal m;
  m.offset = 64;  // 128 bytes of data from 64 overrun the 128-byte section
  expect_bad(m.build(), "E_FORMAT", {"tensor 'x'", "[64, 192)", "128 bytes"});
  m.offset = UINT64_MAX - 31;  // aligned, and offset + size overflows
  expect_bad(m.build(), "E_FORMAT", {"tensor 'x'"});
  m.offset = 4;
  expect_bad(m.build(), "E_FORMAT", {"offset 4", "alignment 32"});
  Minimal huge;
  huge.elements = uint64_t{1} << 40;
  expect_bad(huge.build(), "E_FORMAT", {"tensor 'x'", "data section"});
}

TEST_F(GgufTest, UnknownTypes) {
  Bytes value = header(0, 1);
  value.str("k").u32(13).u32(0);
  expect_bad(value.b, "E_FORMAT", {"'k'", "unknown value type 13"});
  Bytes elem = header(0, 1);
  elem.str("k").u32(9).u32(77).u64(0);
  expect_bad(elem.b, "E_FORMAT", {"'k'", "unknown array element type 77"});
  Minimal tensor;
  tensor.type = 99;
  expect_bad(tensor.build(), "E_UNSUPPORTED", {"tensor 'x'", "type id 99"});
}

TEST_F(GgufTest, HugeCountsFailBeforeAllocating) {
  expect_bad(header(uint64_t{1} << 62, 0).b, "E_FORMAT", {"tensor count"});
  expect_bad(header(0, UINT64_MAX).b, "E_FORMAT", {"metadata count"});
  Bytes key = header(0, 1);
  key.u64(UINT64_MAX);
  expect_bad(key.b + std::string(64, 'a'), "E_FORMAT", {"metadata key 0", "string length"});
  Bytes array = header(0, 1);
  array.str("k").u32(9).u32(8).u64(uint64_t{1} << 61);
  expect_bad(array.b + std::string(64, '\0'), "E_FORMAT", {"'k'", "array of 2305843009213693952 string"});
  Bytes u64s = header(0, 1);
  u64s.str("k").u32(9).u32(10).u64(UINT64_MAX);
  expect_bad(u64s.b, "E_FORMAT", {"'k'", "uint64 elements"});
  Bytes value_string = header(0, 1);
  value_string.str("k").u32(8).u64(uint64_t{1} << 50);
  expect_bad(value_string.b, "E_FORMAT", {"'k'", "string length"});
}

TEST_F(GgufTest, NestingIsBounded) {
  Bytes f = header(0, 1);
  f.str("deep");
  f.u32(9);
  for (int d = 0; d < 100; ++d) f.u32(9).u64(1);  // arrays of one array each
  f.u32(4).u64(0);
  expect_bad(f.b, "E_FORMAT", {"'deep'", "nested deeper"});
}

TEST_F(GgufTest, DuplicatesAndBadValues) {
  Bytes dup = header(0, 2);
  dup.str("a").u32(4).u32(1).str("a").u32(4).u32(2);
  expect_bad(dup.b, "E_FORMAT", {"duplicate metadata key 'a'"});
  Bytes empty_key = header(0, 1);
  empty_key.str("").u32(4).u32(1);
  expect_bad(empty_key.b, "E_FORMAT", {"metadata key 0 is empty"});
  Bytes boolean = header(0, 1);
  boolean.str("b").u32(7).put<uint8_t>(2);
  expect_bad(boolean.b, "E_FORMAT", {"'b'", "bool value 2"});
  Bytes align = header(0, 1);
  align.str("general.alignment").u32(4).u32(24);
  expect_bad(align.b, "E_FORMAT", {"general.alignment 24", "power of two"});
  Bytes align_type = header(0, 1);
  align_type.str("general.alignment").u32(10).u64(32);
  expect_bad(align_type.b, "E_FORMAT", {"general.alignment", "uint64"});

  Bytes two = header(2, 0);
  two.str("x").u32(1).u64(8).u32(0).u64(0).str("x").u32(1).u64(8).u32(0).u64(32);
  two.pad_to(32);
  two.b += std::string(64, '\0');
  expect_bad(two.b, "E_FORMAT", {"duplicate tensor name 'x'"});
  Bytes dims = header(1, 0);
  dims.str("x").u32(5);
  expect_bad(dims.b + std::string(64, '\0'), "E_FORMAT", {"tensor 'x'", "5 dimensions"});
  Minimal block;
  block.type = 2;  // Q4_0: rows must be multiples of 32
  block.elements = 48;
  expect_bad(block.build(), "E_FORMAT", {"row length 48", "Q4_0"});
}

TEST_F(GgufTest, UnpermutesQkRowsAsTheConverterPermutedThem) {
  // One head of 4 rows: the converter stores HF rows in the order 0, 2, 1, 3.
  const torch::Tensor hf = torch::arange(8, torch::kFloat32).reshape({4, 2});
  const torch::Tensor gguf = hf.index_select(0, torch::tensor({0, 2, 1, 3}));
  EXPECT_TRUE(torch::equal(poser::unpermute_qk_rows(gguf, 1), hf));
  // Many heads: the converter's permutation, written as it is described
  // (reshape(heads, 2, hd / 2, in), swap axes 1 and 2), is undone.
  const int64_t heads = 3, hd = 8, in = 5;
  const torch::Tensor w = torch::randn({heads * hd, in});
  const torch::Tensor permuted = w.reshape({heads, 2, hd / 2, in}).transpose(1, 2).reshape({heads * hd, in});
  EXPECT_FALSE(torch::equal(permuted, w));
  EXPECT_TRUE(torch::equal(poser::unpermute_qk_rows(permuted, heads), w));
  expect_error([&] { poser::unpermute_qk_rows(torch::zeros({6, 2}), 2); }, "E_SHAPE", {"6 rows", "2 heads"});
}

TEST_F(GgufTest, MapsLlamaCppNamesToHf) {
  EXPECT_EQ(poser::gguf_llama_hf_name("token_embd.weight"), "model.embed_tokens.weight");
  EXPECT_EQ(poser::gguf_llama_hf_name("output.weight"), "lm_head.weight");
  EXPECT_EQ(poser::gguf_llama_hf_name("output_norm.weight"), "model.norm.weight");
  EXPECT_EQ(poser::gguf_llama_hf_name("blk.12.attn_output.weight"), "model.layers.12.self_attn.o_proj.weight");
  EXPECT_EQ(poser::gguf_llama_hf_name("blk.0.ffn_norm.weight"), "model.layers.0.post_attention_layernorm.weight");
  EXPECT_EQ(poser::gguf_llama_hf_name("blk.3.ffn_down.weight"), "model.layers.3.mlp.down_proj.weight");
  EXPECT_EQ(poser::gguf_llama_hf_name("blk.3.attn_q.bias"), "");
  EXPECT_EQ(poser::gguf_llama_hf_name("rope_freqs.weight"), "");
}

TEST_F(GgufTest, RefusesOtherArchitecturesAndStrayTensors) {
  poser::LlamaConfig config;
  config.num_attention_heads = 1;
  config.num_key_value_heads = 1;
  Minimal other;
  other.arch = "qwen2";
  const std::string p = write(other.build());
  expect_error([&] { poser::load_gguf_llama_weights(p, config); }, "E_UNSUPPORTED", {"'qwen2'", "only llama"});
  Minimal stray;
  stray.tensor = "rope_freqs.weight";
  const std::string q = write(stray.build(), "stray.gguf");
  expect_error([&] { poser::load_gguf_llama_weights(q, config); }, "E_UNSUPPORTED", {"rope_freqs.weight"});
  Minimal norm;
  norm.tensor = "output_norm.weight";
  const poser::TensorMap w = poser::load_gguf_llama_weights(write(norm.build(), "norm.gguf"), config);
  ASSERT_EQ(w.count("model.norm.weight"), 1u);
  EXPECT_EQ(w.at("model.norm.weight")[5].item<float>(), 5.0f);
}

TEST_F(GgufTest, RandomlyCorruptedFilesEndInTypedErrorsOnly) {
  // Seeded byte flips and truncations of a real file: each read either
  // succeeds or throws poser::Error; every tensor of a file that parses is then
  // read and dequantized under the same rule.
  std::ifstream in(kTypesFile, std::ios::binary);
  const std::string original((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const poser::GgufFile clean = poser::read_gguf(kTypesFile);
  std::mt19937_64 rng(20261130);
  int parsed = 0, refused = 0;
  for (int round = 0; round < 1500; ++round) {
    std::string bytes = original;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      // Mostly the header region, where the structure is.
      const size_t limit = rng() % 4 ? clean.data_offset : bytes.size();
      bytes[rng() % limit] = static_cast<char>(rng() & 0xff);
    }
    if (rng() % 5 == 0) bytes.resize(rng() % bytes.size());
    const std::string p = write(bytes, "fuzz.gguf");
    try {
      const poser::GgufFile f = poser::read_gguf(p);
      for (const auto& t : f.tensors) {
        try {
          poser::read_gguf_tensor(f, t.name);
        } catch (const poser::Error&) {
        }
      }
      ++parsed;
    } catch (const poser::Error&) {
      ++refused;
    } catch (const std::exception& e) {
      FAIL() << "round " << round << ": untyped exception " << e.what();
    }
  }
  EXPECT_GT(parsed, 0);
  EXPECT_GT(refused, 0);
}

}  // namespace
