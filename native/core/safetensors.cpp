// Reading and writing the safetensors format.
//
// Layout: 8-byte little-endian unsigned header length N, then N bytes of UTF-8
// JSON (an object mapping tensor names to {"dtype", "shape", "data_offsets"},
// plus an optional "__metadata__" object of string values), then the data
// section. Offsets are relative to the start of the data section (8 + N).
// The format's rules are checked in safetensors_format.cpp (no libtorch); this
// file turns validated entries into tensors and writes files.

#include "safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
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
#include "safetensors_format.h"

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

const DtypeInfo* dtype_by_type(torch::ScalarType type) {
  for (const auto& d : kDtypes)
    if (type == d.type) return &d;
  return nullptr;
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

// Reads a whole file of at most max_bytes.
std::string read_text_file(const std::string& path, uint64_t max_bytes) {
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
    if (out.size() > max_bytes)
      throw Error("E_FORMAT", path + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  return out;
}

// Reads exactly len bytes at offset; the file may have shrunk since it was sized.
void read_exact(int fd, void* dst, uint64_t len, uint64_t offset, const std::string& path) {
  char* p = static_cast<char*>(dst);
  while (len > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(len, uint64_t{1} << 30));
    ssize_t n = ::pread(fd, p, chunk, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error("E_IO", path + ": read failed at byte " + std::to_string(offset) + ": " +
                              errno_text(errno));
    }
    if (n == 0)
      throw Error("E_IO", path + ": the file ends at byte " + std::to_string(offset) +
                              ", before its data; was it truncated while being read?");
    p += n;
    offset += static_cast<uint64_t>(n);
    len -= static_cast<uint64_t>(n);
  }
}

torch::ScalarType torch_dtype(const SafetensorsDtype* d) {
  const std::string name = d->name;
  for (const auto& info : kDtypes)
    if (name == info.name) return info.type;
  throw Error("E_DTYPE", std::string("dtype ") + d->name + " has no torch type");
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

namespace {

// Reads the tensors of one file; with `wanted`, only those names.
TensorMap read_safetensors(const std::string& path, const ReadOptions& options,
                           const std::set<std::string>* wanted) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw Error("E_IO", path + ": cannot open: " + errno_text(errno));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0)
    throw Error("E_IO", path + ": cannot stat: " + errno_text(errno));
  if (!S_ISREG(st.st_mode)) throw Error("E_IO", path + ": not a regular file");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);

  uint8_t prefix[8] = {};
  if (file_size >= 8) read_exact(fd.get(), prefix, 8, 0, path);
  const uint64_t header_len = parse_safetensors_header_length(prefix, file_size, path);
  std::string header_text(static_cast<size_t>(header_len), '\0');
  read_exact(fd.get(), header_text.data(), header_len, 8, path);
  const SafetensorsHeader header = parse_safetensors_header(header_text, file_size, path);
  header_text = std::string();

  std::shared_ptr<Mapping> mapping;
  if (options.mmap && file_size > 0) {
    void* addr = ::mmap(nullptr, static_cast<size_t>(file_size), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE, fd.get(), 0);
    if (addr == MAP_FAILED) throw Error("E_IO", path + ": mmap failed: " + errno_text(errno));
    mapping = std::make_shared<Mapping>(addr, static_cast<size_t>(file_size));
  }

  // Converting reads go through one small staging buffer: no stored-dtype copy
  // of a whole tensor is ever allocated. It is a mapping of its own, so it goes
  // back to the system afterwards instead of leaving a hole in the heap under
  // the weights.
  constexpr int64_t kStagingBytes = 1 << 20;
  std::unique_ptr<Mapping> staging;

  TensorMap out;
  for (const SafetensorsEntry& e : header.tensors) {
    if (wanted != nullptr && wanted->count(e.name) == 0) continue;
    const std::string where = path + ": tensor " + e.name;
    const torch::ScalarType stored = torch_dtype(e.dtype);
    const bool convert = options.float_dtype != torch::ScalarType::Undefined &&
                         c10::isFloatingType(stored) && stored != options.float_dtype;
    const auto cpu = torch::TensorOptions().device(torch::kCPU);
    const uint64_t offset = header.data_start + e.begin;
    torch::Tensor t;
    try {
      if (mapping) {
        std::shared_ptr<Mapping> keep = mapping;
        t = torch::from_blob(mapping->data() + offset, e.shape, [keep](void*) mutable { keep.reset(); },
                             cpu.dtype(stored));
        if (convert) t = t.to(options.float_dtype);
      } else {
        t = torch::empty(e.shape, cpu.dtype(convert ? options.float_dtype : stored));
      }
    } catch (const std::exception& ex) {
      throw Error("E_TORCH", where + ": cannot create tensor: " + ex.what());
    }
    if (!mapping && !convert && e.end > e.begin) {
      read_exact(fd.get(), t.data_ptr(), e.end - e.begin, offset, path);
    } else if (!mapping && convert) {
      if (!staging) {
        void* addr = ::mmap(nullptr, kStagingBytes, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (addr == MAP_FAILED)
          throw Error("E_IO", path + ": cannot map a staging buffer: " + errno_text(errno));
        staging = std::make_unique<Mapping>(addr, kStagingBytes);
      }
      const int64_t size = static_cast<int64_t>(e.dtype->size);
      const int64_t per_chunk = kStagingBytes / size;
      const torch::Tensor chunk = torch::from_blob(staging->data(), {per_chunk}, cpu.dtype(stored));
      torch::Tensor flat = t.view({-1});
      for (int64_t i = 0; i < flat.numel(); i += per_chunk) {
        const int64_t n = std::min(per_chunk, flat.numel() - i);
        read_exact(fd.get(), staging->data(), static_cast<uint64_t>(n * size),
                   offset + static_cast<uint64_t>(i * size), path);
        flat.narrow(0, i, n).copy_(chunk.narrow(0, 0, n));
      }
    }
    out.emplace(e.name, std::move(t));
  }
  return out;
}

}  // namespace

TensorMap load_safetensors_file(const std::string& path, const ReadOptions& options) {
  return read_safetensors(path, options, nullptr);
}

TensorMap load_model_weights(const std::string& dir, const ReadOptions& options) {
  const std::string index_path = join_path(dir, "model.safetensors.index.json");
  const std::string single_path = join_path(dir, "model.safetensors");

  if (file_exists(index_path)) {
    const auto entries =
        parse_shard_index(read_text_file(index_path, kMaxSafetensorsHeaderBytes), index_path);
    std::map<std::string, std::set<std::string>> by_shard;  // shard file -> names it must provide
    for (const auto& [name, shard] : entries) by_shard[shard].insert(name);

    TensorMap out;
    for (const auto& [shard, names] : by_shard) {
      const std::string shard_path = join_path(dir, shard);
      TensorMap tensors = read_safetensors(shard_path, options, &names);
      for (const auto& name : names) {
        auto t = tensors.find(name);
        if (t == tensors.end())
          throw Error("E_FORMAT", shard_path + ": tensor " + name + " listed in " + index_path +
                                      " is missing from the shard");
        out[name] = std::move(t->second);
      }
    }
    return out;
  }
  if (file_exists(single_path)) return load_safetensors_file(single_path, options);
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
