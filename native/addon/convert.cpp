#include "convert.h"

#include "errors.h"

namespace poser_addon {

namespace {

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

void check_length(size_t got, const std::vector<int64_t>& shape, const char* what) {
  if (static_cast<int64_t>(got) != numel_of(shape))
    throw poser::Error("E_ARG", std::string(what) + ": expected " + std::to_string(numel_of(shape)) +
                                    " elements, got " + std::to_string(got));
}

template <typename T>
torch::Tensor copy_typed(const Napi::TypedArray& arr, torch::ScalarType type, const std::vector<int64_t>& shape,
                         const char* what) {
  auto typed = arr.As<Napi::TypedArrayOf<T>>();
  check_length(typed.ElementLength(), shape, what);
  return torch::from_blob(typed.Data(), shape, type).clone();
}

}  // namespace

torch::Tensor int_tensor(const Napi::Value& value, const std::vector<int64_t>& shape, const char* what) {
  if (!value.IsTypedArray()) throw poser::Error("E_ARG", std::string(what) + " must be a typed array");
  auto arr = value.As<Napi::TypedArray>();
  switch (arr.TypedArrayType()) {
    case napi_int32_array:
      return copy_typed<int32_t>(arr, torch::kInt32, shape, what).to(torch::kLong);
    case napi_uint8_array:
      return copy_typed<uint8_t>(arr, torch::kUInt8, shape, what).to(torch::kLong);
    case napi_bigint64_array:
      return copy_typed<int64_t>(arr, torch::kLong, shape, what);
    default:
      throw poser::Error("E_ARG", std::string(what) + " must be an Int32Array, Uint8Array or BigInt64Array");
  }
}

torch::Tensor float_tensor(const Napi::Value& value, const std::vector<int64_t>& shape, const char* what) {
  if (!value.IsTypedArray()) throw poser::Error("E_ARG", std::string(what) + " must be a Float32Array or Float64Array");
  auto arr = value.As<Napi::TypedArray>();
  switch (arr.TypedArrayType()) {
    case napi_float32_array:
      return copy_typed<float>(arr, torch::kFloat32, shape, what);
    case napi_float64_array:
      return copy_typed<double>(arr, torch::kFloat64, shape, what);
    default:
      throw poser::Error("E_ARG", std::string(what) + " must be a Float32Array or Float64Array");
  }
}

Napi::Value tensor_to_js(Napi::Env env, const torch::Tensor& tensor) {
  auto t = tensor.to(torch::kCPU).contiguous();
  if (t.scalar_type() != torch::kFloat64) t = t.to(torch::kFloat32);
  auto* holder = new torch::Tensor(t);
  const size_t bytes = static_cast<size_t>(t.numel()) * t.element_size();
  // The ArrayBuffer views the tensor's memory and owns a reference to it.
  auto buffer = bytes == 0 ? Napi::ArrayBuffer::New(env, 0)
                           : Napi::ArrayBuffer::New(env, t.data_ptr(), bytes,
                                                    [](Napi::Env, void*, torch::Tensor* h) { delete h; }, holder);
  if (bytes == 0) delete holder;
  Napi::Object out = Napi::Object::New(env);
  if (t.scalar_type() == torch::kFloat64)
    out.Set("data", Napi::Float64Array::New(env, t.numel(), buffer, 0));
  else
    out.Set("data", Napi::Float32Array::New(env, t.numel(), buffer, 0));
  Napi::Array shape = Napi::Array::New(env, t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, t.size(i)));
  out.Set("shape", shape);
  return out;
}

double get_number(const Napi::Object& obj, const char* key, double fallback) {
  auto v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw poser::Error("E_ARG", std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

std::string get_string(const Napi::Object& obj, const char* key, const std::string& fallback) {
  auto v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) throw poser::Error("E_ARG", std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

bool get_bool(const Napi::Object& obj, const char* key, bool fallback) {
  auto v = obj.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  return v.ToBoolean().Value();
}

std::vector<std::string> string_array(const Napi::Value& value, const char* what) {
  if (!value.IsArray()) throw poser::Error("E_ARG", std::string(what) + " must be an array of strings");
  auto arr = value.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value item = arr.Get(i);
    if (!item.IsString()) throw poser::Error("E_ARG", std::string(what) + " must be an array of strings");
    out.push_back(item.As<Napi::String>().Utf8Value());
  }
  return out;
}

poser::Batch parse_batch(const Napi::Object& req) {
  const auto b = static_cast<int64_t>(get_number(req, "batch", 0));
  const auto t = static_cast<int64_t>(get_number(req, "length", 0));
  if (b <= 0 || t <= 0) throw poser::Error("E_ARG", "empty batch");
  poser::Batch batch;
  batch.ids = int_tensor(req.Get("ids"), {b, t}, "ids");
  batch.mask = int_tensor(req.Get("mask"), {b, t}, "mask");
  return batch;
}

poser::LogitsSpec parse_logits(const Napi::Object& req, int64_t batch) {
  poser::LogitsSpec spec;
  auto v = req.Get("logits");
  if (!v.IsObject()) {
    spec.mode = poser::LogitsSpec::Mode::None;
    return spec;
  }
  auto obj = v.As<Napi::Object>();
  const std::string mode = get_string(obj, "mode", "none");
  if (mode == "none") {
    spec.mode = poser::LogitsSpec::Mode::None;
  } else if (mode == "all") {
    spec.mode = poser::LogitsSpec::Mode::All;
  } else if (mode == "index") {
    spec.mode = poser::LogitsSpec::Mode::Index;
    spec.index = int_tensor(obj.Get("index"), {batch, static_cast<int64_t>(get_number(obj, "k", 1))}, "logits.index");
  } else {
    throw poser::Error("E_ARG", "unknown logits mode '" + mode + "'");
  }
  return spec;
}

std::vector<poser::Intervention> parse_ops(const Napi::Value& value, int64_t batch, int64_t layers) {
  std::vector<poser::Intervention> ops;
  if (value.IsUndefined() || value.IsNull()) return ops;
  if (!value.IsArray()) throw poser::Error("E_ARG", "ops must be an array");
  auto arr = value.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value item = arr.Get(i);
    if (!item.IsObject()) throw poser::Error("E_ARG", "ops[" + std::to_string(i) + "] must be an object");
    auto obj = item.As<Napi::Object>();
    poser::Intervention op;
    const double ordinal = get_number(obj, "ordinal", -1);
    if (!(ordinal >= 0 && ordinal < static_cast<double>(poser::hook_count(layers))) || ordinal != static_cast<int64_t>(ordinal))
      throw poser::Error("E_ARG", "ops[" + std::to_string(i) + "]: hook ordinal " + std::to_string(ordinal) +
                                      " out of range [0, " + std::to_string(poser::hook_count(layers)) + ")");
    op.ordinal = static_cast<int64_t>(ordinal);
    op.width = static_cast<int64_t>(get_number(obj, "width", 0));
    const std::string kind = get_string(obj, "op", "capture");
    if (kind == "capture") op.op = poser::OpKind::Capture;
    else if (kind == "add") op.op = poser::OpKind::Add;
    else if (kind == "set") op.op = poser::OpKind::Set;
    else if (kind == "scale") op.op = poser::OpKind::Scale;
    else if (kind == "noise") op.op = poser::OpKind::Noise;
    else if (kind == "project_out") op.op = poser::OpKind::ProjectOut;
    else throw poser::Error("E_ARG", "unknown op '" + kind + "'");
    op.positions.all = get_bool(obj, "all", false);
    if (!op.positions.all)
      op.positions.index = int_tensor(obj.Get("index"), {batch, static_cast<int64_t>(get_number(obj, "k", 1))}, "op index");
    if (obj.Has("value") && !obj.Get("value").IsUndefined()) {
      const auto rows = static_cast<int64_t>(get_number(obj, "valueRows", 0));
      const int64_t width = op.width;
      if (width <= 0) throw poser::Error("E_ARG", "ops[" + std::to_string(i) + "]: width must be positive");
      op.value = rows > 0 ? float_tensor(obj.Get("value"), {rows, width}, "op value")
                          : float_tensor(obj.Get("value"), {width}, "op value");
    }
    op.scale = get_number(obj, "scale", 1.0);
    auto noise = obj.Get("noise");
    if (noise.IsObject()) {
      auto n = noise.As<Napi::Object>();
      op.noise.gaussian = get_string(n, "distribution", "gaussian") == "gaussian";
      op.noise.zero_mean = get_bool(n, "zeroMean", true);
      op.noise.seed = static_cast<uint64_t>(get_number(n, "seed", 0));
      op.noise.norm = get_number(n, "norm", -1);
    }
    ops.push_back(std::move(op));
  }
  return ops;
}

poser::LossSpec parse_loss(const Napi::Object& req, int64_t batch, int64_t length) {
  poser::LossSpec loss;
  auto v = req.Get("loss");
  if (!v.IsObject()) throw poser::Error("E_ARG", "loss must be an object");
  auto obj = v.As<Napi::Object>();
  const std::string kind = get_string(obj, "kind", "answer");
  if (kind == "answer") {
    loss.kind = poser::LossSpec::Kind::Answer;
    loss.targets = int_tensor(obj.Get("targets"), {batch}, "loss.targets");
  } else if (kind == "lm") {
    loss.kind = poser::LossSpec::Kind::CausalLM;
    loss.loss_mask = int_tensor(obj.Get("lossMask"), {batch, length}, "loss.lossMask");
  } else {
    throw poser::Error("E_ARG", "unknown loss kind '" + kind + "'");
  }
  return loss;
}

poser::OptimizerSpec parse_optimizer(const Napi::Object& obj) {
  poser::OptimizerSpec s;
  s.kind = get_string(obj, "kind", "adamw");
  s.lr = get_number(obj, "lr", s.lr);
  s.beta1 = get_number(obj, "beta1", s.beta1);
  s.beta2 = get_number(obj, "beta2", s.beta2);
  s.eps = get_number(obj, "eps", s.eps);
  s.weight_decay = get_number(obj, "weightDecay", s.weight_decay);
  s.momentum = get_number(obj, "momentum", s.momentum);
  s.nesterov = get_bool(obj, "nesterov", s.nesterov);
  return s;
}

Napi::Value forward_result_to_js(Napi::Env env, const poser::ForwardResult& result) {
  Napi::Object out = Napi::Object::New(env);
  if (result.logits.defined()) out.Set("logits", tensor_to_js(env, result.logits));
  Napi::Array captures = Napi::Array::New(env, result.captures.size());
  for (size_t i = 0; i < result.captures.size(); ++i)
    captures.Set(static_cast<uint32_t>(i),
                 result.captures[i].defined() ? tensor_to_js(env, result.captures[i]) : env.Null());
  out.Set("captures", captures);
  return out;
}

}  // namespace poser_addon
