// Tests of the safetensors reader and writer.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "errors.h"
#include "expect_error.h"
#include "temp_dir.h"
#include "safetensors.h"
#include "safetensors_format.h"
#include "strict_json.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class SafetensorsTest : public TempDirTest {
 protected:
  SafetensorsTest() : TempDirTest("poser-st") {}
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good());
}

std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}

// A raw safetensors file from a header text and a data section.
void write_raw(const std::string& path, const std::string& header, const std::string& data) {
  write_bytes(path, le64(header.size()) + header + data);
}

// Same dtype, shape and bytes.
void expect_bit_equal(const torch::Tensor& a, const torch::Tensor& b, const std::string& what) {
  ASSERT_EQ(a.scalar_type(), b.scalar_type()) << what;
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  auto ac = a.contiguous();
  auto bc = b.contiguous();
  const size_t n = ac.numel() * ac.element_size();
  if (n == 0) return;
  EXPECT_EQ(std::memcmp(ac.data_ptr(), bc.data_ptr(), n), 0) << what;
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}

json header_of(const std::string& path) {
  std::string bytes = read_bytes(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  return json::parse(bytes.substr(8, n));
}

}  // namespace

TEST_F(SafetensorsTest, RoundTripAllDtypesAndMetadata) {
  torch::manual_seed(0);
  // f16 and bf16 with values that must survive bit-exactly: infinities, NaN,
  // subnormals, negative zero.
  auto f16 = torch::tensor({0.0f, -0.0f, 1.0f, 65504.0f, 6.0e-8f, INFINITY, -INFINITY, NAN},
                           torch::kFloat32)
                 .to(torch::kFloat16);
  auto bf16 = torch::randn({3, 5}).to(torch::kBFloat16);
  bf16.index_put_({0, 0}, std::numeric_limits<float>::quiet_NaN());
  bf16.index_put_({0, 1}, -0.0f);
  bf16.index_put_({0, 2}, 1e-40f);  // subnormal in bf16

  poser::TensorMap in = {
      {"layer.weight", torch::randn({4, 3})},
      {"f16", f16},
      {"bf16", bf16},
      {"ids", torch::tensor({int64_t{-1}, int64_t{0}, int64_t{1} << 50}, torch::kInt64)},
      {"empty", torch::zeros({0, 7}, torch::kFloat32)},
      {"empty_bf16", torch::zeros({2, 0}, torch::kBFloat16)},
      {"scalar", torch::tensor(3.5, torch::kFloat64)},
      {"i32", torch::arange(6, torch::kInt32).reshape({2, 3})},
      {"i16", torch::tensor({-300, 300}, torch::kInt16)},
      {"i8", torch::tensor({-128, 127}, torch::kInt8)},
      {"u8", torch::tensor({0, 255}, torch::kUInt8)},
      {"mask", torch::tensor({true, false, true})},
  };
  std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "round \"trip\""}};
  const std::string file = path("model.safetensors");
  poser::save_safetensors_file(file, in, meta);

  auto out = poser::load_safetensors_file(file);
  ASSERT_EQ(out.size(), in.size());
  for (const auto& kv : in) {
    ASSERT_TRUE(out.count(kv.first)) << kv.first;
    const auto& t = out.at(kv.first);
    EXPECT_EQ(t.device().type(), torch::kCPU);
    expect_bit_equal(t, kv.second, kv.first);
  }

  // Header: padded to a multiple of 8, metadata as strings, offsets
  // contiguous in name order.
  const std::string bytes = read_bytes(file);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<uint8_t>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  json h = header_of(file);
  EXPECT_EQ(h["__metadata__"], json(meta));
  uint64_t expect_begin = 0;
  for (const auto& kv : in) {
    auto offs = h.at(kv.first).at("data_offsets");
    EXPECT_EQ(offs[0].get<uint64_t>(), expect_begin) << kv.first;
    expect_begin = offs[1].get<uint64_t>();
  }
  EXPECT_EQ(8 + n + expect_begin, bytes.size());
  EXPECT_EQ(h.at("bf16").at("dtype"), "BF16");
  EXPECT_EQ(h.at("f16").at("dtype"), "F16");
  EXPECT_EQ(h.at("scalar").at("shape"), json::array());
}

TEST_F(SafetensorsTest, NoMetadataMeansNoMetadataEntry) {
  const std::string file = path("a.safetensors");
  poser::save_safetensors_file(file, {{"x", torch::ones({2})}});
  EXPECT_FALSE(header_of(file).contains("__metadata__"));
  EXPECT_TRUE(torch::equal(poser::load_safetensors_file(file).at("x"), torch::ones({2})));
}

TEST_F(SafetensorsTest, NonContiguousInputIsSavedInLogicalOrder) {
  auto base = torch::arange(12, torch::kFloat32).reshape({3, 4});
  auto t = base.t();  // 4x3, not contiguous
  ASSERT_FALSE(t.is_contiguous());
  const std::string file = path("t.safetensors");
  poser::save_safetensors_file(file, {{"t", t}});
  EXPECT_TRUE(torch::equal(poser::load_safetensors_file(file).at("t"), t));
}

TEST_F(SafetensorsTest, LoadsPythonWrittenFile) {
  auto m = poser::load_safetensors_file(POSER_TEST_DATA_DIR "/python_fixture.safetensors");
  ASSERT_EQ(m.size(), 8u);
  EXPECT_TRUE(torch::equal(m.at("f32"), torch::tensor({{1.5f, -2.25f, 3.0f}, {0.0f, 1e-3f, -7.5f}})));
  EXPECT_TRUE(torch::equal(m.at("f16").view(torch::kInt16),
                           torch::tensor({14336, -17408, 31743, 1024}, torch::kInt16)));
  EXPECT_EQ(m.at("f16").scalar_type(), torch::kFloat16);
  EXPECT_TRUE(torch::equal(m.at("bf16").view(torch::kInt16),
                           torch::tensor({16256, -16311, 17280}, torch::kInt16)));
  EXPECT_EQ(m.at("bf16").scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(m.at("i64"), torch::tensor({int64_t{-1}, int64_t{0}, int64_t{1} << 40})));
  EXPECT_TRUE(torch::equal(m.at("u8"), torch::tensor({0, 255, 7}, torch::kUInt8)));
  EXPECT_TRUE(torch::equal(m.at("flag"), torch::tensor({true, false, true})));
  EXPECT_EQ(m.at("empty").sizes(), torch::IntArrayRef({0, 4}));
  EXPECT_EQ(m.at("empty").scalar_type(), torch::kFloat32);
  EXPECT_EQ(m.at("scalar").dim(), 0);
  EXPECT_EQ(m.at("scalar").item<double>(), 42.0);
}

TEST_F(SafetensorsTest, InPlaceWritesDoNotTouchTheFile) {
  const std::string file = path("w.safetensors");
  poser::save_safetensors_file(file, {{"a", torch::arange(16, torch::kFloat32)},
                                      {"b", torch::ones({4}, torch::kBFloat16)}});
  const std::string before = read_bytes(file);
  for (bool mmap : {false, true}) {
    poser::ReadOptions options;
    options.mmap = mmap;
    auto m = poser::load_safetensors_file(file, options);
    m.at("a").mul_(-3).add_(1);
    m.at("b").fill_(7);
    EXPECT_EQ(m.at("a")[2].item<float>(), -5.0f);
    EXPECT_EQ(m.at("b")[0].item<float>(), 7.0f);
    // The change stays in memory (owned, or a private mapping), not in the file.
    EXPECT_EQ(read_bytes(file), before);
  }
  EXPECT_EQ(read_bytes(file), before);
  EXPECT_TRUE(torch::equal(poser::load_safetensors_file(file).at("a"),
                           torch::arange(16, torch::kFloat32)));
}

TEST_F(SafetensorsTest, TensorOutlivesItsMap) {
  const std::string file = path("k.safetensors");
  poser::save_safetensors_file(file, {{"a", torch::arange(5, torch::kInt64)},
                                      {"b", torch::zeros({3})}});
  torch::Tensor kept;
  {
    auto m = poser::load_safetensors_file(file);
    kept = m.at("a");
  }
  EXPECT_TRUE(torch::equal(kept, torch::arange(5, torch::kInt64)));
  kept.add_(1);
  EXPECT_EQ(kept.sum().item<int64_t>(), 15);
}

TEST_F(SafetensorsTest, SaveOverwritesAndLeavesNoTempFile) {
  const std::string file = path("o.safetensors");
  poser::save_safetensors_file(file, {{"x", torch::zeros({100})}});
  poser::save_safetensors_file(file, {{"y", torch::ones({2})}});
  auto m = poser::load_safetensors_file(file);
  EXPECT_EQ(m.size(), 1u);
  EXPECT_TRUE(torch::equal(m.at("y"), torch::ones({2})));
  EXPECT_EQ(files_in(dir_), std::vector<std::string>{"o.safetensors"});
}

// --- load errors -------------------------------------------------------------

TEST_F(SafetensorsTest, MissingFile) {
  const std::string file = path("nope.safetensors");
  expect_error([&] { poser::load_safetensors_file(file); }, "E_IO", {file});
}

TEST_F(SafetensorsTest, EmptyFile) {
  const std::string file = path("empty.safetensors");
  write_bytes(file, "");
  expect_error([&] { poser::load_safetensors_file(file); }, "E_FORMAT", {file, "empty"});
}

TEST_F(SafetensorsTest, TruncatedFile) {
  const std::string file = path("trunc.safetensors");
  write_bytes(file, std::string("\x10\x00\x00", 3) + "ab");
  expect_error([&] { poser::load_safetensors_file(file); }, "E_FORMAT", {file, "truncated"});
}

TEST_F(SafetensorsTest, HeaderLengthLargerThanFile) {
  const std::string file = path("big.safetensors");
  write_bytes(file, le64(1000) + "{}");
  expect_error([&] { poser::load_safetensors_file(file); }, "E_FORMAT",
               {file, "header length 1000 larger than the file (size 10)"});
  // A length near 2^64 must not overflow the check.
  write_bytes(file, le64(~uint64_t{0}) + "{}");
  expect_error([&] { poser::load_safetensors_file(file); }, "E_FORMAT",
               {file, "larger than the file"});
}

TEST_F(SafetensorsTest, ZeroHeaderLength) {
  const std::string file = path("zero.safetensors");
  write_bytes(file, le64(0) + "abcd");
  expect_error([&] { poser::load_safetensors_file(file); }, "E_FORMAT", {file, "header length"});
}

TEST_F(SafetensorsTest, MalformedJson) {
  const std::string file = path("bad.safetensors");
  write_raw(file, R"({"a": {"dtype": "F32", )", "");
  expect_error([&] { poser::load_safetensors_file(file); }, "E_FORMAT", {file, "malformed JSON"});
  write_raw(file, "[1, 2, 3]", "");
  expect_error([&] { poser::load_safetensors_file(file); }, "E_FORMAT",
               {file, "does not start with '{'"});
}

TEST_F(SafetensorsTest, OffsetsOutOfRange) {
  const std::string file = path("range.safetensors");
  write_raw(file, R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})",
            std::string(16, '\0'));
  expect_error([&] { poser::load_safetensors_file(file); }, "E_FORMAT",
               {file, "tensor w", "data offsets [8,24] out of range (data section is 16 bytes)"});
  write_raw(file, R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})",
            std::string(16, '\0'));
  expect_error([&] { poser::load_safetensors_file(file); }, "E_FORMAT",
               {"tensor w", "data offsets [8,4] out of range"});
}

TEST_F(SafetensorsTest, SizeMismatch) {
  const std::string file = path("size.safetensors");
  write_raw(file, R"({"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 16]}})",
            std::string(16, '\0'));
  expect_error([&] { poser::load_safetensors_file(file); }, "E_FORMAT",
               {file, "tensor w", "need 12 bytes", "span 16 bytes"});
}

TEST_F(SafetensorsTest, BadShapeAndOffsetsFields) {
  const std::string file = path("shape.safetensors");
  write_raw(file, R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})",
            std::string(4, '\0'));
  expect_error([&] { poser::load_safetensors_file(file); }, "E_FORMAT", {"tensor w", "shape"});
  write_raw(file, R"({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})",
            std::string(4, '\0'));
  expect_error([&] { poser::load_safetensors_file(file); }, "E_FORMAT", {"tensor w", "shape"});
  write_raw(file, R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})",
            std::string(4, '\0'));
  expect_error([&] { poser::load_safetensors_file(file); }, "E_FORMAT",
               {"tensor w", "data_offsets"});
  write_raw(file, R"({"w": {"shape": [1], "data_offsets": [0, 4]}})", std::string(4, '\0'));
  expect_error([&] { poser::load_safetensors_file(file); }, "E_FORMAT", {"tensor w", "dtype"});
  write_raw(file,
            R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 4]}})",
            std::string(4, '\0'));
  expect_error([&] { poser::load_safetensors_file(file); }, "E_FORMAT",
               {"tensor w", "too large"});
}

TEST_F(SafetensorsTest, UnknownDtype) {
  const std::string file = path("dtype.safetensors");
  for (const std::string dtype : {"F8_E4M3", "Q4"}) {
    write_raw(file,
              R"({"good": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                  "odd": {"dtype": ")" + dtype + R"(", "shape": [4], "data_offsets": [4, 8]}})",
              std::string(8, '\0'));
    expect_error([&] { poser::load_safetensors_file(file); }, "E_DTYPE",
                 {file, "tensor odd", dtype});
  }
}

TEST_F(SafetensorsTest, MetadataIsSkippedOnLoad) {
  const std::string file = path("meta.safetensors");
  write_raw(file,
            R"({"__metadata__": {"format": "pt"},
                "x": {"dtype": "I8", "shape": [2], "data_offsets": [0, 2]}})",
            std::string("\x05\xfb", 2));
  auto m = poser::load_safetensors_file(file);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_TRUE(torch::equal(m.at("x"), torch::tensor({5, -5}, torch::kInt8)));
}

// --- save errors -------------------------------------------------------------

TEST_F(SafetensorsTest, SaveIntoMissingDirectoryFails) {
  const std::string file = path("no/such/dir/x.safetensors");
  expect_error([&] { poser::save_safetensors_file(file, {{"x", torch::ones({3})}}); }, "E_IO",
               {"x.safetensors"});
  EXPECT_TRUE(files_in(dir_).empty());
}

TEST_F(SafetensorsTest, FailedRenameRemovesTempFile) {
  // The target is a directory: the temp file is written, the rename fails.
  const std::string target = path("target");
  fs::create_directory(target);
  write_bytes(target + "/inside", "x");
  expect_error([&] { poser::save_safetensors_file(target, {{"x", torch::ones({3})}}); }, "E_IO",
               {target});
  auto names = files_in(dir_);
  EXPECT_EQ(names, std::vector<std::string>{"target"});
}

TEST_F(SafetensorsTest, UnsupportedDtypeOnSave) {
  const std::string file = path("c.safetensors");
  expect_error(
      [&] { poser::save_safetensors_file(file, {{"z", torch::zeros({2}, torch::kComplexFloat)}}); },
      "E_DTYPE", {"tensor z"});
  EXPECT_TRUE(files_in(dir_).empty());
}

// --- model directories -------------------------------------------------------

TEST_F(SafetensorsTest, ModelWeightsSingleFile) {
  poser::save_safetensors_file(path("model.safetensors"), {{"a", torch::ones({2})}});
  auto m = poser::load_model_weights(dir_);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_TRUE(torch::equal(m.at("a"), torch::ones({2})));
}

TEST_F(SafetensorsTest, ModelWeightsSharded) {
  poser::save_safetensors_file(path("model-00001-of-00002.safetensors"),
                               {{"a", torch::ones({2})}, {"b", torch::zeros({3})},
                                {"unlisted", torch::ones({1})}});
  poser::save_safetensors_file(path("model-00002-of-00002.safetensors"),
                               {{"c", torch::arange(4, torch::kInt64)}});
  // A stale single file must be ignored when the index exists.
  poser::save_safetensors_file(path("model.safetensors"), {{"stale", torch::ones({1})}});
  json index = {{"metadata", {{"total_size", 44}}},
                {"weight_map",
                 {{"a", "model-00001-of-00002.safetensors"},
                  {"b", "model-00001-of-00002.safetensors"},
                  {"c", "model-00002-of-00002.safetensors"}}}};
  write_bytes(path("model.safetensors.index.json"), index.dump(2));
  auto m = poser::load_model_weights(dir_);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_TRUE(torch::equal(m.at("a"), torch::ones({2})));
  EXPECT_TRUE(torch::equal(m.at("b"), torch::zeros({3})));
  EXPECT_TRUE(torch::equal(m.at("c"), torch::arange(4, torch::kInt64)));
  EXPECT_FALSE(m.count("unlisted"));
  EXPECT_FALSE(m.count("stale"));
}

TEST_F(SafetensorsTest, ModelWeightsMissingShard) {
  poser::save_safetensors_file(path("s1.safetensors"), {{"a", torch::ones({2})}});
  json index = {{"weight_map", {{"a", "s1.safetensors"}, {"b", "s2.safetensors"}}}};
  write_bytes(path("model.safetensors.index.json"), index.dump());
  expect_error([&] { poser::load_model_weights(dir_); }, "E_IO", {"s2.safetensors"});
}

TEST_F(SafetensorsTest, ModelWeightsNameMissingFromShard) {
  poser::save_safetensors_file(path("s1.safetensors"), {{"a", torch::ones({2})}});
  json index = {{"weight_map", {{"a", "s1.safetensors"}, {"ghost", "s1.safetensors"}}}};
  write_bytes(path("model.safetensors.index.json"), index.dump());
  expect_error([&] { poser::load_model_weights(dir_); }, "E_FORMAT",
               {"ghost", "s1.safetensors"});
}

TEST_F(SafetensorsTest, ModelWeightsBadIndex) {
  write_bytes(path("model.safetensors.index.json"), "{\"weight_map\": ");
  expect_error([&] { poser::load_model_weights(dir_); }, "E_FORMAT",
               {"model.safetensors.index.json"});
  write_bytes(path("model.safetensors.index.json"), "{\"metadata\": {}}");
  expect_error([&] { poser::load_model_weights(dir_); }, "E_FORMAT", {"weight_map"});
  write_bytes(path("model.safetensors.index.json"),
              "{\"weight_map\": {\"a\": \"../elsewhere.safetensors\"}}");
  expect_error([&] { poser::load_model_weights(dir_); }, "E_FORMAT", {"invalid shard"});
}

TEST_F(SafetensorsTest, ModelWeightsNothingThere) {
  expect_error([&] { poser::load_model_weights(dir_); }, "E_IO",
               {"model.safetensors.index.json", "model.safetensors"});
}

// --- the format's rules, on bytes (safetensors_format.h) ----------------------

namespace {

// Parses a whole file's bytes with the torch-free parser.
poser::SafetensorsHeader parse_bytes(const std::string& bytes) {
  uint8_t prefix[8] = {};
  if (bytes.size() >= 8) std::memcpy(prefix, bytes.data(), 8);
  const uint64_t n = poser::parse_safetensors_header_length(prefix, bytes.size(), "t.safetensors");
  return poser::parse_safetensors_header(std::string_view(bytes).substr(8, n), bytes.size(),
                                         "t.safetensors");
}

void expect_rejected(const std::string& bytes, const std::string& code,
                     const std::vector<std::string>& fragments) {
  expect_error([&] { parse_bytes(bytes); }, code, fragments);
}

std::string file_of(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

const std::string kTwo =
    R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},)"
    R"( "b": {"dtype": "I16", "shape": [2], "data_offsets": [8, 12]}})";

}  // namespace

TEST(SafetensorsFormat, AcceptsAValidHeaderAndSortsByOffset) {
  auto h = parse_bytes(file_of(
      R"({"z": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},)"
      R"( "e": {"dtype": "F16", "shape": [0, 3], "data_offsets": [2, 2]},)"
      R"( "a": {"dtype": "BF16", "shape": [], "data_offsets": [2, 4], "extra": [1]},)"
      R"( "__metadata__": {"format": "pt", "note": ""}}    )",
      std::string(4, '\0')));
  ASSERT_EQ(h.tensors.size(), 3u);
  EXPECT_EQ(h.tensors[0].name, "z");
  EXPECT_EQ(h.tensors[1].name, "e");
  EXPECT_EQ(h.tensors[2].name, "a");
  EXPECT_EQ(h.tensors[2].shape, std::vector<int64_t>{});
  EXPECT_EQ(h.metadata.at("format"), "pt");
  // An empty header and no data is a valid (empty) file.
  EXPECT_TRUE(parse_bytes(file_of("{}      ", "")).tensors.empty());
}

TEST(SafetensorsFormat, HeaderLengthBoundedAndConsistent) {
  // One byte short: the last padding space becomes data, one byte left over.
  const std::string header = kTwo + "   ";
  expect_rejected(le64(header.size() - 1) + header + std::string(12, '\0'), "E_FORMAT",
                  {"t.safetensors", "1 byte left over", "header length"});
  // One byte short without padding: the closing brace is cut off.
  expect_rejected(le64(kTwo.size() - 1) + kTwo + std::string(12, '\0'), "E_FORMAT",
                  {"malformed JSON"});
  // One byte long: the header swallows a data byte.
  expect_rejected(le64(kTwo.size() + 1) + kTwo + std::string(12, '\0'), "E_FORMAT",
                  {"t.safetensors"});
  // Over the format's 100 MB limit, even inside a large enough (claimed) file.
  uint8_t prefix[8];
  const std::string big = le64(100'000'001);
  std::memcpy(prefix, big.data(), 8);
  expect_error([&] { poser::parse_safetensors_header_length(prefix, 200'000'000, "t"); },
               "E_FORMAT", {"header length 100000001 exceeds the format's limit of 100000000"});
  const std::string limit = le64(100'000'000);
  std::memcpy(prefix, limit.data(), 8);
  EXPECT_EQ(poser::parse_safetensors_header_length(prefix, 100'000'008, "t"), 100'000'000u)
      << "the limit itself is fine";
}

TEST(SafetensorsFormat, PaddingOnlySpaces) {
  expect_rejected(file_of(kTwo + std::string(3, '\0'), std::string(12, '\0')), "E_FORMAT",
                  {"padded with byte 0x00", "only spaces"});
  expect_rejected(file_of(kTwo + "\n", std::string(12, '\0')), "E_FORMAT",
                  {"padded with byte 0x0a"});
  expect_rejected(file_of(kTwo + "  \t ", std::string(12, '\0')), "E_FORMAT",
                  {"padded with byte 0x09"});
  expect_rejected(file_of(" " + kTwo, std::string(12, '\0')), "E_FORMAT",
                  {"does not start with '{'", "0x20"});
  expect_rejected(file_of(kTwo + " x", std::string(12, '\0')), "E_FORMAT", {"malformed JSON"});
  EXPECT_EQ(parse_bytes(file_of(kTwo + "        ", std::string(12, '\0'))).tensors.size(), 2u);
}

TEST(SafetensorsFormat, OffsetsTileTheDataSection) {
  // Overlap.
  expect_rejected(file_of(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},)"
                          R"( "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}})",
                          std::string(6, '\0')),
                  "E_FORMAT", {"tensor b at data offsets [2,6] overlaps tensor a at [0,4]"});
  // Two tensors on the same bytes.
  expect_rejected(file_of(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},)"
                          R"( "b": {"dtype": "I32", "shape": [1], "data_offsets": [0, 4]}})",
                          std::string(4, '\0')),
                  "E_FORMAT", {"overlaps"});
  // Gap between tensors.
  expect_rejected(file_of(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},)"
                          R"( "b": {"dtype": "U8", "shape": [2], "data_offsets": [6, 8]}})",
                          std::string(8, '\0')),
                  "E_FORMAT", {"tensor b", "leaves a gap: bytes [4,6]", "a, ends at 4"});
  // First tensor not at 0.
  expect_rejected(file_of(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]}})",
                          std::string(8, '\0')),
                  "E_FORMAT", {"bytes [0,4]", "must begin at 0"});
  // Bytes left over after the last tensor.
  expect_rejected(file_of(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}})",
                          std::string(5, '\0')),
                  "E_FORMAT", {"1 byte left over", "data section is 5 bytes"});
  // Data but no tensors.
  expect_rejected(file_of("{}", std::string(3, '\0')), "E_FORMAT", {"3 bytes left over"});
  // Zero-size tensors may sit at any boundary.
  EXPECT_EQ(parse_bytes(file_of(R"({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},)"
                                R"( "z": {"dtype": "F32", "shape": [0], "data_offsets": [4, 4]},)"
                                R"( "y": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}})",
                                std::string(4, '\0')))
                .tensors.size(),
            3u);
}

TEST(SafetensorsFormat, DuplicateKeysAnywhere) {
  expect_rejected(file_of(R"({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},)"
                          R"( "a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}})",
                          std::string(2, '\0')),
                  "E_FORMAT", {"duplicate key \"a\" in the object at the top level"});
  expect_rejected(file_of(R"({"a": {"dtype": "U8", "dtype": "F32", "shape": [1], "data_offsets": [0, 1]}})",
                          std::string(1, '\0')),
                  "E_FORMAT", {"duplicate key \"dtype\" in the object at \"a\""});
  expect_rejected(file_of(R"({"__metadata__": {"k": "1", "k": "2"}})", ""), "E_FORMAT",
                  {"duplicate key \"k\"", "__metadata__"});
  expect_rejected(file_of(R"({"__metadata__": {}, "__metadata__": {}})", ""), "E_FORMAT",
                  {"duplicate key \"__metadata__\""});
}

TEST(SafetensorsFormat, MetadataMapsStringsToStrings) {
  expect_rejected(file_of(R"({"__metadata__": {"format": "pt", "step": 5}})", ""), "E_FORMAT",
                  {"\"__metadata__\" must map strings to strings", "\"step\" is 5"});
  expect_rejected(file_of(R"({"__metadata__": {"nested": {"a": "b"}}})", ""), "E_FORMAT",
                  {"\"nested\" is {\"a\":\"b\"}"});
  expect_rejected(file_of(R"({"__metadata__": ["format", "pt"]})", ""), "E_FORMAT",
                  {"\"__metadata__\" must be an object"});
  expect_rejected(file_of(R"({"__metadata__": null})", ""), "E_FORMAT", {"__metadata__"});
}

TEST(SafetensorsFormat, EntryFields) {
  expect_rejected(file_of(R"({"w": [1, 2]})", ""), "E_FORMAT",
                  {"tensor w", "header entry is not an object: [1,2]"});
  expect_rejected(file_of(R"({"w": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}})",
                          std::string(4, '\0')),
                  "E_FORMAT", {"tensor w", "non-string \"dtype\": 4"});
  expect_rejected(file_of(R"({"w": {"dtype": "U16", "shape": [1], "data_offsets": [0, 2]}})",
                          std::string(2, '\0')),
                  "E_DTYPE", {"tensor w", "unsupported dtype \"U16\""});
  expect_rejected(file_of(R"({"w": {"dtype": "F32", "shape": "4", "data_offsets": [0, 16]}})",
                          std::string(16, '\0')),
                  "E_FORMAT", {"non-array \"shape\": \"4\""});
  expect_rejected(file_of(R"({"w": {"dtype": "F32", "shape": [2, -2], "data_offsets": [0, 16]}})",
                          std::string(16, '\0')),
                  "E_FORMAT", {"shape [2,-2] must hold non-negative integers (found -2)"});
  expect_rejected(file_of(R"({"w": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}})",
                          std::string(8, '\0')),
                  "E_FORMAT", {"found 2.0"});
  expect_rejected(file_of(R"({"w": {"dtype": "F32", "shape": [18446744073709551616], "data_offsets": [0, 8]}})",
                          std::string(8, '\0')),
                  "E_FORMAT", {"non-negative integers"});
  expect_rejected(file_of(R"({"w": {"dtype": "F32", "shape": [9223372036854775808], "data_offsets": [0, 8]}})",
                          std::string(8, '\0')),
                  "E_FORMAT", {"non-negative integers"});
  // The product overflows even though it ends at zero (as the reference checks).
  expect_rejected(file_of(R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 0], "data_offsets": [0, 0]}})",
                          ""),
                  "E_FORMAT", {"too large"});
  expect_rejected(file_of(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}})",
                          std::string(8, '\0')),
                  "E_FORMAT", {"\"data_offsets\" must be [begin, end]", "[0,4,8]"});
  expect_rejected(file_of(R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}})",
                          std::string(4, '\0')),
                  "E_FORMAT", {"data_offsets"});
  expect_rejected(file_of(R"({"w": {"dtype": "F32", "shape": [1]}})", std::string(4, '\0')),
                  "E_FORMAT", {"data_offsets"});
}

TEST(SafetensorsFormat, TextMustBeUtf8Json) {
  expect_rejected(file_of("{\"w\xff\": {}}", ""), "E_FORMAT", {"malformed JSON"});
  expect_rejected(file_of("{\"a\": 1,}", ""), "E_FORMAT", {"malformed JSON"});
  expect_rejected(file_of("{\"a\": 1} {}", ""), "E_FORMAT", {"malformed JSON"});
  expect_rejected(file_of(std::string("{\"a\0\": 1}", 9), ""), "E_FORMAT", {"malformed JSON"});
}

TEST(SafetensorsFormat, DeepNestingIsRefusedWithoutRecursion) {
  // ~70,000 levels would overflow a recursive parser, dump() or destructor.
  const size_t depth = 70'000;
  const std::string shape = std::string(depth, '[') + "1" + std::string(depth, ']');
  const std::string header = R"({"w": {"dtype": "F32", "shape": )" + shape + R"(, "data_offsets": [0, 4]}})";
  expect_rejected(file_of(header, std::string(4, '\0')), "E_FORMAT",
                  {"nested deeper than 64 levels", "\"w\".\"shape\""});
  std::string objects;
  for (size_t i = 0; i < depth; ++i) objects += "{\"k\": ";
  expect_rejected(file_of(objects, ""), "E_FORMAT", {"nested deeper than 64 levels"});
  // Up to the limit is fine (and far below any stack limit).
  const std::string ok = std::string(63, '[') + std::string(63, ']');
  EXPECT_NO_THROW(poser::parse_strict_json("{\"x\": " + ok + "}", "t"));
  expect_error([&] { poser::parse_strict_json("{\"x\": [" + ok + "]}", "t"); }, "E_FORMAT",
               {"nested deeper than 64"});
}

TEST(SafetensorsFormat, MessagesShowBoundedJson) {
  // A shape of 200,000 elements: the message quotes a few hundred characters.
  std::string shape = "[";
  for (int i = 0; i < 200'000; ++i) shape += "1.5,";
  shape.back() = ']';
  try {
    parse_bytes(file_of(R"({"w": {"dtype": "F32", "shape": )" + shape + R"(, "data_offsets": [0, 4]}})",
                        std::string(4, '\0')));
    ADD_FAILURE() << "accepted";
  } catch (const poser::Error& e) {
    EXPECT_LT(std::string(e.what()).size(), 600u) << e.what();
    EXPECT_NE(std::string(e.what()).find("[1.5,1.5,"), std::string::npos) << e.what();
  }
  // A long name is cut too.
  const std::string name(100'000, 'n');
  try {
    parse_bytes(file_of("{\"" + name + R"(": {"dtype": "Q", "shape": [], "data_offsets": [0, 0]}})", ""));
    ADD_FAILURE() << "accepted";
  } catch (const poser::Error& e) {
    EXPECT_EQ(e.code(), "E_DTYPE");
    EXPECT_LT(std::string(e.what()).size(), 600u);
  }
}

TEST(SafetensorsFormat, JsonExcerpt) {
  EXPECT_EQ(poser::json_excerpt(json::parse(R"({"a": [1, 2.5, null, true, "x"], "b": {}})")),
            R"({"a":[1,2.5,null,true,"x"],"b":{}})");
  std::string deep = std::string(60, '[') + std::string(60, ']');
  EXPECT_EQ(poser::json_excerpt(poser::parse_strict_json(deep, "t"), 1000), deep);
  EXPECT_EQ(poser::json_excerpt(poser::parse_strict_json(deep, "t"), 10),
            std::string(10, '[') + "...");
  EXPECT_EQ(poser::json_excerpt(json(std::string(1000, 'x')), 20).size(), 23u);
  // Invalid UTF-8 cannot make rendering throw.
  EXPECT_NO_THROW(poser::json_excerpt(json(std::string("\xff\xfe"))));
  EXPECT_EQ(poser::quoted_excerpt(std::string("a\"b\n\0", 5)), "\"a\\\"b\\x0a\\x00\"");
}

TEST(SafetensorsFormat, ShardIndex) {
  auto entries = poser::parse_shard_index(
      R"({"metadata": {"total_size": 8}, "weight_map": {"b": "s2.safetensors", "a": "sub/s1.safetensors"}})",
      "index.json");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0], (std::pair<std::string, std::string>{"a", "sub/s1.safetensors"}));
  const auto rejected = [](const std::string& text, const std::vector<std::string>& fragments) {
    expect_error([&] { poser::parse_shard_index(text, "index.json"); }, "E_FORMAT", fragments);
  };
  rejected(R"({"weight_map": {"a": "s1.safetensors", "a": "s2.safetensors"}})",
           {"index.json", "duplicate key \"a\" in the object at \"weight_map\""});
  rejected(R"({"weight_map": ["a", "s1.safetensors"]})",
           {"non-object \"weight_map\": [\"a\",\"s1.safetensors\"]"});
  rejected(R"({"metadata": {}})", {"missing or non-object \"weight_map\""});
  rejected(R"({"weight_map": {}})", {"weight_map is empty"});
  rejected(R"({"weight_map": {"a": 3}})", {"entry for a is not a string: 3"});
  rejected(R"([])", {"not a JSON object"});
  for (const std::string bad : {"", "/etc/passwd", "../x.safetensors", "a/../../x", "a//b", "./a"})
    rejected(R"({"weight_map": {"a": ")" + bad + R"("}})", {"invalid shard file"});
  rejected("{\"weight_map\": " + std::string(70'000, '[') , {"nested deeper than 64"});
  rejected(R"({"weight_map": {"a": "s.safetensors"}, "weight_map": {}})", {"duplicate key"});
}

TEST(SafetensorsFormat, FuzzSeedCorpusGivesOnlyTypedErrors) {
  // The committed seeds (and any crash the fuzzer ever finds, added there as a
  // file) through both parsers: accepted, or poser::Error, never anything else.
  size_t files = 0;
  for (const char* target : {"safetensors_header", "shard_index"}) {
    for (const auto& f : fs::directory_iterator(fs::path(POSER_FUZZ_CORPUS_DIR) / target)) {
      const std::string bytes = read_bytes(f.path().string());
      ++files;
      try {
        if (std::string(target) == "shard_index") poser::parse_shard_index(bytes, f.path().string());
        else parse_bytes(bytes);
      } catch (const poser::Error&) {
      } catch (const std::exception& e) {
        ADD_FAILURE() << f.path() << ": " << e.what();
      }
    }
  }
  EXPECT_GE(files, 8u);
}

// --- owned weights -------------------------------------------------------------

TEST_F(SafetensorsTest, OwnedTensorsSurviveTruncationAndOverwrite) {
  const std::string file = path("owned.safetensors");
  auto a = torch::randn({64, 32});
  poser::save_safetensors_file(file, {{"a", a}, {"b", torch::arange(10, torch::kInt64)}});
  auto m = poser::load_safetensors_file(file);
  // Rewrite in place (same inode), then truncate to nothing.
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    const std::string junk(read_bytes(file).size(), '\x7f');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  ASSERT_EQ(::truncate(file.c_str(), 0), 0);
  EXPECT_TRUE(torch::equal(m.at("a"), a));
  EXPECT_TRUE(torch::equal(m.at("b"), torch::arange(10, torch::kInt64)));
}

TEST_F(SafetensorsTest, MappedTensorsSeeTheFile) {
  // The documented risk of ReadOptions::mmap: an in-place rewrite shows through.
  const std::string file = path("mapped.safetensors");
  poser::save_safetensors_file(file, {{"a", torch::zeros({1024})}});
  poser::ReadOptions options;
  options.mmap = true;
  auto m = poser::load_safetensors_file(file, options);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-4, std::ios::end);
    const float one = 1.0f;
    f.write(reinterpret_cast<const char*>(&one), 4);
  }
  EXPECT_EQ(m.at("a")[1023].item<float>(), 1.0f);
}

TEST_F(SafetensorsTest, ConvertsFloatsWhileReading) {
  const std::string file = path("conv.safetensors");
  auto bf = torch::randn({5, 7}).to(torch::kBFloat16);
  poser::save_safetensors_file(file, {{"w", bf}, {"ids", torch::arange(3, torch::kInt32)}});
  for (bool mmap : {false, true}) {
    poser::ReadOptions options;
    options.mmap = mmap;
    options.float_dtype = torch::kFloat32;
    auto m = poser::load_safetensors_file(file, options);
    EXPECT_EQ(m.at("w").scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::equal(m.at("w"), bf.to(torch::kFloat32)));
    EXPECT_EQ(m.at("ids").scalar_type(), torch::kInt32) << "integers keep their dtype";
  }
}

TEST_F(SafetensorsTest, ShardIndexMayNotNameATensorTwice) {
  poser::save_safetensors_file(path("s1.safetensors"), {{"a", torch::ones({2})}});
  write_bytes(path("model.safetensors.index.json"),
              R"({"weight_map": {"a": "s1.safetensors", "a": "s1.safetensors"}})");
  expect_error([&] { poser::load_model_weights(dir_); }, "E_FORMAT",
               {"model.safetensors.index.json", "duplicate key \"a\""});
}

TEST_F(SafetensorsTest, FileRulesApplyToEveryShard) {
  poser::save_safetensors_file(path("s1.safetensors"), {{"a", torch::ones({2})}});
  write_raw(path("s2.safetensors"),
            R"({"b": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}})", std::string(3, '\0'));
  write_bytes(path("model.safetensors.index.json"),
              R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})");
  expect_error([&] { poser::load_model_weights(dir_); }, "E_FORMAT",
               {"s2.safetensors", "1 byte left over"});
}
