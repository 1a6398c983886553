#pragma once

#include <napi.h>

namespace poser_addon {

// fitLogistic(x: Float32Array|Float64Array [n*d], n, d, y: Int32Array [n],
//             { C, fitIntercept, maxIter, tol }) -> Promise
Napi::Value FitLogistic(const Napi::CallbackInfo& info);

}  // namespace poser_addon
