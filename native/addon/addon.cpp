// Entry point of the poser-torch native addon: the model class, model loading,
// thread control and build information.
#include <napi.h>

#include <torch/torch.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "allocator.h"
#include "gguf_wrap.h"
#include "model_wrap.h"
#include "path_swap_wrap.h"
#include "probe_wrap.h"
#include "worker.h"

namespace poser_addon {
namespace {

// Whether keep_freed_memory() took effect at load (POSER_KEEP_FREED_MEMORY=0 skips it).
bool freed_memory_kept = false;

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) throw make_error(info.Env(), "E_ARG", "threads must be a number");
  const int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw make_error(info.Env(), "E_ARG", "threads must be >= 1, got " + std::to_string(n));
  set_job_threads(n, true);
  return info.Env().Undefined();
}

Napi::Value GetNumThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("torchVersion", TORCH_VERSION);
  out.Set("cudaAvailable", torch::cuda::is_available());
  out.Set("cudaDeviceCount", static_cast<double>(torch::cuda::device_count()));
#ifdef _GLIBCXX_USE_CXX11_ABI
  out.Set("cxx11Abi", _GLIBCXX_USE_CXX11_ABI == 1);
#endif
  out.Set("parallelInfo", at::get_parallel_info());
  out.Set("keepsFreedMemory", freed_memory_kept);
  return out;
}

}  // namespace
}  // namespace poser_addon

namespace {

Napi::Object InitPoser(Napi::Env env, Napi::Object exports) {
  using namespace poser_addon;
  // libtorch defaults to one intra-op thread here; use the cores available
  // unless POSER_NUM_THREADS says otherwise.
  const char* requested = std::getenv("POSER_NUM_THREADS");
  const int threads = requested ? std::atoi(requested) : static_cast<int>(std::thread::hardware_concurrency());
  if (threads > 0) set_job_threads(threads, false);
  const char* keep = std::getenv("POSER_KEEP_FREED_MEMORY");
  if (!(keep && std::string(keep) == "0")) freed_memory_kept = poser::keep_freed_memory();
  exports.Set("NativeModel", ModelWrap::Define(env));
  exports.Set("loadModel", Napi::Function::New(env, LoadModel, "loadModel"));
  exports.Set("readGguf", Napi::Function::New(env, ReadGguf, "readGguf"));
  exports.Set("fitLogistic", Napi::Function::New(env, FitLogistic, "fitLogistic"));
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("getNumThreads", Napi::Function::New(env, GetNumThreads, "getNumThreads"));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo, "buildInfo"));
  exports.Set("exchangePaths", Napi::Function::New(env, ExchangePaths, "exchangePaths"));
  exports.Set("lockPath", Napi::Function::New(env, LockPath, "lockPath"));
  exports.Set("unlockPath", Napi::Function::New(env, UnlockPath, "unlockPath"));
  return exports;
}

}  // namespace

NODE_API_MODULE(poser_native, InitPoser)
