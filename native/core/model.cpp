#include "model.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "attention_grad.h"
#include "cpu_kernels.h"
#include "errors.h"
#include "norm_mlp_grad.h"
#include "switches.h"

namespace poser {

using torch::indexing::Slice;

namespace {

std::string layer_prefix(int64_t i) { return "model.layers." + std::to_string(i) + "."; }

std::string shape_string(torch::IntArrayRef shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

// Every tensor a LlamaForCausalLM checkpoint must hold, with its shape.
std::vector<std::pair<std::string, std::vector<int64_t>>> expected_tensors(const LlamaConfig& c) {
  const int64_t d = c.hidden_size, q = c.num_attention_heads * c.head_dim(), kv = c.num_key_value_heads * c.head_dim();
  std::vector<std::pair<std::string, std::vector<int64_t>>> out = {{"model.embed_tokens.weight", {c.vocab_size, d}}};
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = layer_prefix(i);
    out.push_back({p + "input_layernorm.weight", {d}});
    out.push_back({p + "self_attn.q_proj.weight", {q, d}});
    out.push_back({p + "self_attn.k_proj.weight", {kv, d}});
    out.push_back({p + "self_attn.v_proj.weight", {kv, d}});
    out.push_back({p + "self_attn.o_proj.weight", {d, q}});
    out.push_back({p + "post_attention_layernorm.weight", {d}});
    out.push_back({p + "mlp.gate_proj.weight", {c.intermediate_size, d}});
    out.push_back({p + "mlp.up_proj.weight", {c.intermediate_size, d}});
    out.push_back({p + "mlp.down_proj.weight", {d, c.intermediate_size}});
  }
  out.push_back({"model.norm.weight", {d}});
  out.push_back({"lm_head.weight", {c.vocab_size, d}});
  return out;
}

torch::Tensor rotate_half(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}

torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  return x * cos + rotate_half(x) * sin;
}

// A forward's rows are split across the threads (run_rows_in_parallel) when
// its MLP up-projection is at most this many multiply-adds: there each op is
// too small for threading it to pay (zoo organisms, hidden 64-128: forwards
// 1.25-1.35x faster split); above it the BLAS's own threading wins
// (SmolLM2-135M, 8 x 102 tokens, 7.2e8: 4-14% slower split).
constexpr int64_t kRowSplitMaxMacs = int64_t{1} << 27;

bool row_split_enabled() {
  static const bool enabled = switch_on("POSER_SPLIT_ROWS");
  return enabled;
}

// POSER_TRIM_LAST_BLOCK=0 keeps every position in the last block (see run), to compare.
bool trim_last_block_enabled() {
  static const bool enabled = switch_on("POSER_TRIM_LAST_BLOCK");
  return enabled;
}

// Calls part(c) for every c in [0, chunks) inside one parallel region, one
// chunk per thread. Within it libtorch's parallel ops and OpenBLAS run each op
// on the calling thread alone. Inference mode is thread-local, so every worker
// sets it.
template <typename F>
void in_parallel(int64_t chunks, const F& part) {
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    c10::InferenceMode inference;
    for (int64_t c = begin; c < end; ++c) part(c);
  });
}

// Positions [B, T] of a left-padded batch's tokens from its mask: real tokens
// count from 0, padding sits at 0.
torch::Tensor positions_of(const torch::Tensor& mask) { return (mask.cumsum(-1) - 1).clamp_min(0); }

// Bytes of cached keys/values a sweep may copy to stack its settings.
constexpr int64_t kSweepCacheBytes = int64_t{256} << 20;

// Score elements per attention chunk (4 MB in float32).
constexpr int64_t kAttentionChunkElements = 1 << 20;

// softmax(q k^T + bias) for q [B, H, Tq, hd] (already scaled), k [B, KV, Tk,
// hd], bias [B, 1, Tq, Tk] -> [B, H, Tq, Tk] in v's dtype. Query head i reads
// key/value head i / rep: the rep query heads of each key/value head are
// folded into the query axis instead of copying keys and values.
torch::Tensor attention_probs(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& bias,
                              torch::ScalarType dtype) {
  const int64_t b = q.size(0), heads = q.size(1), tq = q.size(2), hd = q.size(3);
  const int64_t kv_heads = k.size(1), rep = heads / kv_heads, tk = k.size(2);
  auto scores = torch::matmul(q.reshape({b, kv_heads, rep * tq, hd}), k.transpose(-2, -1)).view({b, heads, tq, tk});
  scores = scores.scalar_type() == torch::kFloat32 ? scores.add_(bias) : scores.to(torch::kFloat32).add_(bias);
  return torch::softmax(scores, -1).to(dtype);
}

// probs [B, H, Tq, Tk] times v [B, KV, Tk, hd] -> [B, H, Tq, hd].
torch::Tensor weighted_values(const torch::Tensor& probs, const torch::Tensor& v) {
  const int64_t b = probs.size(0), heads = probs.size(1), tq = probs.size(2), tk = probs.size(3);
  const int64_t kv_heads = v.size(1), rep = heads / kv_heads;
  return torch::matmul(probs.reshape({b, kv_heads, rep * tq, tk}), v).view({b, heads, tq, v.size(3)});
}

torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const torch::Tensor& bias) {
  return weighted_values(attention_probs(q, k, bias, v.scalar_type()), v);
}

bool hooked(const std::vector<Intervention>& ops, int64_t ordinal) {
  for (const auto& op : ops)
    if (op.ordinal == ordinal) return true;
  return false;
}

// Additive attention bias [B, 1, Tq, Tk] in float32: 0 where allowed, -inf
// elsewhere. Query i (absolute position key_len - Tq + i) sees keys j <= it
// that are real tokens; a padding query also sees itself so no row is empty.
torch::Tensor attention_bias(const torch::Tensor& mask, int64_t query_len) {
  const int64_t key_len = mask.size(1);
  auto opts = torch::TensorOptions().device(mask.device());
  auto q_pos = torch::arange(key_len - query_len, key_len, opts.dtype(torch::kLong)).view({query_len, 1});
  auto k_pos = torch::arange(key_len, opts.dtype(torch::kLong)).view({1, key_len});
  auto allowed = (k_pos <= q_pos).unsqueeze(0) & mask.to(torch::kBool).unsqueeze(1);  // [B, Tq, Tk]
  allowed = allowed | (k_pos == q_pos).unsqueeze(0);
  auto bias = torch::zeros({mask.size(0), 1, query_len, key_len}, opts.dtype(torch::kFloat32));
  return bias.masked_fill(allowed.logical_not().unsqueeze(1), -std::numeric_limits<float>::infinity());
}

// Some libtorch builds lack reduced-precision matrix products on the CPU
// (1.13 has no float16 addmm there); find out at load time, not mid-forward.
void check_dtype_supported(const torch::Device& device, torch::ScalarType dtype) {
  if (dtype == torch::kFloat32) return;
  try {
    auto opts = torch::TensorOptions().device(device).dtype(dtype);
    torch::linear(torch::ones({2, 2}, opts), torch::ones({2, 2}, opts));
  } catch (const c10::Error&) {
    throw Error("E_DTYPE", std::string("compute in ") + c10::toString(dtype) + " is not supported on " + device.str() +
                               " by this libtorch; load with dtype float32 or bfloat16 (weights stored in any "
                               "dtype are converted on load)");
  }
}

}  // namespace

torch::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32" || name == "f32" || name == "fp32") return torch::kFloat32;
  if (name == "float16" || name == "f16" || name == "fp16" || name == "half") return torch::kFloat16;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  throw Error("E_DTYPE", "unknown dtype '" + name + "' (expected float32, float16 or bfloat16)");
}

void check_device(const torch::Device& device) {
  if (device.is_cpu()) return;
  const std::string name = device.str();
  if (!device.is_cuda()) throw Error("E_DEVICE", "device '" + name + "' is not supported (cpu or cuda:N)");
  if (!torch::cuda::is_available())
    throw Error("E_DEVICE", "device '" + name + "' requested, but the libtorch this addon was built against has no CUDA "
                            "support or no GPU is visible");
  const int64_t index = device.has_index() ? device.index() : 0;
  if (index < 0 || index >= static_cast<int64_t>(torch::cuda::device_count()))
    throw Error("E_DEVICE", "device '" + name + "' requested, but only " + std::to_string(torch::cuda::device_count()) +
                                " CUDA device(s) are visible");
}

namespace {
torch::Device checked_device(const torch::Device& device) {
  check_device(device);
  return device.is_cuda() && !device.has_index() ? torch::Device(torch::kCUDA, 0) : device;
}
}  // namespace

// Per-call tensors shared by the blocks.
struct LlamaModel::Context {
  torch::Tensor cos, sin;       // [B, 1, Tq, hd]
  torch::Tensor bias;           // [B, 1, Tq, Tk]; undefined when fused
  bool fused = false;           // attention by fused_causal_attention (float32 CPU inference)
  bool fused_grad = false;      // by causal_attention_with_grad where it can (float32 CPU training)
  torch::Tensor key_mask;       // [B, Tk] float32 when fused or fused_grad
  KVCache* cache = nullptr;     // keys/values of earlier positions, put before this call's
  bool extend = false;          // append this call's keys/values to the cache
  const std::vector<Intervention>* ops = nullptr;
  std::vector<torch::Tensor>* captures = nullptr;
  int64_t stop_after = -1;
};

LlamaModel::LlamaModel(const LlamaConfig& config, TensorMap weights, const LoadOptions& options)
    : config_(config), device_(checked_device(options.device)),
      dtype_(options.dtype.empty() ? torch::kFloat32 : parse_dtype(options.dtype)) {
  config_.validate();
  check_dtype_supported(device_, dtype_);
  if (config_.tie_word_embeddings && !weights.count("lm_head.weight") && weights.count("model.embed_tokens.weight"))
    weights["lm_head.weight"] = weights["model.embed_tokens.weight"];
  for (const auto& [name, shape] : expected_tensors(config_)) {
    auto it = weights.find(name);
    if (it == weights.end())
      throw Error("E_SHAPE", "missing tensor '" + name + "' (the config implies shape " + shape_string(shape) + ")");
    const torch::Tensor& w = it->second;
    if (w.sizes() != torch::IntArrayRef(shape))
      throw Error("E_SHAPE", "tensor '" + name + "' has shape " + shape_string(w.sizes()) + " but the config implies " +
                                 shape_string(shape) + " (hidden_size " + std::to_string(config_.hidden_size) +
                                 ", intermediate_size " + std::to_string(config_.intermediate_size) + ", vocab_size " +
                                 std::to_string(config_.vocab_size) + ", num_attention_heads " +
                                 std::to_string(config_.num_attention_heads) + ", num_key_value_heads " +
                                 std::to_string(config_.num_key_value_heads) + ", head_dim " +
                                 std::to_string(config_.head_dim()) + ")");
    if (!w.is_floating_point())
      throw Error("E_DTYPE", "tensor '" + name + "' has non-floating dtype " + std::string(c10::toString(w.scalar_type())));
  }
  torch::NoGradGuard no_grad;
  if (config_.tie_word_embeddings) weights.erase("lm_head.weight");
  for (const auto& [name, shape] : expected_tensors(config_)) {
    if (name == "lm_head.weight" && config_.tie_word_embeddings) continue;
    auto it = weights.find(name);
    params_[name] = it->second.to(device_, dtype_);
    it->second = torch::Tensor();  // frees a converted original now, not after every tensor is converted
  }
  if (config_.tie_word_embeddings) params_["lm_head.weight"] = params_["model.embed_tokens.weight"];
  rotary_ = RotaryEmbedding(config_.rope, config_.head_dim(), config_.max_position_embeddings, device_);
}

std::unique_ptr<LlamaModel> LlamaModel::load(const std::string& dir, const LlamaConfig& config,
                                             const LoadOptions& options) {
  ReadOptions read;
  read.mmap = options.mmap;
  // On the CPU, convert while reading, so stored and compute-dtype weights never coexist in full.
  if (options.device.is_cpu())
    read.float_dtype = options.dtype.empty() ? torch::kFloat32 : parse_dtype(options.dtype);
  return std::make_unique<LlamaModel>(config, load_model_weights(dir, read), options);
}

std::vector<std::string> LlamaModel::parameter_names() const {
  std::vector<std::string> names;
  for (const auto& kv : params_) names.push_back(kv.first);
  return names;
}

torch::Tensor& LlamaModel::param(const std::string& name) {
  auto it = params_.find(name);
  if (it == params_.end()) throw Error("E_ARG", "unknown parameter '" + name + "'");
  return it->second;
}

const torch::Tensor& LlamaModel::param(const std::string& name) const {
  auto it = params_.find(name);
  if (it == params_.end()) throw Error("E_ARG", "unknown parameter '" + name + "'");
  return it->second;
}

torch::Tensor LlamaModel::linear(const torch::Tensor& x, const std::string& module) const {
  auto y = torch::linear(x, param(module + ".weight"));
  auto it = lora_.find(module);
  if (it != lora_.end())
    y = y + torch::linear(torch::linear(x, param(it->second.a_name)), param(it->second.b_name)) * it->second.scale;
  return y;
}

torch::Tensor LlamaModel::rms_norm(const torch::Tensor& x, const torch::Tensor& weight) const {
  if (fused_kernels_apply(device_, dtype_)) return fused_rms_norm(x, weight, config_.rms_norm_eps);
  if (fused_grad_applies(device_, dtype_)) return rms_norm_with_grad(x, weight, config_.rms_norm_eps);
  auto xf = x.to(torch::kFloat32);
  auto variance = xf.pow(2).mean(-1, true);
  xf = xf * torch::rsqrt(variance + config_.rms_norm_eps);
  return weight * xf.to(x.scalar_type());
}

std::pair<torch::Tensor, torch::Tensor> LlamaModel::rotary(const torch::Tensor& positions, int64_t length) const {
  return rotary_.tables(positions, dtype_, length);
}

torch::Tensor LlamaModel::mlp(int64_t layer, const torch::Tensor& x, const Context& ctx) const {
  const std::string p = layer_prefix(layer) + "mlp.";
  torch::Tensor post = linear(x, p + "gate_proj");
  if (fused_kernels_apply(device_, dtype_) && post.is_contiguous())
    fused_silu_mul_(post, linear(x, p + "up_proj"));
  else if (fused_grad_applies(device_, dtype_))
    post = silu_mul_with_grad(post, linear(x, p + "up_proj"));
  else
    post = torch::silu(post) * linear(x, p + "up_proj");
  if (site(block_hook_ordinal(layer, BlockHook::MlpPost), post, ctx)) return {};
  auto out = linear(post, p + "down_proj");
  auto it = mlp_adapters_.find(layer);
  if (it != mlp_adapters_.end())
    out = out + torch::matmul(torch::matmul(x, param(p + "adapter_A")), param(p + "adapter_B")) * it->second;
  return out;
}

torch::Tensor LlamaModel::attention(int64_t layer, const torch::Tensor& h, const Context& ctx) const {
  const std::string p = layer_prefix(layer) + "self_attn.";
  const int64_t b = h.size(0), tq = h.size(1), heads = config_.num_attention_heads,
                kv_heads = config_.num_key_value_heads, hd = config_.head_dim();
  const int64_t pattern_ordinal = block_hook_ordinal(layer, BlockHook::AttnPattern);
  const bool pattern_hooked = hooked(*ctx.ops, pattern_ordinal);
  if (ctx.fused) {
    AttentionExtras extras;
    torch::Tensor probs, new_keys, new_values;
    if (ctx.cache && ctx.cache->keys[layer].defined()) {
      extras.past_k = ctx.cache->keys[layer];
      extras.past_v = ctx.cache->values[layer];
    }
    if (pattern_hooked) extras.probs = &probs;
    const bool extend = ctx.cache && ctx.extend;
    if (extend) {
      extras.new_keys = &new_keys;
      extras.new_values = &new_values;
    }
    auto v = linear(h, p + "v_proj");
    auto out = fused_causal_attention(linear(h, p + "q_proj"), linear(h, p + "k_proj"), v, ctx.cos, ctx.sin,
                                      ctx.key_mask, heads, kv_heads, extras);
    if (pattern_hooked) {
      const int64_t tk = probs.size(3);
      auto pattern = probs.permute({0, 2, 1, 3}).reshape({b, tq, heads * tk});
      const auto read = pattern;
      if (site(pattern_ordinal, pattern, ctx)) return {};
      if (!pattern.is_same(read)) {  // an op replaced the weights: apply those to the values of every key
        auto values = v.view({b, tq, kv_heads, hd}).transpose(1, 2);
        if (extras.past_v.defined()) {
          auto past_v = extras.past_v;
          if (past_v.size(0) != b) past_v = past_v.repeat({b / past_v.size(0), 1, 1, 1});
          values = torch::cat({past_v, values}, 2);
        }
        out = weighted_values(pattern.reshape({b, tq, heads, tk}).permute({0, 2, 1, 3}), values)
                  .transpose(1, 2)
                  .reshape({b, tq, heads * hd});
      }
    }
    if (extend) {
      auto& cache = *ctx.cache;
      const bool has_past = extras.past_k.defined();
      cache.keys[layer] = has_past ? torch::cat({extras.past_k, new_keys}, 2) : new_keys;
      cache.values[layer] = has_past ? torch::cat({extras.past_v, new_values}, 2) : new_values;
    }
    if (site(block_hook_ordinal(layer, BlockHook::AttnZ), out, ctx)) return {};
    return linear(out, p + "o_proj");
  }
  if (ctx.fused_grad && !pattern_hooked && ctx.cache == nullptr) {
    auto out = causal_attention_with_grad(linear(h, p + "q_proj"), linear(h, p + "k_proj"), linear(h, p + "v_proj"),
                                          ctx.cos, ctx.sin, ctx.key_mask, heads, kv_heads);
    if (site(block_hook_ordinal(layer, BlockHook::AttnZ), out, ctx)) return {};
    return linear(out, p + "o_proj");
  }
  auto q = linear(h, p + "q_proj").view({b, tq, heads, hd}).transpose(1, 2);  // [B, H, Tq, hd]
  q = apply_rotary(q, ctx.cos, ctx.sin);
  auto [k, v] = keys_values(layer, h, ctx.cos, ctx.sin);  // [B, KV, Tq, hd]
  if (ctx.cache) {  // the new positions follow the cached ones
    auto& cache = *ctx.cache;
    if (cache.keys[layer].defined()) {
      k = torch::cat({cache.keys[layer], k}, 2);
      v = torch::cat({cache.values[layer], v}, 2);
    }
    if (ctx.extend) {
      cache.keys[layer] = k;
      cache.values[layer] = v;
    }
  }
  q = q.mul(1.0 / std::sqrt(static_cast<double>(hd)));
  // Rows are processed in chunks so the [rows, H, Tq, Tk] score tensor stays
  // cache-sized: one large allocation per layer costs more in page faults
  // and memory traffic than the arithmetic does.
  const int64_t per_row = heads * tq * k.size(2);
  const int64_t chunk = std::max<int64_t>(1, kAttentionChunkElements / per_row);
  torch::Tensor out;
  if (pattern_hooked) {
    // The pattern is asked for: materialise it as [B, Tq, H * Tk] for the ops.
    const int64_t tk = k.size(2);
    auto probs = attention_probs(q, k, ctx.bias, v.scalar_type());
    auto pattern = probs.permute({0, 2, 1, 3}).reshape({b, tq, heads * tk});
    if (site(pattern_ordinal, pattern, ctx)) return {};
    out = weighted_values(pattern.reshape({b, tq, heads, tk}).permute({0, 2, 1, 3}), v);
  } else if (chunk >= b) {
    out = attend(q, k, v, ctx.bias);
  } else {
    std::vector<torch::Tensor> parts;
    for (int64_t start = 0; start < b; start += chunk) {
      const int64_t n = std::min(chunk, b - start);
      parts.push_back(attend(q.narrow(0, start, n), k.narrow(0, start, n), v.narrow(0, start, n),
                             ctx.bias.narrow(0, start, n)));
    }
    out = torch::cat(parts, 0);
  }
  out = out.transpose(1, 2).reshape({b, tq, heads * hd});  // hook_z, heads side by side
  if (site(block_hook_ordinal(layer, BlockHook::AttnZ), out, ctx)) return {};
  return linear(out, p + "o_proj");
}

bool LlamaModel::site(int64_t ordinal, torch::Tensor& x, const Context& ctx) const {
  if (!ctx.ops->empty()) x = apply_hook(ordinal, x, *ctx.ops, *ctx.captures);
  return ctx.stop_after >= 0 && ordinal >= ctx.stop_after;
}

namespace {
// The hooks around one pre-norm residual sublayer of a block.
struct SublayerHooks {
  BlockHook input, normalized, output, residual;
};
constexpr SublayerHooks kAttentionHooks{BlockHook::ResidPre, BlockHook::Ln1Normalized, BlockHook::AttnOut,
                                        BlockHook::ResidMid};
constexpr SublayerHooks kMlpHooks{BlockHook::MlpIn, BlockHook::Ln2Normalized, BlockHook::MlpOut, BlockHook::ResidPost};
}  // namespace

bool LlamaModel::block(int64_t layer, torch::Tensor& x, const Context& ctx) const {
  const std::string p = layer_prefix(layer);
  auto at = [&](BlockHook h, torch::Tensor& t) { return site(block_hook_ordinal(layer, h), t, ctx); };
  // x += run(rms_norm(in)), hooked at in, the normalized input, run's output
  // and the new residual; true when a hook or the sublayer stops the pass.
  auto sublayer = [&](torch::Tensor& in, const SublayerHooks& hooks, const char* norm, auto run) {
    if (at(hooks.input, in)) return true;
    auto h = rms_norm(in, param(p + norm));
    if (at(hooks.normalized, h)) return true;
    auto out = run(h);
    if (!out.defined() || at(hooks.output, out)) return true;
    x = x + out;
    return at(hooks.residual, x);
  };
  auto attend = [&](const torch::Tensor& h) { return attention(layer, h, ctx); };
  if (sublayer(x, kAttentionHooks, "input_layernorm.weight", attend)) return true;
  // As in TransformerLens, hook_mlp_in is the residual entering ln2; ops on it
  // change what the MLP reads, not the residual stream.
  auto mlp_in = x;
  auto feed_forward = [&](const torch::Tensor& h) { return mlp(layer, h, ctx); };
  return sublayer(mlp_in, kMlpHooks, "post_attention_layernorm.weight", feed_forward);
}

bool LlamaModel::run_layers(int64_t from, int64_t to, torch::Tensor& x, const Context& ctx) const {
  for (int64_t layer = from; layer < to; ++layer)
    if (block(layer, x, ctx)) return true;
  return false;
}

torch::Tensor LlamaModel::final_norm(const torch::Tensor& x, const Context& ctx) const {
  auto normed = rms_norm(x, param("model.norm.weight"));
  site(final_hook_ordinal(config_.num_hidden_layers), normed, ctx);
  return normed;
}

LlamaModel::Context LlamaModel::context(const torch::Tensor& key_mask, const torch::Tensor& positions,
                                        const std::vector<Intervention>& ops,
                                        std::vector<torch::Tensor>& captures, int64_t rope_length) const {
  Context ctx;
  std::tie(ctx.cos, ctx.sin) = rotary(positions, rope_length);
  ctx.fused = fused_kernels_apply(device_, dtype_);
  ctx.fused_grad = fused_grad_applies(device_, dtype_);
  if (ctx.fused || ctx.fused_grad) ctx.key_mask = key_mask.to(torch::kFloat32).contiguous();
  // Under autograd, a read pattern or a cache takes the composed ops, which need the bias.
  if (!ctx.fused) ctx.bias = attention_bias(key_mask, positions.size(1));
  ctx.ops = &ops;
  ctx.captures = &captures;
  return ctx;
}

torch::Tensor LlamaModel::run(const torch::Tensor& ids, const torch::Tensor& key_mask, const torch::Tensor& positions,
                              const std::vector<Intervention>& ops, std::vector<torch::Tensor>& captures,
                              int64_t stop_after, KVCache* cache, bool extend, int64_t rope_length,
                              bool last_only) const {
  captures.assign(ops.size(), torch::Tensor());
  Context ctx = context(key_mask, positions, ops, captures, rope_length);
  ctx.stop_after = stop_after;
  ctx.cache = cache;
  ctx.extend = extend;
  auto x = torch::embedding(param("model.embed_tokens.weight"), ids);  // [B, Tq, D]
  const int64_t layers = config_.num_hidden_layers, t = ids.size(1);
  const int64_t first_of_last_block = block_hook_ordinal(layers - 1, BlockHook::ResidPre);
  bool tail = last_only && t > 1 && cache == nullptr && stop_after < 0 && trim_last_block_enabled();
  for (const auto& op : ops) tail = tail && op.ordinal < first_of_last_block;
  if (site(0, x, ctx) || run_layers(0, tail ? layers - 1 : layers, x, ctx)) return {};
  if (!tail) return final_norm(x, ctx);
  // The last block for the last position alone, against the keys and values
  // of the earlier ones as a cache holds them. Its rotary tables are the full
  // batch's: the last positions hold every row's largest.
  KVCache earlier;
  earlier.keys.resize(layers);
  earlier.values.resize(layers);
  auto h_earlier = rms_norm(x.slice(1, 0, t - 1), param(layer_prefix(layers - 1) + "input_layernorm.weight"));
  std::tie(earlier.keys[layers - 1], earlier.values[layers - 1]) =
      keys_values(layers - 1, h_earlier, ctx.cos.slice(2, 0, t - 1), ctx.sin.slice(2, 0, t - 1));
  Context last = context(key_mask, positions.slice(1, t - 1), ops, captures, rope_length);
  last.cache = &earlier;
  auto x_last = x.slice(1, t - 1);
  block(layers - 1, x_last, last);
  return final_norm(x_last, last);
}

std::pair<torch::Tensor, torch::Tensor> LlamaModel::keys_values(int64_t layer, const torch::Tensor& h,
                                                                const torch::Tensor& cos,
                                                                const torch::Tensor& sin) const {
  const std::string p = layer_prefix(layer) + "self_attn.";
  const int64_t b = h.size(0), t = h.size(1), kv_heads = config_.num_key_value_heads, hd = config_.head_dim();
  auto k = linear(h, p + "k_proj").view({b, t, kv_heads, hd}).transpose(1, 2);
  auto v = linear(h, p + "v_proj").view({b, t, kv_heads, hd}).transpose(1, 2);
  return {apply_rotary(k, cos, sin), v};
}

torch::Tensor LlamaModel::run(const Batch& batch, const std::vector<Intervention>& ops,
                              std::vector<torch::Tensor>& captures, int64_t stop_after, bool last_only) const {
  auto mask = batch.mask.to(device_, torch::kLong);
  auto positions = positions_of(mask);
  return run(batch.ids.to(device_, torch::kLong), mask, positions, ops, captures, stop_after, nullptr, false, -1,
             last_only);
}

int64_t LlamaModel::row_chunks(int64_t rows, int64_t tokens) const {
  const int64_t chunks = std::min<int64_t>(at::get_num_threads(), rows);
  const bool split = chunks > 1 && tokens * config_.hidden_size * config_.intermediate_size <= kRowSplitMaxMacs &&
                     row_split_enabled() && fused_kernels_apply(device_, dtype_);
  return split ? chunks : 1;
}

torch::Tensor LlamaModel::run_rows_in_parallel(const Batch& batch, const std::vector<Intervention>& ops,
                                               std::vector<torch::Tensor>& captures, int64_t stop_after,
                                               bool last_only) const {
  const int64_t b = batch.ids.size(0), chunks = row_chunks(b, batch.ids.numel());
  auto first_row = [&](int64_t c) { return b * c / chunks; };
  std::vector<std::vector<Intervention>> chunk_ops(chunks);
  bool split = chunks > 1;
  for (int64_t c = 0; split && c < chunks; ++c) split = ops_for_rows(ops, b, first_row(c), first_row(c + 1), chunk_ops[c]);
  if (!split) return run(batch, ops, captures, stop_after, last_only);

  auto ids = batch.ids.to(device_, torch::kLong);
  auto mask = batch.mask.to(device_, torch::kLong);
  auto positions = positions_of(mask);
  // rope tables as for the whole batch (dynamic scaling depends on its length)
  const int64_t rope_length = positions.numel() == 0 ? 0 : positions.max().item<int64_t>() + 1;
  std::vector<torch::Tensor> normed(chunks);
  std::vector<std::vector<torch::Tensor>> chunk_captures(chunks);
  in_parallel(chunks, [&](int64_t c) {
    const int64_t r0 = first_row(c), r1 = first_row(c + 1);
    normed[c] = run(ids.slice(0, r0, r1), mask.slice(0, r0, r1), positions.slice(0, r0, r1), chunk_ops[c],
                    chunk_captures[c], stop_after, nullptr, false, rope_length, last_only);
  });
  captures.assign(ops.size(), torch::Tensor());
  for (size_t j = 0; j < ops.size(); ++j) {
    if (!chunk_captures[0][j].defined()) continue;
    std::vector<torch::Tensor> parts;
    for (const auto& part : chunk_captures) parts.push_back(part[j]);
    captures[j] = torch::cat(parts, 0);
  }
  return normed[0].defined() ? torch::cat(normed, 0) : torch::Tensor();
}

torch::Tensor LlamaModel::logits_at(const torch::Tensor& normed, const LogitsSpec& spec) const {
  switch (spec.mode) {
    case LogitsSpec::Mode::None:
      return {};
    case LogitsSpec::Mode::All:
      return torch::linear(normed, param("lm_head.weight")).to(torch::kFloat32);
    case LogitsSpec::Mode::Index: {
      auto idx = spec.index.to(normed.device(), torch::kLong);
      auto sel = normed.gather(1, idx.unsqueeze(-1).expand({idx.size(0), idx.size(1), normed.size(2)}));
      return torch::linear(sel, param("lm_head.weight")).to(torch::kFloat32);
    }
  }
  return {};
}

ForwardResult LlamaModel::forward(const Batch& batch, const LogitsSpec& logits, const std::vector<Intervention>& ops) {
  c10::InferenceMode inference;
  ForwardResult result;
  int64_t stop_after = -1;
  if (logits.mode == LogitsSpec::Mode::None) {
    stop_after = 0;
    for (const auto& op : ops) stop_after = std::max(stop_after, op.ordinal);
  }
  // Logits of the last position alone need only it from the last block on.
  const int64_t t = batch.ids.size(1);
  const bool last_only = logits.mode == LogitsSpec::Mode::Index && logits.index.size(1) == 1 &&
                         logits.index.eq(t - 1).all().item<bool>();
  auto normed = run_rows_in_parallel(batch, ops, result.captures, stop_after, last_only);
  if (normed.defined() && logits.mode != LogitsSpec::Mode::None) {
    auto at = normed.size(1) == t ? logits_at(normed, logits)  // else run returned that position alone
                                  : torch::linear(normed, param("lm_head.weight")).to(torch::kFloat32);
    result.logits = at.to(torch::kCPU).contiguous();
  }
  return result;
}

std::vector<ForwardResult> LlamaModel::sweep_last(const Batch& batch,
                                                  const std::vector<std::vector<Intervention>>& settings) {
  c10::InferenceMode inference;
  const int64_t b = batch.ids.size(0), t = batch.ids.size(1), layers = config_.num_hidden_layers;
  int64_t from_layer = layers;
  for (const auto& ops : settings)
    for (const auto& op : ops) {
      if (op.positions.all || op.positions.index.size(1) != 1 ||
          !op.positions.index.eq(t - 1).all().item<bool>())
        throw Error("E_ARG", "sweep: every op must touch only the last position");
      from_layer = std::min(from_layer, std::max<int64_t>(0, hook_layer(op.ordinal)));
    }

  // The shared prefix, once: keys and values of positions < T - 1 in every
  // layer, then the last position through the layers before from_layer.
  // Where rows are split across the threads, each part builds its own.
  auto ids = batch.ids.to(device_, torch::kLong);
  auto mask = batch.mask.to(device_, torch::kLong);
  auto positions = positions_of(mask);
  auto last_pos = positions.slice(1, t - 1);  // [B, 1]
  const std::vector<Intervention> none;
  // (rope tables as for the whole batch: dynamic scaling depends on its length)
  const int64_t rope_length = positions.max().item<int64_t>() + 1;
  auto prefix_of = [&](int64_t r0, int64_t r1, KVCache& cache) {
    cache.keys.resize(layers);
    cache.values.resize(layers);
    std::vector<torch::Tensor> unused;
    auto rows = [&](const torch::Tensor& x) { return x.slice(0, r0, r1); };
    if (t > 1)
      run(rows(ids).slice(1, 0, t - 1), rows(mask).slice(1, 0, t - 1), rows(positions).slice(1, 0, t - 1), none,
          unused, block_hook_ordinal(layers - 1, BlockHook::ResidPost), &cache, true, rope_length);
    Context base = context(rows(mask), rows(last_pos), none, unused, rope_length);
    base.cache = &cache;
    auto x = torch::embedding(param("model.embed_tokens.weight"), rows(ids).slice(1, t - 1));  // [rows, 1, D]
    run_layers(0, from_layer, x, base);
    return x;
  };
  const int64_t chunks = row_chunks(b, b * t);
  KVCache prefix;
  torch::Tensor resid_in;
  if (chunks == 1) {
    resid_in = prefix_of(0, b, prefix);
  } else {
    std::vector<KVCache> parts(chunks);
    std::vector<torch::Tensor> resid_parts(chunks);
    in_parallel(chunks, [&](int64_t c) { resid_parts[c] = prefix_of(b * c / chunks, b * (c + 1) / chunks, parts[c]); });
    prefix.keys.resize(layers);
    prefix.values.resize(layers);
    for (int64_t layer = 0; layer < layers; ++layer) {
      if (!parts[0].keys[layer].defined()) continue;
      std::vector<torch::Tensor> keys, values;
      for (const auto& part : parts) {
        keys.push_back(part.keys[layer]);
        values.push_back(part.values[layer]);
      }
      prefix.keys[layer] = torch::cat(keys, 0);
      prefix.values[layer] = torch::cat(values, 0);
    }
    resid_in = torch::cat(resid_parts, 0);
  }

  // Rerun only the last position, from from_layer on, against the prefix.
  // Settings with the same ops are stacked along the batch, their ops merged
  // into one list with per-row values. The fused attention reads the one
  // prefix for every stacked setting; the composed ops need a copy each, so
  // there a group's copies must fit a budget. With rows split across the
  // threads, a group's settings are too, one part per thread.
  const bool shared_prefix = fused_kernels_apply(device_, dtype_);
  int64_t cache_bytes = 1;
  for (int64_t layer = from_layer; layer < layers && t > 1; ++layer)
    cache_bytes += (prefix.keys[layer].numel() + prefix.values[layer].numel()) * prefix.keys[layer].element_size();
  const int64_t budget =
      shared_prefix ? std::numeric_limits<int64_t>::max() : std::max<int64_t>(1, kSweepCacheBytes / cache_bytes);
  std::vector<std::vector<size_t>> groups;  // settings with the same ops, in order
  for (size_t s = 0; s < settings.size(); ++s) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const std::vector<size_t>& g) {
      return same_ops(settings[g.front()], settings[s]) && static_cast<int64_t>(g.size()) < budget;
    });
    if (it == groups.end()) groups.push_back({s});
    else it->push_back(s);
  }
  std::vector<std::vector<size_t>> tasks;
  for (const auto& group : groups) {
    const auto n = static_cast<int64_t>(group.size()), parts = std::min<int64_t>(chunks, n);
    for (int64_t c = 0; c < parts; ++c)
      tasks.emplace_back(group.begin() + n * c / parts, group.begin() + n * (c + 1) / parts);
  }
  auto last_index = torch::zeros({b, 1}, torch::kLong);  // position 0 of the one-token slice
  std::vector<ForwardResult> results(settings.size());
  auto rerun = [&](const std::vector<size_t>& group) {
    const auto n = static_cast<int64_t>(group.size());
    KVCache stacked;
    stacked.keys.resize(layers);
    stacked.values.resize(layers);
    for (int64_t layer = from_layer; layer < layers && t > 1; ++layer) {
      stacked.keys[layer] = shared_prefix ? prefix.keys[layer] : prefix.keys[layer].repeat({n, 1, 1, 1});
      stacked.values[layer] = shared_prefix ? prefix.values[layer] : prefix.values[layer].repeat({n, 1, 1, 1});
    }
    std::vector<const std::vector<Intervention>*> members;
    for (size_t s : group) members.push_back(&settings[s]);
    auto ops = stack_settings(members, b, last_index);
    std::vector<torch::Tensor> captures(ops.size());
    Context ctx = context(mask.repeat({n, 1}), last_pos.repeat({n, 1}), ops, captures, rope_length);
    ctx.cache = &stacked;
    auto x = resid_in.repeat({n, 1, 1});
    if (from_layer == 0) site(0, x, ctx);
    run_layers(from_layer, layers, x, ctx);
    auto normed = final_norm(x, ctx);
    auto logits = torch::linear(normed, param("lm_head.weight")).to(torch::kFloat32).to(torch::kCPU);  // [n B, 1, V]
    for (int64_t i = 0; i < n; ++i) {
      auto& result = results[group[i]];
      result.logits = logits.narrow(0, i * b, b).contiguous();
      result.captures.assign(ops.size(), torch::Tensor());
      for (size_t j = 0; j < ops.size(); ++j)
        if (captures[j].defined()) result.captures[j] = captures[j].narrow(0, i * b, b).contiguous();
    }
  };
  if (chunks > 1 && tasks.size() > 1)
    in_parallel(static_cast<int64_t>(tasks.size()), [&](int64_t c) { rerun(tasks[c]); });
  else
    for (const auto& task : tasks) rerun(task);
  return results;
}

namespace {

// The next token of each row from last-position logits [B, V] (float32 CPU).
torch::Tensor pick_tokens(const torch::Tensor& logits, const GenerateSpec& spec, at::Generator& gen) {
  if (spec.temperature <= 0) return logits.argmax(-1);
  auto scaled = logits / spec.temperature;
  if (spec.top_k > 0 && spec.top_k < scaled.size(-1)) {
    auto kth = std::get<0>(scaled.topk(spec.top_k, -1)).select(-1, spec.top_k - 1).unsqueeze(-1);
    scaled = scaled.masked_fill(scaled < kth, -std::numeric_limits<float>::infinity());
  }
  return at::multinomial(torch::softmax(scaled, -1), 1, false, gen).squeeze(-1);
}

// Whether row's tokens [0, length) end with one of the stop sequences.
bool ends_with_stop(const std::vector<int64_t>& row, const std::vector<std::vector<int64_t>>& stop) {
  for (const auto& seq : stop) {
    if (seq.empty() || seq.size() > row.size()) continue;
    if (std::equal(seq.rbegin(), seq.rend(), row.rbegin())) return true;
  }
  return false;
}

}  // namespace

GenerateResult LlamaModel::generate(const Batch& batch, const GenerateSpec& spec,
                                    const std::vector<Intervention>& prompt_ops,
                                    const std::vector<Intervention>& step_ops) {
  c10::InferenceMode inference;
  if (spec.max_new_tokens <= 0) throw Error("E_ARG", "generate: maxNewTokens must be positive");
  const int64_t b = batch.ids.size(0), layers = config_.num_hidden_layers;
  auto mask = batch.mask.to(device_, torch::kLong);
  auto positions = positions_of(mask);
  auto next_position = positions.select(1, positions.size(1) - 1) + 1;  // [B]
  KVCache cache;
  cache.keys.resize(layers);
  cache.values.resize(layers);
  std::vector<torch::Tensor> unused;
  auto normed = run(batch.ids.to(device_, torch::kLong), mask, positions, prompt_ops, unused, -1, &cache, true);
  auto gen = at::detail::createCPUGenerator(spec.seed);
  std::vector<std::vector<int64_t>> rows(b);
  std::vector<bool> done(b, false);
  for (int64_t step = 0; step < spec.max_new_tokens; ++step) {
    auto logits = torch::linear(normed.slice(1, normed.size(1) - 1), param("lm_head.weight"))
                      .squeeze(1).to(torch::kFloat32).to(torch::kCPU);  // [B, V]
    auto next = pick_tokens(logits, spec, gen);
    bool all_done = true;
    for (int64_t r = 0; r < b; ++r) {
      if (done[r]) continue;
      rows[r].push_back(next[r].item<int64_t>());
      done[r] = ends_with_stop(rows[r], spec.stop);
      all_done = all_done && done[r];
    }
    if (all_done || step + 1 == spec.max_new_tokens) break;
    // Rows already done keep decoding (their tokens are dropped) so the batch stays rectangular.
    mask = torch::cat({mask, torch::ones({b, 1}, mask.options())}, 1);
    normed = run(next.view({b, 1}).to(device_), mask, next_position.view({b, 1}), step_ops, unused, -1, &cache, true);
    next_position = next_position + 1;
  }
  int64_t width = 0;
  for (const auto& row : rows) width = std::max<int64_t>(width, static_cast<int64_t>(row.size()));
  GenerateResult result;
  result.tokens = torch::zeros({b, width}, torch::kLong);
  result.lengths = torch::zeros({b}, torch::kLong);
  result.stopped = torch::zeros({b}, torch::kBool);
  for (int64_t r = 0; r < b; ++r) {
    for (size_t j = 0; j < rows[r].size(); ++j) result.tokens[r][static_cast<int64_t>(j)] = rows[r][j];
    result.lengths[r] = static_cast<int64_t>(rows[r].size());
    result.stopped[r] = ends_with_stop(rows[r], spec.stop);
  }
  return result;
}

// ---------------------------------------------------------------- training

torch::Tensor LlamaModel::compute_loss(const Batch& batch, const LossSpec& loss,
                                       const std::vector<Intervention>& ops) const {
  std::vector<torch::Tensor> captures;
  // The answer loss reads the last position alone (trimmed with fused training).
  auto normed = run(batch, ops, captures, -1, loss.kind == LossSpec::Kind::Answer && fused_training_enabled());
  const int64_t t = normed.size(1);
  if (loss.kind == LossSpec::Kind::Answer) {
    auto logits = torch::linear(normed.select(1, t - 1), param("lm_head.weight")).to(torch::kFloat32);  // [B, V]
    return torch::nll_loss(torch::log_softmax(logits, -1), loss.targets.to(device_, torch::kLong));
  }
  auto logits = torch::linear(normed.slice(1, 0, t - 1), param("lm_head.weight")).to(torch::kFloat32);  // [B, T-1, V]
  auto targets = batch.ids.to(device_, torch::kLong).slice(1, 1);
  auto weights = loss.loss_mask.to(device_, torch::kFloat32).slice(1, 1);
  const double count = weights.sum().item<double>();
  if (count <= 0) throw Error("E_ARG", "causal-LM loss: the loss mask selects no token to predict");
  auto nll = -torch::log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1);
  return (nll * weights).sum() / count;
}

std::vector<torch::Tensor> LlamaModel::trainable() const {
  std::vector<torch::Tensor> out;
  std::set<const void*> seen;  // tied embeddings appear under two names
  for (const auto& kv : params_)
    if (kv.second.requires_grad() && seen.insert(kv.second.unsafeGetTensorImpl()).second) out.push_back(kv.second);
  return out;
}

std::vector<std::string> LlamaModel::set_trainable(const std::vector<std::string>& names, bool adapters) {
  std::set<const void*> on;
  for (const auto& name : names) on.insert(param(name).unsafeGetTensorImpl());  // E_ARG names an unknown one
  if (adapters)
    for (const auto& name : adapter_names_) on.insert(param(name).unsafeGetTensorImpl());
  std::vector<std::string> trained;
  for (auto& [name, tensor] : params_) {
    const bool train = on.count(tensor.unsafeGetTensorImpl()) > 0;
    tensor.requires_grad_(train);
    if (!train) tensor.mutable_grad() = torch::Tensor();
    if (train) trained.push_back(name);
  }
  optimizer_.reset();
  return trained;
}

void LlamaModel::add_lora(const std::vector<std::string>& modules, int64_t rank, double alpha, uint64_t seed) {
  if (rank <= 0) throw Error("E_ARG", "LoRA rank must be positive");
  auto gen = at::detail::createCPUGenerator(seed);
  for (const auto& module : modules) {
    if (!params_.count(module + ".weight") || module.find("_proj") == std::string::npos)
      throw Error("E_ARG", "LoRA: '" + module + "' is not a linear module of this model");
    if (lora_.count(module)) throw Error("E_STATE", "LoRA: '" + module + "' already has an adapter");
    const auto& w = param(module + ".weight");
    const int64_t in = w.size(1), out = w.size(0);
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));  // kaiming-uniform with a = sqrt(5)
    auto a = (at::rand({rank, in}, gen, torch::kFloat32) * 2 - 1) * bound;
    LoRA l{module + ".lora_A.weight", module + ".lora_B.weight", alpha / static_cast<double>(rank)};
    params_[l.a_name] = a.to(device_, dtype_).requires_grad_(true);
    params_[l.b_name] = torch::zeros({out, rank}, torch::TensorOptions().device(device_).dtype(dtype_)).requires_grad_(true);
    adapter_names_.push_back(l.a_name);
    adapter_names_.push_back(l.b_name);
    lora_[module] = l;
  }
  optimizer_.reset();
}

void LlamaModel::add_mlp_adapter(int64_t layer, int64_t rank, double alpha, uint64_t seed) {
  if (layer < 0 || layer >= config_.num_hidden_layers)
    throw Error("E_ARG", "MLP adapter: layer " + std::to_string(layer) + " out of range (model has " +
                             std::to_string(config_.num_hidden_layers) + " layers)");
  if (rank <= 0) throw Error("E_ARG", "MLP adapter rank must be positive");
  if (mlp_adapters_.count(layer)) throw Error("E_STATE", "layer " + std::to_string(layer) + " already has an MLP adapter");
  auto gen = at::detail::createCPUGenerator(seed);
  const std::string p = layer_prefix(layer) + "mlp.";
  const int64_t d = config_.hidden_size;
  params_[p + "adapter_A"] = at::randn({d, rank}, gen, torch::kFloat32).to(device_, dtype_).requires_grad_(true);
  params_[p + "adapter_B"] = torch::zeros({rank, d}, torch::TensorOptions().device(device_).dtype(dtype_)).requires_grad_(true);
  adapter_names_.push_back(p + "adapter_A");
  adapter_names_.push_back(p + "adapter_B");
  mlp_adapters_[layer] = alpha;
  optimizer_.reset();
}

void LlamaModel::remove_adapters() {
  for (const auto& name : adapter_names_) params_.erase(name);
  adapter_names_.clear();
  lora_.clear();
  mlp_adapters_.clear();
  optimizer_.reset();
}

std::vector<std::string> LlamaModel::adapter_names() const { return adapter_names_; }

void LlamaModel::configure_optimizer(const OptimizerSpec& spec) {
  if (!(spec.lr > 0)) throw Error("E_ARG", "learning rate must be > 0, got " + std::to_string(spec.lr));
  if (spec.kind != "adamw" && spec.kind != "sgd")
    throw Error("E_ARG", "unknown optimizer '" + spec.kind + "' (expected adamw or sgd)");
  optimizer_spec_ = spec;
  optimizer_configured_ = true;
  optimizer_.reset();
}

void LlamaModel::set_learning_rate(double lr) {
  if (!(lr > 0) || !std::isfinite(lr)) throw Error("E_ARG", "learning rate must be > 0, got " + std::to_string(lr));
  if (!optimizer_configured_) throw Error("E_STATE", "no optimizer configured: call configureOptimizer first");
  optimizer_spec_.lr = lr;
  if (optimizer_)
    for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
}

torch::optim::Optimizer& LlamaModel::optimizer() {
  if (!optimizer_configured_) throw Error("E_STATE", "no optimizer configured: call configureOptimizer first");
  if (!optimizer_) {
    auto params = trainable();
    if (params.empty()) throw Error("E_STATE", "no trainable parameters: call setTrainable or add an adapter first");
    const auto& s = optimizer_spec_;
    if (s.kind == "adamw")
      optimizer_ = std::make_unique<torch::optim::AdamW>(
          params, torch::optim::AdamWOptions(s.lr).betas({s.beta1, s.beta2}).eps(s.eps).weight_decay(s.weight_decay));
    else
      optimizer_ = std::make_unique<torch::optim::SGD>(
          params, torch::optim::SGDOptions(s.lr).momentum(s.momentum).weight_decay(s.weight_decay).nesterov(s.nesterov));
  }
  return *optimizer_;
}

double LlamaModel::backward(const Batch& batch, const LossSpec& loss, const std::vector<Intervention>& ops) {
  if (trainable().empty()) throw Error("E_STATE", "no trainable parameters: call setTrainable or add an adapter first");
  torch::AutoGradMode grad_mode(true);
  auto value = compute_loss(batch, loss, ops);
  value.backward();
  return value.item<double>();
}

void LlamaModel::zero_grad() {
  for (auto& kv : params_)
    if (kv.second.grad().defined()) kv.second.mutable_grad() = torch::Tensor();
}

StepResult LlamaModel::train_step(const Batch& batch, const LossSpec& loss, const std::vector<Intervention>& ops,
                                  double max_grad_norm) {
  auto& opt = optimizer();
  zero_grad();
  StepResult result;
  result.loss = backward(batch, loss, ops);
  auto params = trainable();
  if (max_grad_norm > 0) {
    result.grad_norm = torch::nn::utils::clip_grad_norm_(params, max_grad_norm);
  } else {
    double sq = 0;
    for (const auto& p : params)
      if (p.grad().defined()) sq += p.grad().to(torch::kFloat64).pow(2).sum().item<double>();
    result.grad_norm = std::sqrt(sq);
  }
  opt.step();
  return result;
}

double LlamaModel::evaluate_loss(const Batch& batch, const LossSpec& loss, const std::vector<Intervention>& ops) {
  c10::InferenceMode inference;
  return compute_loss(batch, loss, ops).item<double>();
}

// ---------------------------------------------------------------- parameters

torch::Tensor LlamaModel::get(const std::string& name) const {
  return param(name).detach().to(torch::kCPU, torch::kFloat32).clone();
}

torch::Tensor LlamaModel::grad(const std::string& name) const {
  const auto& p = param(name);
  if (!p.grad().defined()) return torch::zeros(p.sizes(), torch::kFloat32);
  return p.grad().detach().to(torch::kCPU, torch::kFloat32).clone();
}

void LlamaModel::set(const std::string& name, const torch::Tensor& value) {
  auto& p = param(name);
  if (p.sizes() != value.sizes())
    throw Error("E_SHAPE", "parameter '" + name + "' has shape " + shape_string(p.sizes()) + ", got " +
                               shape_string(value.sizes()));
  torch::NoGradGuard no_grad;
  p.copy_(value.to(p.device(), p.scalar_type()));
}

void LlamaModel::save(const std::string& path, SaveContent content,
                      const std::map<std::string, std::string>& metadata) const {
  if (content == SaveContent::Merged && !mlp_adapters_.empty())
    throw Error("E_STATE", "save: layer " + std::to_string(mlp_adapters_.begin()->first) +
                               " has a parallel MLP adapter, which a LLaMA checkpoint cannot express; "
                               "save it with saveAdapters, or pass { adapters: 'drop' } to save the base model");
  const std::set<std::string> adapter_set(adapter_names_.begin(), adapter_names_.end());
  TensorMap out;
  for (const auto& [name, tensor] : params_) {
    if ((content == SaveContent::Adapters) != (adapter_set.count(name) > 0)) continue;
    if (content != SaveContent::Adapters && name == "lm_head.weight" && config_.tie_word_embeddings) continue;
    out[name] = tensor.detach();
  }
  if (content == SaveContent::Merged) {
    // y = W x + s B (A x) = (W + s B A) x: the merged weight, computed in
    // float32 and stored in the weight's own dtype.
    torch::NoGradGuard no_grad;
    for (const auto& [module, l] : lora_) {
      const auto& w = param(module + ".weight");
      auto delta = torch::matmul(param(l.b_name).to(torch::kFloat32), param(l.a_name).to(torch::kFloat32)) * l.scale;
      out[module + ".weight"] = (w.detach().to(torch::kFloat32) + delta).to(w.scalar_type());
    }
  }
  if (out.empty()) throw Error("E_STATE", content == SaveContent::Adapters ? "no adapters to save" : "no parameters to save");
  save_safetensors_file(path, out, metadata);
}

}  // namespace poser
