// fitLogistic(x, n, d, y, options) -> Promise<{ coef, intercept, iterations, converged }>
#include "probe_wrap.h"

#include "convert.h"
#include "errors.h"
#include "probe.h"
#include "worker.h"

namespace poser_addon {

Napi::Value FitLogistic(const Napi::CallbackInfo& info) {
  return reject_on_throw(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 5 || !info[1].IsNumber() || !info[2].IsNumber() || !info[4].IsObject())
      throw poser::Error("E_ARG", "fitLogistic(x, n, d, y, options)");
    const int64_t n = info[1].As<Napi::Number>().Int64Value();
    const int64_t d = info[2].As<Napi::Number>().Int64Value();
    if (n <= 0 || d <= 0) throw poser::Error("E_ARG", "fitLogistic: empty feature matrix");
    auto x = float_tensor(info[0], {n, d}, "features");
    auto y = int_tensor(info[3], {n}, "labels");
    auto o = info[4].As<Napi::Object>();
    poser::LogisticOptions options;
    options.C = get_number(o, "C", options.C);
    options.fit_intercept = get_bool(o, "fitIntercept", options.fit_intercept);
    options.max_iter = static_cast<int64_t>(get_number(o, "maxIter", static_cast<double>(options.max_iter)));
    options.tol = get_number(o, "tol", options.tol);
    auto out = std::make_shared<poser::LogisticProbe>();
    auto* worker = new PromiseWorker(
        info.Env(), [=]() { *out = poser::fit_logistic(x, y, options); },
        [out](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          r.Set("coef", tensor_to_js(env, out->coef));
          r.Set("intercept", out->intercept);
          r.Set("iterations", static_cast<double>(out->iterations));
          r.Set("converged", out->converged);
          return r;
        });
    return worker->Queue();
  });
}

}  // namespace poser_addon
