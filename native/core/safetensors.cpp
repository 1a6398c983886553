// Reading and writing the safetensors format.
//
// Layout: 8-byte little-endian unsigned header length N, then N bytes of UTF-8
// JSON (an object mapping tensor names to {"dtype", "shape", "data_offsets"},
// plus an optional "__metadata__" object of string values), then the data
// section. Offsets are relative to the start of the data section (8 + N).

#include "safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <cstdio>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"

namespace poser {

namespace {

using json = nlohmann::json;

static_assert(sizeof(void*) == 8, "64-bit platform required");
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors support assumes a little-endian host"
#endif

std::string errno_text(int err) { return std::strerror(err); }

// Owns one private copy-on-write mapping of a whole file; unmapped when the
// last tensor viewing it is released.
class Mapping {
 public:
  Mapping(void* addr, size_t length) : addr_(addr), length_(length) {}
  ~Mapping() {
    if (addr_ != nullptr && addr_ != MAP_FAILED) ::munmap(addr_, length_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  uint8_t* data() const { return static_cast<uint8_t*>(addr_); }
  size_t size() const { return length_; }

 private:
  void* addr_;
  size_t length_;
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { close(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Returns 0 or the errno of a failed close.
  int close() {
    int err = 0;
    if (fd_ >= 0) {
      if (::close(fd_) != 0) err = errno;
      fd_ = -1;
    }
    return err;
  }

 private:
  int fd_;
};

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
  size_t size;
};

const DtypeInfo kDtypes[] = {
    {"F64", torch::kFloat64, 8}, {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8}, {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},   {"I8", torch::kInt8, 1},     {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
};

const DtypeInfo* dtype_by_name(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeInfo* dtype_by_type(torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (type == d.type) return &d;
  return nullptr;
}

// Reads a non-negative JSON integer that fits in int64_t.
bool get_index(const json& v, uint64_t* out) {
  if (!v.is_number_unsigned()) return false;
  uint64_t x = v.get<uint64_t>();
  if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  *out = x;
  return true;
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string read_text_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw Error("E_IO", path + ": cannot open: " + errno_text(errno));
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error("E_IO", path + ": read failed: " + errno_text(errno));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

void write_all(int fd, const void* data, size_t len, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error("E_IO", path + ": write failed: " + errno_text(errno));
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
}

std::string random_suffix() {
  std::random_device rd;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%08x%08x", rd(), rd());
  return buf;
}

// Makes a rename durable: the directory entry is data of the parent directory.
void fsync_parent(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.get() < 0) throw Error("E_IO", dir + ": cannot open to fsync: " + errno_text(errno));
  if (::fsync(d.get()) != 0) throw Error("E_IO", dir + ": fsync failed: " + errno_text(errno));
}

}  // namespace

TensorMap load_safetensors_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw Error("E_IO", path + ": cannot open: " + errno_text(errno));

  struct stat st;
  if (::fstat(fd.get(), &st) != 0)
    throw Error("E_IO", path + ": cannot stat: " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) throw Error("E_IO", path + ": not a regular file");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size == 0) throw Error("E_FORMAT", path + ": file is empty (truncated safetensors file)");
  if (file_size < 8)
    throw Error("E_FORMAT", path + ": truncated safetensors file (" + std::to_string(file_size) +
                                " bytes, shorter than the 8-byte header length)");

  void* addr = ::mmap(nullptr, static_cast<size_t>(file_size), PROT_READ | PROT_WRITE,
                      MAP_PRIVATE, fd.get(), 0);
  if (addr == MAP_FAILED) throw Error("E_IO", path + ": mmap failed: " + errno_text(errno));
  auto mapping = std::make_shared<Mapping>(addr, static_cast<size_t>(file_size));
  fd.close();

  const uint8_t* base = mapping->data();
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | base[i];
  if (header_len == 0) throw Error("E_FORMAT", path + ": header length is 0");
  if (header_len > file_size - 8)
    throw Error("E_FORMAT", path + ": header length " + std::to_string(header_len) +
                                " larger than the file (size " + std::to_string(file_size) + ")");

  json header;
  try {
    header = json::parse(reinterpret_cast<const char*>(base + 8),
                         reinterpret_cast<const char*>(base + 8 + header_len));
  } catch (const json::exception& e) {
    throw Error("E_FORMAT", path + ": malformed JSON header: " + e.what());
  }
  if (!header.is_object())
    throw Error("E_FORMAT", path + ": JSON header is not an object");

  const uint64_t data_start = 8 + header_len;
  const uint64_t data_len = file_size - data_start;
  uint8_t* data = mapping->data() + data_start;

  TensorMap out;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") continue;
    const json& entry = it.value();
    const std::string where = path + ": tensor " + name;
    if (!entry.is_object()) throw Error("E_FORMAT", where + ": header entry is not an object");

    auto dt = entry.find("dtype");
    if (dt == entry.end() || !dt->is_string())
      throw Error("E_FORMAT", where + ": missing or non-string \"dtype\"");
    const std::string dtype_name = dt->get<std::string>();
    const DtypeInfo* info = dtype_by_name(dtype_name);
    if (info == nullptr)
      throw Error("E_DTYPE", where + ": unsupported dtype " + dtype_name);

    auto sh = entry.find("shape");
    if (sh == entry.end() || !sh->is_array())
      throw Error("E_FORMAT", where + ": missing or non-array \"shape\"");
    std::vector<int64_t> shape;
    uint64_t numel = 1;
    bool overflow = false;
    for (const auto& d : *sh) {
      uint64_t dim = 0;
      if (!get_index(d, &dim))
        throw Error("E_FORMAT", where + ": shape " + sh->dump() +
                                    " must hold non-negative integers");
      shape.push_back(static_cast<int64_t>(dim));
      if (__builtin_mul_overflow(numel, dim, &numel)) overflow = true;
    }
    uint64_t expected = 0;
    if (overflow || __builtin_mul_overflow(numel, static_cast<uint64_t>(info->size), &expected))
      throw Error("E_FORMAT", where + ": shape " + sh->dump() + " is too large");

    auto off = entry.find("data_offsets");
    uint64_t begin = 0, end = 0;
    if (off == entry.end() || !off->is_array() || off->size() != 2 ||
        !get_index((*off)[0], &begin) || !get_index((*off)[1], &end))
      throw Error("E_FORMAT",
                  where + ": \"data_offsets\" must be [begin, end] of non-negative integers");
    if (begin > end || end > data_len)
      throw Error("E_FORMAT", where + ": data offsets [" + std::to_string(begin) + "," +
                                  std::to_string(end) + "] out of range (data section is " +
                                  std::to_string(data_len) + " bytes)");
    if (end - begin != expected)
      throw Error("E_FORMAT", where + ": size mismatch: dtype " + dtype_name + " and shape " +
                                  sh->dump() + " need " + std::to_string(expected) +
                                  " bytes but data offsets [" + std::to_string(begin) + "," +
                                  std::to_string(end) + "] span " +
                                  std::to_string(end - begin) + " bytes");

    std::shared_ptr<Mapping> keep = mapping;
    try {
      out.emplace(name, torch::from_blob(
                            data + begin, shape, [keep](void*) mutable { keep.reset(); },
                            torch::TensorOptions().dtype(info->type).device(torch::kCPU)));
    } catch (const std::exception& e) {
      throw Error("E_TORCH", where + ": cannot create tensor: " + e.what());
    }
  }
  return out;
}

TensorMap load_model_weights(const std::string& dir) {
  const std::string index_path = join_path(dir, "model.safetensors.index.json");
  const std::string single_path = join_path(dir, "model.safetensors");

  if (file_exists(index_path)) {
    json index;
    try {
      index = json::parse(read_text_file(index_path));
    } catch (const json::exception& e) {
      throw Error("E_FORMAT", index_path + ": malformed JSON: " + e.what());
    }
    if (!index.is_object()) throw Error("E_FORMAT", index_path + ": not a JSON object");
    auto wm = index.find("weight_map");
    if (wm == index.end() || !wm->is_object())
      throw Error("E_FORMAT", index_path + ": missing or non-object \"weight_map\"");

    // shard file -> names it must provide
    std::map<std::string, std::vector<std::string>> by_shard;
    for (auto it = wm->begin(); it != wm->end(); ++it) {
      if (!it.value().is_string())
        throw Error("E_FORMAT", index_path + ": weight_map entry for " + it.key() +
                                    " is not a string");
      const std::string shard = it.value().get<std::string>();
      if (shard.empty() || shard.front() == '/' || shard.find("..") != std::string::npos)
        throw Error("E_FORMAT", index_path + ": weight_map entry for " + it.key() +
                                    " names an invalid shard file \"" + shard + "\"");
      by_shard[shard].push_back(it.key());
    }
    if (by_shard.empty()) throw Error("E_FORMAT", index_path + ": weight_map is empty");

    TensorMap out;
    for (const auto& kv : by_shard) {
      const std::string shard_path = join_path(dir, kv.first);
      TensorMap shard = load_safetensors_file(shard_path);
      for (const auto& name : kv.second) {
        auto t = shard.find(name);
        if (t == shard.end())
          throw Error("E_FORMAT", shard_path + ": tensor " + name + " listed in " + index_path +
                                      " is missing from the shard");
        out[name] = t->second;
      }
    }
    return out;
  }
  if (file_exists(single_path)) return load_safetensors_file(single_path);
  throw Error("E_IO", dir + ": no model weights found (tried " + index_path + " and " +
                          single_path + ")");
}

void save_safetensors_file(const std::string& path, const TensorMap& tensors,
                           const std::map<std::string, std::string>& metadata) {
  // Prepare CPU contiguous tensors and the header (names sorted: TensorMap is
  // an ordered map, so data follows the same stable order).
  std::vector<torch::Tensor> cpu;
  cpu.reserve(tensors.size());
  json header = json::object();
  uint64_t offset = 0;
  for (const auto& kv : tensors) {
    const std::string& name = kv.first;
    if (name == "__metadata__")
      throw Error("E_ARG", path + ": \"__metadata__\" is not a valid tensor name");
    if (!kv.second.defined())
      throw Error("E_ARG", path + ": tensor " + name + " is undefined");
    const DtypeInfo* info = dtype_by_type(kv.second.scalar_type());
    if (info == nullptr)
      throw Error("E_DTYPE", path + ": tensor " + name + ": dtype " +
                                 std::string(c10::toString(kv.second.scalar_type())) +
                                 " cannot be stored in safetensors");
    torch::Tensor t;
    try {
      t = kv.second.detach().to(torch::kCPU).contiguous();
    } catch (const std::exception& e) {
      throw Error("E_TORCH", path + ": tensor " + name + ": cannot move to CPU: " + e.what());
    }
    const uint64_t nbytes = static_cast<uint64_t>(t.numel()) * info->size;
    json shape = json::array();
    for (int64_t d : t.sizes()) shape.push_back(d);
    header[name] = {{"dtype", info->name},
                    {"shape", std::move(shape)},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    cpu.push_back(std::move(t));
  }
  if (!metadata.empty()) {
    json meta = json::object();
    for (const auto& kv : metadata) meta[kv.first] = kv.second;
    header["__metadata__"] = std::move(meta);
  }

  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const json::exception& e) {
    throw Error("E_ARG", path + ": cannot encode header (names and metadata must be UTF-8): " +
                             e.what());
  }
  while (header_text.size() % 8 != 0) header_text.push_back(' ');
  uint8_t len_bytes[8];
  uint64_t n = header_text.size();
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<uint8_t>(n >> (8 * i));

  // Unique per process and per call: two saves never share a temporary file.
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + random_suffix();
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0)
    throw Error("E_IO", path + ": cannot create temporary file " + tmp + ": " +
                            errno_text(errno));
  try {
    write_all(fd.get(), len_bytes, sizeof len_bytes, tmp);
    write_all(fd.get(), header_text.data(), header_text.size(), tmp);
    for (const auto& t : cpu) {
      const size_t nbytes = t.numel() * t.element_size();
      if (nbytes > 0) write_all(fd.get(), t.data_ptr(), nbytes, tmp);
    }
    if (::fsync(fd.get()) != 0)
      throw Error("E_IO", tmp + ": fsync failed: " + errno_text(errno));
    if (int err = fd.close())
      throw Error("E_IO", tmp + ": close failed: " + errno_text(err));
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw Error("E_IO", path + ": cannot rename " + tmp + " over it: " + errno_text(errno));
    fsync_parent(path);
  } catch (const Error&) {
    fd.close();
    ::unlink(tmp.c_str());
    throw;
  } catch (const std::exception& e) {
    fd.close();
    ::unlink(tmp.c_str());
    throw Error("E_IO", path + ": write failed: " + e.what());
  }
}

}  // namespace poser
