// Node bindings of the directory-swap primitives used by atomic saves.
#include "path_swap_wrap.h"

#include <string>

#include "path_swap.h"
#include "worker.h"

namespace poser_addon {
namespace {

std::string string_arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString())
    throw make_error(info.Env(), "E_ARG", std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// Runs a core call, turning its poser::Error into a JS error with the code.
template <typename Fn>
Napi::Value call(const Napi::CallbackInfo& info, Fn fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    std::string code, message;
    describe_current_exception(code, message);
    throw make_error(info.Env(), code, message);
  }
}

}  // namespace

Napi::Value ExchangePaths(const Napi::CallbackInfo& info) {
  return call(info, [&]() -> Napi::Value {
    poser::exchange_paths(string_arg(info, 0, "path"), string_arg(info, 1, "path"));
    return info.Env().Undefined();
  });
}

Napi::Value LockPath(const Napi::CallbackInfo& info) {
  return call(info, [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(), poser::lock_path(string_arg(info, 0, "lock path")));
  });
}

Napi::Value UnlockPath(const Napi::CallbackInfo& info) {
  return call(info, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsNumber()) throw make_error(info.Env(), "E_ARG", "lock descriptor must be a number");
    poser::unlock_path(info[0].As<Napi::Number>().Int32Value(), string_arg(info, 1, "lock path"));
    return info.Env().Undefined();
  });
}

}  // namespace poser_addon
