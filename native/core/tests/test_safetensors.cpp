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
#include "safetensors.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "poser-st-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    ASSERT_NE(::mkdtemp(buf.data()), nullptr);
    dir_ = buf.data();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }

  std::string dir_;
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
  {
    auto m = poser::load_safetensors_file(file);
    m.at("a").mul_(-3).add_(1);
    m.at("b").fill_(7);
    EXPECT_EQ(m.at("a")[2].item<float>(), -5.0f);
    EXPECT_EQ(m.at("b")[0].item<float>(), 7.0f);
    // The change is visible through the same mapping, not in the file.
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
  expect_error([&] { poser::load_safetensors_file(file); }, "E_FORMAT", {file, "not an object"});
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
