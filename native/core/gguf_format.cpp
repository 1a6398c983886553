// Parsing GGUF headers. Nothing in a file is trusted: every length and count
// is checked against the bytes left before anything is allocated for it,
// nested arrays are bounded in depth, and tensor extents are checked against
// the data section, so a malformed file ends in a poser::Error, never a crash.
// No libtorch here, so the parser can be fuzzed on its own.

#include "gguf_format.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include "errors.h"

namespace poser {

namespace {

static_assert(sizeof(void*) == 8, "64-bit platform required");
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "GGUF support assumes a little-endian host"
#endif

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian uint32
// Deeper nesting than any real file uses; bounds the parser's recursion.
constexpr int kMaxArrayDepth = 8;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
constexpr size_t kWindow = size_t{1} << 20;

std::string str(uint64_t x) { return std::to_string(x); }

// Sequential reads through a window of a file (or of bytes in memory), each
// bounded by its size.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& name) : path_(name), mem_(data), size_(size) {}
  explicit Reader(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw Error("E_IO", path + ": cannot open: " + std::strerror(errno));
    struct stat st;
    if (::fstat(fd_, &st) != 0) {
      const int err = errno;
      ::close(fd_);
      throw Error("E_IO", path + ": cannot stat: " + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw Error("E_IO", path + ": not a regular file");
    }
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~Reader() {
    if (fd_ >= 0) ::close(fd_);
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  uint64_t pos() const { return pos_; }
  uint64_t size() const { return size_; }
  uint64_t left() const { return size_ - pos_; }
  const std::string& path() const { return path_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw Error("E_FORMAT", path_ + ": " + what + " (at byte " + str(pos_) + ")");
  }

  void read(void* out, uint64_t n, const std::string& what) {
    if (n > left())
      fail("truncated file: " + what + " needs " + str(n) + " bytes but only " + str(left()) + " remain of " +
           str(size_));
    uint8_t* dst = static_cast<uint8_t*>(out);
    while (n > 0) {
      if (pos_ < win_start_ || pos_ >= win_start_ + window_.size()) fill();
      const uint64_t from = pos_ - win_start_;
      const uint64_t take = std::min<uint64_t>(n, window_.size() - from);
      std::memcpy(dst, window_.data() + from, take);
      dst += take;
      pos_ += take;
      n -= take;
    }
  }

  template <typename T>
  T get(const std::string& what) {
    T v;
    read(&v, sizeof v, what);
    return v;
  }

  std::string string(const std::string& what) {
    const uint64_t len = get<uint64_t>(what + " length");
    if (len > left())
      fail(what + ": string length " + str(len) + " exceeds the " + str(left()) + " bytes left in the file");
    std::string s(len, '\0');
    read(s.data(), len, what);
    return s;
  }

  // Reads [offset, offset + n) (bounds already checked).
  void pread_all(uint64_t offset, void* out, uint64_t n) const {
    if (mem_ != nullptr) {
      std::memcpy(out, mem_ + offset, n);
      return;
    }
    uint8_t* dst = static_cast<uint8_t*>(out);
    while (n > 0) {
      const ssize_t got = ::pread(fd_, dst, std::min<uint64_t>(n, uint64_t{1} << 30), static_cast<off_t>(offset));
      if (got < 0) {
        if (errno == EINTR) continue;
        throw Error("E_IO", path_ + ": read failed at byte " + str(offset) + ": " + std::strerror(errno));
      }
      if (got == 0) throw Error("E_IO", path_ + ": file shrank while being read (at byte " + str(offset) + ")");
      dst += got;
      offset += static_cast<uint64_t>(got);
      n -= static_cast<uint64_t>(got);
    }
  }

 private:
  void fill() {
    window_.resize(static_cast<size_t>(std::min<uint64_t>(kWindow, left())));
    win_start_ = pos_;
    pread_all(pos_, window_.data(), window_.size());
  }

  std::string path_;
  const uint8_t* mem_ = nullptr;
  int fd_ = -1;
  uint64_t size_ = 0, pos_ = 0, win_start_ = 0;
  std::vector<uint8_t> window_;
};

// Bytes of one element of a scalar metadata type; 0 for string and array.
uint64_t scalar_size(GgufType t) {
  switch (t) {
    case GgufType::UInt8: case GgufType::Int8: case GgufType::Bool: return 1;
    case GgufType::UInt16: case GgufType::Int16: return 2;
    case GgufType::UInt32: case GgufType::Int32: case GgufType::Float32: return 4;
    case GgufType::UInt64: case GgufType::Int64: case GgufType::Float64: return 8;
    default: return 0;
  }
}

bool known_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::Float64); }

// Fewest bytes an element of type t occupies in the file.
uint64_t min_size(GgufType t) {
  if (t == GgufType::String) return 8;
  if (t == GgufType::Array) return 12;
  return scalar_size(t);
}

void read_value(Reader& r, GgufType type, GgufValue& v, const std::string& where, int depth);

void read_scalar(Reader& r, GgufType type, GgufValue& v, const std::string& where) {
  v.type = type;
  switch (type) {
    case GgufType::UInt8: v.u = r.get<uint8_t>(where); break;
    case GgufType::Int8: v.i = r.get<int8_t>(where); break;
    case GgufType::UInt16: v.u = r.get<uint16_t>(where); break;
    case GgufType::Int16: v.i = r.get<int16_t>(where); break;
    case GgufType::UInt32: v.u = r.get<uint32_t>(where); break;
    case GgufType::Int32: v.i = r.get<int32_t>(where); break;
    case GgufType::UInt64: v.u = r.get<uint64_t>(where); break;
    case GgufType::Int64: v.i = r.get<int64_t>(where); break;
    case GgufType::Float32: v.f = r.get<float>(where); break;
    case GgufType::Float64: v.f = r.get<double>(where); break;
    case GgufType::Bool: {
      const uint8_t b = r.get<uint8_t>(where);
      if (b > 1) r.fail(where + ": bool value " + str(b) + " is neither 0 nor 1");
      v.u = b;
      break;
    }
    default: r.fail(where + ": not a scalar type");
  }
}

void read_value(Reader& r, GgufType type, GgufValue& v, const std::string& where, int depth) {
  v.type = type;
  if (type == GgufType::String) {
    v.s = r.string(where);
    return;
  }
  if (type != GgufType::Array) {
    read_scalar(r, type, v, where);
    return;
  }
  if (depth >= kMaxArrayDepth) r.fail(where + ": arrays nested deeper than " + str(kMaxArrayDepth) + " levels");
  const uint32_t elem = r.get<uint32_t>(where + " element type");
  if (!known_type(elem)) r.fail(where + ": unknown array element type " + str(elem));
  v.elem_type = static_cast<GgufType>(elem);
  const uint64_t count = r.get<uint64_t>(where + " element count");
  const uint64_t each = min_size(v.elem_type);
  if (count > r.left() / each)
    r.fail(where + ": array of " + str(count) + " " + gguf_type_name(v.elem_type) + " elements needs at least " +
           (count > UINT64_MAX / each ? std::string("more") : str(count * each)) + " bytes but only " +
           str(r.left()) + " remain");
  v.items.resize(static_cast<size_t>(count));
  for (uint64_t k = 0; k < count; ++k) read_value(r, v.elem_type, v.items[k], where + "[" + str(k) + "]", depth + 1);
}

// ggml's type ids with their block layouts, as gguf-py 0.19 lists them (ids 4,
// 5 and 31-33 were retired).
const GgmlTypeInfo kGgmlTypes[] = {
    {0, "F32", 1, 4},         {1, "F16", 1, 2},         {2, "Q4_0", 32, 18},      {3, "Q4_1", 32, 20},
    {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},      {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 40},
    {10, "Q2_K", 256, 84},    {11, "Q3_K", 256, 110},   {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
    {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},   {16, "IQ2_XXS", 256, 66}, {17, "IQ2_XS", 256, 74},
    {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},   {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},
    {22, "IQ2_S", 256, 82},   {23, "IQ4_XS", 256, 136}, {24, "I8", 1, 1},         {25, "I16", 1, 2},
    {26, "I32", 1, 4},        {27, "I64", 1, 8},        {28, "F64", 1, 8},        {29, "IQ1_M", 256, 56},
    {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},   {35, "TQ2_0", 256, 66},   {39, "MXFP4", 32, 17},
    {40, "NVFP4", 64, 36},    {41, "Q1_0", 128, 18},
};

}  // namespace

const GgmlTypeInfo* ggml_type_info(uint32_t id) {
  for (const auto& t : kGgmlTypes)
    if (t.id == id) return &t;
  return nullptr;
}

const char* gguf_type_name(GgufType type) {
  static const char* names[] = {"uint8", "int8",   "uint16", "int16",  "uint32", "int32", "float32",
                                "bool",  "string", "array",  "uint64", "int64",  "float64"};
  const auto i = static_cast<uint32_t>(type);
  return i < sizeof names / sizeof names[0] ? names[i] : "unknown";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::UInt8: case GgufType::Int8: case GgufType::UInt16: case GgufType::Int16:
    case GgufType::UInt32: case GgufType::Int32: case GgufType::UInt64: case GgufType::Int64: return true;
    default: return false;
  }
}

double GgufValue::number() const {
  switch (type) {
    case GgufType::UInt8: case GgufType::UInt16: case GgufType::UInt32: case GgufType::UInt64:
    case GgufType::Bool: return static_cast<double>(u);
    case GgufType::Int8: case GgufType::Int16: case GgufType::Int32: case GgufType::Int64: return static_cast<double>(i);
    case GgufType::Float32: case GgufType::Float64: return f;
    default: return 0;
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  for (const auto& kv : metadata)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

std::string ggml_type_name(uint32_t type) {
  const GgmlTypeInfo* t = ggml_type_info(type);
  return t ? t->name : "type " + str(type);
}

namespace {

GgufFile parse(Reader& r) {
  const std::string& path = r.path();
  GgufFile f;
  f.path = path;
  f.file_size = r.size();
  if (r.size() < 4) r.fail("truncated file: " + str(r.size()) + " bytes, too short for the GGUF magic");
  const uint32_t magic = r.get<uint32_t>("magic");
  if (magic != kMagic) {
    char shown[5] = {0};
    std::memcpy(shown, &magic, 4);
    for (int k = 0; k < 4; ++k)
      if (shown[k] < 32 || shown[k] > 126) shown[k] = '?';
    throw Error("E_FORMAT", path + ": not a GGUF file (magic \"" + std::string(shown) + "\", expected \"GGUF\")");
  }
  f.version = r.get<uint32_t>("version");
  if (f.version != 2 && f.version != 3) {
    // A big-endian file shows its version byte-swapped.
    const uint32_t swapped = __builtin_bswap32(f.version);
    if (swapped == 2 || swapped == 3)
      throw Error("E_UNSUPPORTED", path + ": big-endian GGUF files are not supported");
    throw Error("E_UNSUPPORTED", path + ": GGUF version " + str(f.version) + " is not supported (only 2 and 3)");
  }
  const uint64_t tensor_count = r.get<uint64_t>("tensor count");
  const uint64_t kv_count = r.get<uint64_t>("metadata count");
  // Each entry needs at least 13 bytes (key length, type, one value byte);
  // each tensor info at least 24 (name length, n_dims, type, offset).
  if (kv_count > r.left() / 13)
    r.fail("metadata count " + str(kv_count) + " cannot fit in the " + str(r.left()) + " bytes left");
  if (tensor_count > r.left() / 24)
    r.fail("tensor count " + str(tensor_count) + " cannot fit in the " + str(r.left()) + " bytes left");

  std::set<std::string> keys;
  f.metadata.reserve(static_cast<size_t>(kv_count));
  for (uint64_t k = 0; k < kv_count; ++k) {
    const std::string key = r.string("metadata key " + str(k));
    if (key.empty()) r.fail("metadata key " + str(k) + " is empty");
    if (!keys.insert(key).second) r.fail("duplicate metadata key '" + key + "'");
    const uint32_t type = r.get<uint32_t>("type of metadata '" + key + "'");
    if (!known_type(type)) r.fail("metadata '" + key + "' has unknown value type " + str(type));
    GgufValue v;
    read_value(r, static_cast<GgufType>(type), v, "metadata '" + key + "'", 0);
    f.metadata.emplace_back(key, std::move(v));
  }
  if (const GgufValue* a = f.find("general.alignment")) {
    if (a->type != GgufType::UInt32)
      throw Error("E_FORMAT", path + ": general.alignment has type " + gguf_type_name(a->type) + ", expected uint32");
    if (a->u == 0 || (a->u & (a->u - 1)) != 0)
      throw Error("E_FORMAT", path + ": general.alignment " + str(a->u) + " is not a power of two");
    f.alignment = a->u;
  }

  std::set<std::string> names;
  f.tensors.reserve(static_cast<size_t>(tensor_count));
  for (uint64_t k = 0; k < tensor_count; ++k) {
    GgufTensorInfo t;
    t.name = r.string("tensor name " + str(k));
    const std::string where = "tensor '" + t.name + "'";
    if (!names.insert(t.name).second) r.fail("duplicate tensor name '" + t.name + "'");
    const uint32_t dims = r.get<uint32_t>(where + " dimension count");
    if (dims == 0 || dims > kMaxDims) r.fail(where + ": " + str(dims) + " dimensions (expected 1 to 4)");
    std::vector<uint64_t> ne(dims);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < dims; ++d) {
      ne[d] = r.get<uint64_t>(where + " dimension " + str(d));
      if (ne[d] > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, ne[d], &numel))
        r.fail(where + ": dimensions overflow");
    }
    t.type = r.get<uint32_t>(where + " type");
    t.offset = r.get<uint64_t>(where + " offset");
    for (auto it = ne.rbegin(); it != ne.rend(); ++it) t.shape.push_back(static_cast<int64_t>(*it));
    const GgmlTypeInfo* info = ggml_type_info(t.type);
    if (info == nullptr)
      throw Error("E_UNSUPPORTED", path + ": " + where + " has ggml type id " + str(t.type) + ", unknown to this reader");
    if (ne[0] % info->block != 0)
      r.fail(where + ": row length " + str(ne[0]) + " is not a multiple of the " + info->name + " block size " +
             str(info->block));
    if (__builtin_mul_overflow(numel / info->block, info->bytes, &t.nbytes)) r.fail(where + ": size overflows");
    if (t.offset % f.alignment != 0)
      r.fail(where + ": offset " + str(t.offset) + " is not a multiple of the alignment " + str(f.alignment));
    f.tensors.push_back(std::move(t));
  }
  const uint64_t pad = (f.alignment - r.pos() % f.alignment) % f.alignment;
  f.data_offset = r.pos() + pad;
  if (f.tensors.empty()) return f;
  if (f.data_offset > r.size())
    throw Error("E_FORMAT", path + ": truncated file: the data section would start at byte " + str(f.data_offset) +
                                " but the file has " + str(r.size()) + " bytes");
  const uint64_t data_len = r.size() - f.data_offset;
  for (const auto& t : f.tensors)
    if (t.offset > data_len || t.nbytes > data_len - t.offset)
      throw Error("E_FORMAT", path + ": tensor '" + t.name + "' spans bytes [" + str(t.offset) + ", " +
                                  (t.offset > UINT64_MAX - t.nbytes ? std::string("overflow") : str(t.offset + t.nbytes)) +
                                  ") of the data section, which has " + str(data_len) + " bytes (truncated file?)");
  return f;
}

}  // namespace

GgufFile read_gguf(const std::string& path) {
  Reader r(path);
  return parse(r);
}

GgufFile parse_gguf(const uint8_t* data, size_t size, const std::string& name) {
  Reader r(data, size, name);
  return parse(r);
}

void read_gguf_bytes(const GgufFile& file, const GgufTensorInfo& tensor, std::vector<uint8_t>& out) {
  Reader r(file.path);
  if (r.size() != file.file_size)
    throw Error("E_IO", file.path + ": file changed size since its header was read");
  out.resize(static_cast<size_t>(tensor.nbytes));
  r.pread_all(file.data_offset + tensor.offset, out.data(), tensor.nbytes);
}

}  // namespace poser
