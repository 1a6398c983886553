#include "worker.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <atomic>

#include "blas_threads.h"
#include "errors.h"

namespace poser_addon {

namespace {
std::atomic<int> g_job_threads{0};
}  // namespace

void set_job_threads(int threads, bool blas) {
  g_job_threads.store(threads);
  at::set_num_threads(threads);
  if (blas) set_blas_threads(threads);
}

int job_threads() { return g_job_threads.load(); }

Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  error.Set("poserCode", Napi::String::New(env, code));
  return error;
}

void describe_current_exception(std::string& code, std::string& message) {
  try {
    throw;
  } catch (const poser::Error& e) {
    code = e.code();
    message = e.what();
  } catch (const c10::Error& e) {
    code = "E_TORCH";
    message = e.what_without_backtrace();
  } catch (const Napi::Error& e) {
    code = "E_ARG";
    message = e.Message();
  } catch (const std::bad_alloc&) {
    code = "E_MEMORY";
    message = "out of memory";
  } catch (const std::exception& e) {
    code = "E_NATIVE";
    message = e.what();
  } catch (...) {
    code = "E_NATIVE";
    message = "unknown native error";
  }
}

PromiseWorker::PromiseWorker(Napi::Env env, Work work, Result result, Napi::Object keep_alive)
    : Napi::AsyncWorker(env, "poser"), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)),
      result_(std::move(result)) {
  if (!keep_alive.IsEmpty()) keep_alive_ = Napi::Persistent(keep_alive);
}

Napi::Promise PromiseWorker::Queue() {
  Napi::Promise promise = deferred_.Promise();
  Napi::AsyncWorker::Queue();
  return promise;
}

void PromiseWorker::Execute() {
  try {
    const int want = g_job_threads.load();
    if (want > 0 && at::get_num_threads() != want) at::set_num_threads(want);
    work_();
  } catch (...) {
    describe_current_exception(code_, message_);
    SetError(message_);
  }
}

void PromiseWorker::OnOK() {
  Napi::Env env = Env();
  try {
    deferred_.Resolve(result_(env));
  } catch (...) {
    std::string code, message;
    describe_current_exception(code, message);
    deferred_.Reject(make_error(env, code, message).Value());
  }
}

void PromiseWorker::OnError(const Napi::Error&) {
  deferred_.Reject(make_error(Env(), code_, message_).Value());
}

Napi::Value reject_on_throw(Napi::Env env, const std::function<Napi::Value()>& fn) {
  try {
    return fn();
  } catch (...) {
    std::string code, message;
    describe_current_exception(code, message);
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Reject(make_error(env, code, message).Value());
    return deferred.Promise();
  }
}

}  // namespace poser_addon
