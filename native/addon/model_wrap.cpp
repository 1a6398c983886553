#include "model_wrap.h"

#include <set>

#include "convert.h"
#include "errors.h"
#include "gguf.h"
#include "worker.h"

namespace poser_addon {

namespace {

// Per-environment data: the class constructor and the live wrappers, whose
// models are released when the environment is torn down.
struct Registry {
  Napi::FunctionReference constructor;
  std::shared_ptr<std::set<ModelWrap*>> live = std::make_shared<std::set<ModelWrap*>>();
  ~Registry() {
    for (ModelWrap* wrap : *live) wrap->Release();
  }
};

Registry& registry(Napi::Env env) { return *env.GetInstanceData<Registry>(); }

Napi::Object arg_object(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsObject()) throw poser::Error("E_ARG", std::string(what) + " must be an object");
  return info[i].As<Napi::Object>();
}

std::string arg_string(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) throw poser::Error("E_ARG", std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// A JS array of to_js(env, item) for the items.
template <typename T, typename Fn>
Napi::Array js_array(Napi::Env env, const std::vector<T>& items, Fn to_js) {
  Napi::Array arr = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); ++i) arr.Set(static_cast<uint32_t>(i), to_js(env, items[i]));
  return arr;
}

Napi::Array js_strings(Napi::Env env, const std::vector<std::string>& items) {
  return js_array(env, items, [](Napi::Env e, const std::string& s) { return Napi::String::New(e, s); });
}

double arg_number(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber()) throw poser::Error("E_ARG", std::string(what) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

poser::LlamaConfig parse_config(const Napi::Object& c) {
  poser::LlamaConfig config;
  config.vocab_size = static_cast<int64_t>(get_number(c, "vocab_size", 0));
  config.hidden_size = static_cast<int64_t>(get_number(c, "hidden_size", 0));
  config.intermediate_size = static_cast<int64_t>(get_number(c, "intermediate_size", 0));
  config.num_hidden_layers = static_cast<int64_t>(get_number(c, "num_hidden_layers", 0));
  config.num_attention_heads = static_cast<int64_t>(get_number(c, "num_attention_heads", 0));
  config.num_key_value_heads = static_cast<int64_t>(get_number(c, "num_key_value_heads", config.num_attention_heads));
  config.explicit_head_dim = static_cast<int64_t>(get_number(c, "head_dim", 0));
  config.max_position_embeddings = static_cast<int64_t>(get_number(c, "max_position_embeddings", 0));
  config.rms_norm_eps = get_number(c, "rms_norm_eps", config.rms_norm_eps);
  config.tie_word_embeddings = get_bool(c, "tie_word_embeddings", false);
  // The rope block as src/model/config.ts validated it (RopeSpec).
  auto rope_value = c.Get("rope");
  if (!rope_value.IsObject()) throw poser::Error("E_ARG", "config.rope must be an object");
  auto rope = rope_value.As<Napi::Object>();
  config.rope.type = poser::RopeSpec::parse_type(get_string(rope, "type", "default"));
  config.rope.theta = get_number(rope, "theta", config.rope.theta);
  config.rope.factor = get_number(rope, "factor", 1.0);
  config.rope.low_freq_factor = get_number(rope, "low_freq_factor", 0.0);
  config.rope.high_freq_factor = get_number(rope, "high_freq_factor", 0.0);
  config.rope.original_max_position_embeddings =
      static_cast<int64_t>(get_number(rope, "original_max_position_embeddings", 0));
  config.validate();
  return config;
}

// A training request: batch, loss, optional ops.
struct TrainRequest {
  poser::Batch batch;
  poser::LossSpec loss;
  std::vector<poser::Intervention> ops;
  double max_grad_norm = 0;
};

TrainRequest parse_train(const Napi::Object& req, const poser::LlamaConfig& c) {
  TrainRequest r;
  r.batch = parse_batch(req);
  r.loss = parse_loss(req, r.batch.ids.size(0), r.batch.ids.size(1));
  r.ops = parse_ops(req.Get("ops"), r.batch.ids.size(0), c.num_hidden_layers);
  r.max_grad_norm = get_number(req, "maxGradNorm", 0);
  return r;
}

Napi::Value undefined_result(Napi::Env env) { return env.Undefined(); }

}  // namespace

Napi::Function ModelWrap::Define(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "NativeModel",
                                    {
                                        InstanceMethod("forward", &ModelWrap::Forward),
                                        InstanceMethod("sweep", &ModelWrap::Sweep),
                                        InstanceMethod("generate", &ModelWrap::Generate),
                                        InstanceMethod("setTrainable", &ModelWrap::SetTrainable),
                                        InstanceMethod("addLora", &ModelWrap::AddLora),
                                        InstanceMethod("addMlpAdapter", &ModelWrap::AddMlpAdapter),
                                        InstanceMethod("removeAdapters", &ModelWrap::RemoveAdapters),
                                        InstanceMethod("configureOptimizer", &ModelWrap::ConfigureOptimizer),
                                        InstanceMethod("setLearningRate", &ModelWrap::SetLearningRate),
                                        InstanceMethod("trainStep", &ModelWrap::TrainStep),
                                        InstanceMethod("backward", &ModelWrap::Backward),
                                        InstanceMethod("zeroGrad", &ModelWrap::ZeroGrad),
                                        InstanceMethod("evaluateLoss", &ModelWrap::EvaluateLoss),
                                        InstanceMethod("getParameter", &ModelWrap::GetParameter),
                                        InstanceMethod("getGrad", &ModelWrap::GetGrad),
                                        InstanceMethod("setParameter", &ModelWrap::SetParameter),
                                        InstanceMethod("save", &ModelWrap::Save),
                                        InstanceMethod("parameterNames", &ModelWrap::ParameterNames),
                                        InstanceMethod("dispose", &ModelWrap::Dispose),
                                    });
  auto* reg = new Registry();
  reg->constructor = Napi::Persistent(ctor);
  env.SetInstanceData<Registry>(reg);  // deleted (and models released) at environment teardown
  return ctor;
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  live_ = registry(info.Env()).live;
  live_.lock()->insert(this);
}

ModelWrap::~ModelWrap() {
  Release();
  if (auto live = live_.lock()) live->erase(this);  // gone after environment teardown
}

Napi::Object ModelWrap::Create(Napi::Env env, std::shared_ptr<ModelState> state) {
  Napi::Object obj = registry(env).constructor.New({});
  ModelWrap::Unwrap(obj)->state_ = std::move(state);
  return obj;
}

void ModelWrap::Release() {
  if (!state_) return;
  // A job in flight holds its own reference; the model dies after it.
  std::shared_ptr<ModelState> state = std::move(state_);
  std::unique_lock<std::mutex> lock(state->mutex, std::try_to_lock);
  if (lock.owns_lock()) state->model.reset();
}

std::shared_ptr<ModelState> ModelWrap::Live(const char* method) {
  if (!state_) throw poser::Error("E_DISPOSED", std::string(method) + ": the model has been disposed");
  return state_;
}

Napi::Value ModelWrap::Run(const Napi::CallbackInfo& info, const char* method,
                           std::function<void(poser::LlamaModel&)> work,
                           std::function<Napi::Value(Napi::Env)> result) {
  auto state = Live(method);
  auto* worker = new PromiseWorker(
      info.Env(),
      [state, work = std::move(work), method]() {
        std::lock_guard<std::mutex> lock(state->mutex);
        if (!state->model) throw poser::Error("E_DISPOSED", std::string(method) + ": the model has been disposed");
        work(*state->model);
      },
      std::move(result), info.This().As<Napi::Object>());
  return worker->Queue();
}

ModelWrap::BatchCall ModelWrap::ReadBatchCall(const Napi::CallbackInfo& info, const char* method) {
  auto state = Live(method);
  auto req = arg_object(info, 0, (std::string(method) + " request").c_str());
  return {req, std::make_shared<poser::Batch>(parse_batch(req)), state->model->config().num_hidden_layers};
}

Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    const BatchCall call = ReadBatchCall(info, "forward");
    auto batch = call.batch;
    auto logits = parse_logits(call.req, batch->ids.size(0));
    auto ops = parse_ops(call.req.Get("ops"), batch->ids.size(0), call.layers);
    auto out = std::make_shared<poser::ForwardResult>();
    return Run(
        info, "forward", [=](poser::LlamaModel& m) { *out = m.forward(*batch, logits, ops); },
        [out](Napi::Env env) { return forward_result_to_js(env, *out); });
  });
}

Napi::Value ModelWrap::Sweep(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    const BatchCall call = ReadBatchCall(info, "sweep");
    auto batch = call.batch;
    auto settings_value = call.req.Get("settings");
    if (!settings_value.IsArray()) throw poser::Error("E_ARG", "settings must be an array of op lists");
    auto settings_arr = settings_value.As<Napi::Array>();
    std::vector<std::vector<poser::Intervention>> settings;
    for (uint32_t i = 0; i < settings_arr.Length(); ++i)
      settings.push_back(parse_ops(settings_arr.Get(i), batch->ids.size(0), call.layers));
    auto out = std::make_shared<std::vector<poser::ForwardResult>>();
    return Run(
        info, "sweep", [=](poser::LlamaModel& m) { *out = m.sweep_last(*batch, settings); },
        [out](Napi::Env env) -> Napi::Value { return js_array(env, *out, forward_result_to_js); });
  });
}

Napi::Value ModelWrap::Generate(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    const BatchCall call = ReadBatchCall(info, "generate");
    auto batch = call.batch;
    const auto& req = call.req;
    const int64_t b = batch->ids.size(0);
    auto prompt_ops = parse_ops(req.Get("promptOps"), b, call.layers);
    auto step_ops = parse_ops(req.Get("stepOps"), 1, call.layers);
    poser::GenerateSpec spec;
    spec.max_new_tokens = static_cast<int64_t>(get_number(req, "maxNewTokens", 16));
    spec.temperature = get_number(req, "temperature", 0);
    spec.top_k = static_cast<int64_t>(get_number(req, "topK", 0));
    spec.seed = static_cast<uint64_t>(get_number(req, "seed", 0));
    auto stop = req.Get("stop");
    if (stop.IsArray())
      for (uint32_t i = 0; i < stop.As<Napi::Array>().Length(); ++i) {
        auto seq = stop.As<Napi::Array>().Get(i);
        if (!seq.IsTypedArray()) throw poser::Error("E_ARG", "stop sequences must be Int32Arrays");
        auto t = int_tensor(seq, {static_cast<int64_t>(seq.As<Napi::TypedArray>().ElementLength())}, "stop sequence");
        spec.stop.emplace_back(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
      }
    auto out = std::make_shared<poser::GenerateResult>();
    return Run(
        info, "generate", [=](poser::LlamaModel& m) { *out = m.generate(*batch, spec, prompt_ops, step_ops); },
        [out](Napi::Env env) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          auto tokens = out->tokens.to(torch::kInt32).contiguous();
          auto ids = Napi::Int32Array::New(env, tokens.numel());
          std::copy(tokens.data_ptr<int32_t>(), tokens.data_ptr<int32_t>() + tokens.numel(), ids.Data());
          o.Set("tokens", ids);
          o.Set("width", Napi::Number::New(env, static_cast<double>(tokens.size(1))));
          Napi::Array lengths = Napi::Array::New(env, out->lengths.numel());
          Napi::Array stopped = Napi::Array::New(env, out->stopped.numel());
          for (int64_t r = 0; r < out->lengths.numel(); ++r) {
            lengths.Set(static_cast<uint32_t>(r), Napi::Number::New(env, static_cast<double>(out->lengths[r].item<int64_t>())));
            stopped.Set(static_cast<uint32_t>(r), Napi::Boolean::New(env, out->stopped[r].item<bool>()));
          }
          o.Set("lengths", lengths);
          o.Set("stopped", stopped);
          return o;
        });
  });
}

Napi::Value ModelWrap::SetTrainable(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    auto chosen = string_array(info.Length() > 0 ? info[0] : info.Env().Undefined(), "parameter names");
    const bool adapters = info.Length() > 1 && info[1].ToBoolean().Value();
    auto names = std::make_shared<std::vector<std::string>>();
    return Run(
        info, "setTrainable", [=](poser::LlamaModel& m) { *names = m.set_trainable(chosen, adapters); },
        [names](Napi::Env env) -> Napi::Value { return js_strings(env, *names); });
  });
}

Napi::Value ModelWrap::AddLora(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    auto modules = string_array(info.Length() > 0 ? info[0] : info.Env().Undefined(), "modules");
    const auto rank = static_cast<int64_t>(arg_number(info, 1, "rank"));
    const double alpha = arg_number(info, 2, "alpha");
    const auto seed = static_cast<uint64_t>(arg_number(info, 3, "seed"));
    return Run(
        info, "addLora", [=](poser::LlamaModel& m) { m.add_lora(modules, rank, alpha, seed); }, undefined_result);
  });
}

Napi::Value ModelWrap::AddMlpAdapter(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    const auto layer = static_cast<int64_t>(arg_number(info, 0, "layer"));
    const auto rank = static_cast<int64_t>(arg_number(info, 1, "rank"));
    const double alpha = arg_number(info, 2, "alpha");
    const auto seed = static_cast<uint64_t>(arg_number(info, 3, "seed"));
    return Run(
        info, "addMlpAdapter", [=](poser::LlamaModel& m) { m.add_mlp_adapter(layer, rank, alpha, seed); },
        undefined_result);
  });
}

Napi::Value ModelWrap::RemoveAdapters(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    return Run(info, "removeAdapters", [](poser::LlamaModel& m) { m.remove_adapters(); }, undefined_result);
  });
}

Napi::Value ModelWrap::ConfigureOptimizer(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    auto spec = parse_optimizer(arg_object(info, 0, "optimizer"));
    return Run(
        info, "configureOptimizer", [=](poser::LlamaModel& m) { m.configure_optimizer(spec); }, undefined_result);
  });
}

Napi::Value ModelWrap::SetLearningRate(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    const double lr = arg_number(info, 0, "learning rate");
    return Run(info, "setLearningRate", [=](poser::LlamaModel& m) { m.set_learning_rate(lr); }, undefined_result);
  });
}

Napi::Value ModelWrap::TrainStep(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    auto state = Live("trainStep");
    auto req = std::make_shared<TrainRequest>(parse_train(arg_object(info, 0, "train request"), state->model->config()));
    auto out = std::make_shared<poser::StepResult>();
    return Run(
        info, "trainStep",
        [=](poser::LlamaModel& m) { *out = m.train_step(req->batch, req->loss, req->ops, req->max_grad_norm); },
        [out](Napi::Env env) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("loss", out->loss);
          o.Set("gradNorm", out->grad_norm);
          return o;
        });
  });
}

Napi::Value ModelWrap::LossCall(const Napi::CallbackInfo& info, const char* method, LossMethod fn) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    auto state = Live(method);
    auto req = std::make_shared<TrainRequest>(parse_train(arg_object(info, 0, "loss request"), state->model->config()));
    auto loss = std::make_shared<double>(0);
    return Run(
        info, method, [=](poser::LlamaModel& m) { *loss = (m.*fn)(req->batch, req->loss, req->ops); },
        [loss](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, *loss); });
  });
}

Napi::Value ModelWrap::Backward(const Napi::CallbackInfo& info) {
  return LossCall(info, "backward", &poser::LlamaModel::backward);
}

Napi::Value ModelWrap::ZeroGrad(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    return Run(info, "zeroGrad", [](poser::LlamaModel& m) { m.zero_grad(); }, undefined_result);
  });
}

Napi::Value ModelWrap::EvaluateLoss(const Napi::CallbackInfo& info) {
  return LossCall(info, "evaluateLoss", &poser::LlamaModel::evaluate_loss);
}

Napi::Value ModelWrap::TensorCall(const Napi::CallbackInfo& info, const char* method, TensorMethod fn) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    const std::string name = arg_string(info, 0, "parameter name");
    auto out = std::make_shared<torch::Tensor>();
    return Run(
        info, method, [=](poser::LlamaModel& m) { *out = (m.*fn)(name); },
        [out](Napi::Env env) { return tensor_to_js(env, *out); });
  });
}

Napi::Value ModelWrap::GetParameter(const Napi::CallbackInfo& info) {
  return TensorCall(info, "getParameter", &poser::LlamaModel::get);
}

Napi::Value ModelWrap::GetGrad(const Napi::CallbackInfo& info) {
  return TensorCall(info, "getGrad", &poser::LlamaModel::grad);
}

Napi::Value ModelWrap::SetParameter(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    const std::string name = arg_string(info, 0, "parameter name");
    auto shape_arr = info.Length() > 2 && info[2].IsArray() ? info[2].As<Napi::Array>() : Napi::Array::New(info.Env());
    std::vector<int64_t> shape;
    for (uint32_t i = 0; i < shape_arr.Length(); ++i) shape.push_back(shape_arr.Get(i).As<Napi::Number>().Int64Value());
    auto value = float_tensor(info.Length() > 1 ? info[1] : info.Env().Undefined(), shape, "parameter value");
    return Run(info, "setParameter", [=](poser::LlamaModel& m) { m.set(name, value); }, undefined_result);
  });
}

Napi::Value ModelWrap::Save(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    const std::string path = arg_string(info, 0, "path");
    const std::string what = arg_string(info, 1, "save content");
    poser::LlamaModel::SaveContent content;
    if (what == "merged") content = poser::LlamaModel::SaveContent::Merged;
    else if (what == "base") content = poser::LlamaModel::SaveContent::Base;
    else if (what == "adapters") content = poser::LlamaModel::SaveContent::Adapters;
    else throw poser::Error("E_ARG", "save content must be 'merged', 'base' or 'adapters', got '" + what + "'");
    std::map<std::string, std::string> metadata;
    if (info.Length() > 2 && info[2].IsObject()) {
      auto obj = info[2].As<Napi::Object>();
      auto keys = obj.GetPropertyNames();
      for (uint32_t i = 0; i < keys.Length(); ++i) {
        const std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
        metadata[key] = obj.Get(key).ToString().Utf8Value();
      }
    }
    return Run(
        info, "save", [=](poser::LlamaModel& m) { m.save(path, content, metadata); }, undefined_result);
  });
}

Napi::Value ModelWrap::ParameterNames(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    auto names = std::make_shared<std::vector<std::string>>();
    auto adapters = std::make_shared<std::vector<std::string>>();
    return Run(
        info, "parameterNames",
        [=](poser::LlamaModel& m) {
          *names = m.parameter_names();
          *adapters = m.adapter_names();
        },
        [names, adapters](Napi::Env env) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("parameters", js_strings(env, *names));
          o.Set("adapters", js_strings(env, *adapters));
          return o;
        });
  });
}

Napi::Value ModelWrap::Dispose(const Napi::CallbackInfo& info) {
  Release();
  return info.Env().Undefined();
}

Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    const std::string dir = arg_string(info, 0, "model directory");
    auto config = parse_config(arg_object(info, 1, "config"));
    poser::LoadOptions options;
    std::string format = "safetensors";  // a directory; "gguf": one GGUF file
    if (info.Length() > 2 && info[2].IsObject()) {
      auto o = info[2].As<Napi::Object>();
      // The device arrives parsed (src/device.ts): a type and an index.
      const std::string type = get_string(o, "deviceType", "cpu");
      const auto index = static_cast<int64_t>(get_number(o, "deviceIndex", 0));
      if (type != "cpu" && type != "cuda") throw poser::Error("E_DEVICE", "device type '" + type + "' is not cpu or cuda");
      if (index < 0 || index > 127) throw poser::Error("E_DEVICE", "device index " + std::to_string(index) + " out of range");
      options.device = type == "cpu" ? torch::Device(torch::kCPU)
                                     : torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
      options.dtype = get_string(o, "dtype", "");
      options.mmap = get_bool(o, "mmap", false);
      format = get_string(o, "format", format);
    }
    if (format != "safetensors" && format != "gguf")
      throw poser::Error("E_ARG", "unknown model format '" + format + "' (expected safetensors or gguf)");
    auto state = std::make_shared<ModelState>();
    auto* worker = new PromiseWorker(
        info.Env(),
        [=]() {
          if (format == "gguf")
            state->model = std::make_unique<poser::LlamaModel>(config, poser::load_gguf_llama_weights(dir, config), options);
          else
            state->model = poser::LlamaModel::load(dir, config, options);
        },
        [state](Napi::Env env) -> Napi::Value { return ModelWrap::Create(env, state); });
    return worker->Queue();
  });
}

}  // namespace poser_addon
