// The JS class wrapping one loaded model. Every compute method returns a
// promise and runs on the thread pool; calls on one model are serialised by a
// mutex (the TypeScript layer also queues them, so they run in call order).
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>
#include <set>

#include "model.h"

namespace poser_addon {

struct ModelState {
  std::mutex mutex;
  std::unique_ptr<poser::LlamaModel> model;
};

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);
  ~ModelWrap() override;

  // Creates the JS object owning `state` (called once loading succeeded).
  static Napi::Object Create(Napi::Env env, std::shared_ptr<ModelState> state);
  void Release();  // drops the model (dispose / environment teardown)

 private:
  std::shared_ptr<ModelState> Live(const char* method);  // throws E_DISPOSED
  // Queues `work(model)` and resolves with `result(env)`.
  Napi::Value Run(const Napi::CallbackInfo& info, const char* method,
                  std::function<void(poser::LlamaModel&)> work, std::function<Napi::Value(Napi::Env)> result);

  // The request of a batched call (forward, sweep, generate): its object, its
  // batch, and the model's layer count that its ops are checked against.
  struct BatchCall {
    Napi::Object req;
    std::shared_ptr<poser::Batch> batch;
    int64_t layers;
  };
  BatchCall ReadBatchCall(const Napi::CallbackInfo& info, const char* method);

  // A loss request in, the loss out (backward, evaluateLoss).
  using LossMethod = double (poser::LlamaModel::*)(const poser::Batch&, const poser::LossSpec&,
                                                   const std::vector<poser::Intervention>&);
  Napi::Value LossCall(const Napi::CallbackInfo& info, const char* method, LossMethod fn);
  // A parameter name in, a tensor out (getParameter, getGrad).
  using TensorMethod = torch::Tensor (poser::LlamaModel::*)(const std::string&) const;
  Napi::Value TensorCall(const Napi::CallbackInfo& info, const char* method, TensorMethod fn);

  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value Sweep(const Napi::CallbackInfo& info);
  Napi::Value Generate(const Napi::CallbackInfo& info);
  Napi::Value SetTrainable(const Napi::CallbackInfo& info);
  Napi::Value AddLora(const Napi::CallbackInfo& info);
  Napi::Value AddMlpAdapter(const Napi::CallbackInfo& info);
  Napi::Value RemoveAdapters(const Napi::CallbackInfo& info);
  Napi::Value ConfigureOptimizer(const Napi::CallbackInfo& info);
  Napi::Value SetLearningRate(const Napi::CallbackInfo& info);
  Napi::Value TrainStep(const Napi::CallbackInfo& info);
  Napi::Value Backward(const Napi::CallbackInfo& info);
  Napi::Value ZeroGrad(const Napi::CallbackInfo& info);
  Napi::Value EvaluateLoss(const Napi::CallbackInfo& info);
  Napi::Value GetParameter(const Napi::CallbackInfo& info);
  Napi::Value GetGrad(const Napi::CallbackInfo& info);
  Napi::Value SetParameter(const Napi::CallbackInfo& info);
  Napi::Value Save(const Napi::CallbackInfo& info);
  Napi::Value ParameterNames(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<ModelState> state_;
  std::weak_ptr<std::set<ModelWrap*>> live_;
};

// loadModel(dir, config, { device, dtype }) -> Promise<ModelWrap>
Napi::Value LoadModel(const Napi::CallbackInfo& info);

}  // namespace poser_addon
