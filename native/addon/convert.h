// Conversions between JS values and the core's C++ request/result types.
// Runs on the main thread only; every input is copied so the worker never
// touches JS memory.
#pragma once

#include <napi.h>

#include <torch/torch.h>

#include <string>
#include <vector>

#include "model.h"

namespace poser_addon {

// Typed array of the named kind, copied into a new tensor of `shape`.
torch::Tensor int_tensor(const Napi::Value& value, const std::vector<int64_t>& shape, const char* what);
torch::Tensor float_tensor(const Napi::Value& value, const std::vector<int64_t>& shape, const char* what);

// { data: Float32Array|Float64Array (viewing the tensor's memory), shape: number[] }
Napi::Value tensor_to_js(Napi::Env env, const torch::Tensor& tensor);

double get_number(const Napi::Object& obj, const char* key, double fallback);
std::string get_string(const Napi::Object& obj, const char* key, const std::string& fallback);
bool get_bool(const Napi::Object& obj, const char* key, bool fallback);
std::vector<std::string> string_array(const Napi::Value& value, const char* what);

// { ids: Int32Array, mask: Uint8Array, batch, length }
poser::Batch parse_batch(const Napi::Object& req);
// { logits: { mode: 'none'|'all'|'index', index?: Int32Array, k?: number } }
poser::LogitsSpec parse_logits(const Napi::Object& req, int64_t batch);
// [{ hook, op, all, index?, k?, value?, valueRows?, scale?, noise? }]
// Ops with hook ordinals and value widths resolved in TypeScript; only ranges
// are checked here.
std::vector<poser::Intervention> parse_ops(const Napi::Value& value, int64_t batch, int64_t layers);
// { kind: 'answer'|'lm', targets?: Int32Array, lossMask?: Uint8Array }
poser::LossSpec parse_loss(const Napi::Object& req, int64_t batch, int64_t length);
poser::OptimizerSpec parse_optimizer(const Napi::Object& spec);

// { logits?: {data, shape}, captures: ({data, shape} | null)[] }
Napi::Value forward_result_to_js(Napi::Env env, const poser::ForwardResult& result);

}  // namespace poser_addon
