// A promise-returning job on the libuv thread pool. The work lambda runs on a
// worker thread and touches no N-API; the result lambda runs back on the main
// thread and builds the JS value. Every C++ exception thrown by the work,
// including c10::Error, becomes a rejected promise with a `code`.
#pragma once

#include <napi.h>

#include <functional>
#include <string>

namespace poser_addon {

// Builds a JS Error with `code` and `poserCode` set.
Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message);

// Classifies the exception currently being handled into (code, message).
void describe_current_exception(std::string& code, std::string& message);

class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Result = std::function<Napi::Value(Napi::Env)>;

  // `keep_alive` (e.g. the JS model object) stays referenced until the job ends.
  PromiseWorker(Napi::Env env, Work work, Result result, Napi::Object keep_alive = Napi::Object());

  Napi::Promise Queue();  // schedules the job and returns its promise

 protected:
  void Execute() override;
  void OnOK() override;
  void OnError(const Napi::Error& error) override;

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  Result result_;
  Napi::ObjectReference keep_alive_;
  std::string code_, message_;
};

// The intra-op thread count every job runs with. libtorch's OpenMP backend
// keeps the count per thread, fixed when a thread first runs a parallel op,
// so a libuv worker would otherwise keep the count of its first job after
// setNumThreads changed it (population training lowers it to 1 per model).
// With `blas`, OpenBLAS's pool follows too (blas_threads.h); at load time it
// does not, so that a user's OPENBLAS_NUM_THREADS holds until setNumThreads.
void set_job_threads(int threads, bool blas);
int job_threads();

// Runs `fn` now on the main thread (argument conversion); an exception becomes
// a rejected promise instead of a throw, so every entry point answers alike.
Napi::Value reject_on_throw(Napi::Env env, const std::function<Napi::Value()>& fn);

}  // namespace poser_addon
