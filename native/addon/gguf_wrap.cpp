// readGguf(path, { arrays }): a GGUF file's header, metadata and tensor infos
// as a JS object, for the TypeScript side to build and validate the config.
// Arrays longer than kShortArray (such as the token list) come back as a
// summary { type: 'array', elementType, length } unless `arrays` is true or
// names their key.
#include "gguf_wrap.h"

#include <memory>
#include <set>

#include "errors.h"
#include "gguf.h"
#include "worker.h"

namespace poser_addon {

namespace {

constexpr size_t kShortArray = 64;
constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

Napi::Value value_to_js(Napi::Env env, const poser::GgufValue& v, bool full_arrays) {
  using T = poser::GgufType;
  switch (v.type) {
    case T::Bool: return Napi::Boolean::New(env, v.u != 0);
    case T::String: return Napi::String::New(env, v.s);
    case T::Float32: case T::Float64: return Napi::Number::New(env, v.f);
    case T::UInt64:
      if (static_cast<double>(v.u) > kMaxSafeInteger) return Napi::BigInt::New(env, v.u);
      return Napi::Number::New(env, static_cast<double>(v.u));
    case T::Int64:
      if (std::abs(static_cast<double>(v.i)) > kMaxSafeInteger) return Napi::BigInt::New(env, v.i);
      return Napi::Number::New(env, static_cast<double>(v.i));
    case T::Array: {
      if (!full_arrays && v.items.size() > kShortArray) {
        Napi::Object summary = Napi::Object::New(env);
        summary.Set("type", "array");
        summary.Set("elementType", poser::gguf_type_name(v.elem_type));
        summary.Set("length", static_cast<double>(v.items.size()));
        return summary;
      }
      Napi::Array out = Napi::Array::New(env, v.items.size());
      for (size_t k = 0; k < v.items.size(); ++k)
        out.Set(static_cast<uint32_t>(k), value_to_js(env, v.items[k], full_arrays));
      return out;
    }
    default: return Napi::Number::New(env, v.number());
  }
}

Napi::Value file_to_js(Napi::Env env, const poser::GgufFile& f, bool all_arrays, const std::set<std::string>& keys) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("version", f.version);
  out.Set("alignment", static_cast<double>(f.alignment));
  out.Set("dataOffset", static_cast<double>(f.data_offset));
  Napi::Object metadata = Napi::Object::New(env);
  Napi::Object types = Napi::Object::New(env);
  for (const auto& [key, value] : f.metadata) {
    metadata.Set(key, value_to_js(env, value, all_arrays || keys.count(key) > 0));
    std::string type = poser::gguf_type_name(value.type);
    if (value.type == poser::GgufType::Array) type += std::string("<") + poser::gguf_type_name(value.elem_type) + ">";
    types.Set(key, type);
  }
  out.Set("metadata", metadata);
  out.Set("types", types);
  Napi::Array tensors = Napi::Array::New(env, f.tensors.size());
  for (size_t k = 0; k < f.tensors.size(); ++k) {
    const auto& t = f.tensors[k];
    Napi::Object info = Napi::Object::New(env);
    info.Set("name", t.name);
    Napi::Array shape = Napi::Array::New(env, t.shape.size());
    for (size_t d = 0; d < t.shape.size(); ++d) shape.Set(static_cast<uint32_t>(d), static_cast<double>(t.shape[d]));
    info.Set("shape", shape);
    info.Set("type", poser::ggml_type_name(t.type));
    info.Set("offset", static_cast<double>(t.offset));
    info.Set("bytes", static_cast<double>(t.nbytes));
    tensors.Set(static_cast<uint32_t>(k), info);
  }
  out.Set("tensors", tensors);
  return out;
}

}  // namespace

Napi::Value ReadGguf(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsString()) throw poser::Error("E_ARG", "readGguf: path must be a string");
    const std::string path = info[0].As<Napi::String>().Utf8Value();
    bool all_arrays = false;
    std::set<std::string> keys;
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Value arrays = info[1].As<Napi::Object>().Get("arrays");
      if (arrays.IsBoolean()) {
        all_arrays = arrays.As<Napi::Boolean>().Value();
      } else if (arrays.IsArray()) {
        Napi::Array list = arrays.As<Napi::Array>();
        for (uint32_t k = 0; k < list.Length(); ++k) {
          if (!list.Get(k).IsString()) throw poser::Error("E_ARG", "readGguf: arrays must list metadata keys");
          keys.insert(list.Get(k).As<Napi::String>().Utf8Value());
        }
      } else if (!arrays.IsUndefined()) {
        throw poser::Error("E_ARG", "readGguf: arrays must be a boolean or a list of metadata keys");
      }
    }
    auto file = std::make_shared<poser::GgufFile>();
    auto* worker = new PromiseWorker(
        info.Env(), [file, path]() { *file = poser::read_gguf(path); },
        [file, all_arrays, keys](Napi::Env env) { return file_to_js(env, *file, all_arrays, keys); });
    return worker->Queue();
  });
}

}  // namespace poser_addon
