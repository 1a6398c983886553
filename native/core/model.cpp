#include "model.h"

#include <cmath>
#include <regex>
#include <set>
#include <sstream>

#include "errors.h"

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

// Bytes of cached keys/values a sweep may copy to stack its settings.
constexpr int64_t kSweepCacheBytes = int64_t{256} << 20;

// Score elements per attention chunk (4 MB in float32).
constexpr int64_t kAttentionChunkElements = 1 << 20;

// softmax(q k^T + bias) v for q [B, H, Tq, hd] (already scaled), k and v
// [B, KV, Tk, hd], bias [B, 1, Tq, Tk] -> [B, H, Tq, hd]. Query head i reads
// key/value head i / rep: the rep query heads of each key/value head are
// folded into the query axis instead of copying keys and values.
torch::Tensor attend(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, const torch::Tensor& bias) {
  const int64_t b = q.size(0), heads = q.size(1), tq = q.size(2), hd = q.size(3);
  const int64_t kv_heads = k.size(1), rep = heads / kv_heads, tk = k.size(2);
  auto scores = torch::matmul(q.reshape({b, kv_heads, rep * tq, hd}), k.transpose(-2, -1)).view({b, heads, tq, tk});
  scores = scores.scalar_type() == torch::kFloat32 ? scores.add_(bias) : scores.to(torch::kFloat32).add_(bias);
  auto probs = torch::softmax(scores, -1).to(v.scalar_type()).view({b, kv_heads, rep * tq, tk});
  return torch::matmul(probs, v).view({b, heads, tq, hd});
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

torch::Device parse_device(const std::string& name) {
  if (name == "cpu") return torch::Device(torch::kCPU);
  static const std::regex cuda_re(R"(cuda(?::(\d+))?)");
  std::smatch m;
  if (!std::regex_match(name, m, cuda_re)) throw Error("E_DEVICE", "unknown device '" + name + "' (expected cpu or cuda:N)");
  if (!torch::cuda::is_available())
    throw Error("E_DEVICE", "device '" + name + "' requested, but the libtorch this addon was built against has no CUDA "
                            "support or no GPU is visible");
  const int64_t index = m[1].matched ? std::stoll(m[1].str()) : 0;
  if (index >= static_cast<int64_t>(torch::cuda::device_count()))
    throw Error("E_DEVICE", "device '" + name + "' requested, but only " + std::to_string(torch::cuda::device_count()) +
                                " CUDA device(s) are visible");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

// Keys and values of layers >= from_layer for every position, plus the residual
// stream entering from_layer at the last position: all a sweep needs.
struct LlamaModel::Record {
  int64_t from_layer = 0;
  std::vector<torch::Tensor> keys, values;  // [B, KV, T, hd] per layer
  torch::Tensor resid_in;                   // [B, 1, D]
};

// Per-call tensors shared by the blocks.
struct LlamaModel::Context {
  torch::Tensor cos, sin;   // [B, 1, Tq, hd]
  torch::Tensor bias;       // [B, 1, Tq, Tk]
  const Record* cache = nullptr;  // prefix keys/values (sweep reruns)
  Record* record = nullptr;       // where to keep keys/values (sweep base run)
  const std::vector<Intervention>* ops = nullptr;
  std::vector<torch::Tensor>* captures = nullptr;
  int64_t stop_after = -1;
};

LlamaModel::LlamaModel(const LlamaConfig& config, TensorMap weights, const LoadOptions& options)
    : config_(config), device_(parse_device(options.device)),
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
  if (parse_device(options.device).is_cpu())
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
  auto xf = x.to(torch::kFloat32);
  auto variance = xf.pow(2).mean(-1, true);
  xf = xf * torch::rsqrt(variance + config_.rms_norm_eps);
  return weight * xf.to(x.scalar_type());
}

std::pair<torch::Tensor, torch::Tensor> LlamaModel::rotary(const torch::Tensor& positions) const {
  return rotary_.tables(positions, dtype_);
}

torch::Tensor LlamaModel::mlp(int64_t layer, const torch::Tensor& x) const {
  const std::string p = layer_prefix(layer) + "mlp.";
  auto out = linear(torch::silu(linear(x, p + "gate_proj")) * linear(x, p + "up_proj"), p + "down_proj");
  auto it = mlp_adapters_.find(layer);
  if (it != mlp_adapters_.end())
    out = out + torch::matmul(torch::matmul(x, param(p + "adapter_A")), param(p + "adapter_B")) * it->second;
  return out;
}

torch::Tensor LlamaModel::attention(int64_t layer, const torch::Tensor& h, const Context& ctx) const {
  const std::string p = layer_prefix(layer) + "self_attn.";
  const int64_t b = h.size(0), tq = h.size(1), heads = config_.num_attention_heads,
                kv_heads = config_.num_key_value_heads, hd = config_.head_dim();
  auto q = linear(h, p + "q_proj").view({b, tq, heads, hd}).transpose(1, 2);     // [B, H, Tq, hd]
  auto k = linear(h, p + "k_proj").view({b, tq, kv_heads, hd}).transpose(1, 2);  // [B, KV, Tq, hd]
  auto v = linear(h, p + "v_proj").view({b, tq, kv_heads, hd}).transpose(1, 2);
  q = apply_rotary(q, ctx.cos, ctx.sin);
  k = apply_rotary(k, ctx.cos, ctx.sin);
  if (ctx.record && layer >= ctx.record->from_layer) {
    ctx.record->keys[layer] = k;
    ctx.record->values[layer] = v;
  }
  if (ctx.cache) {  // the new positions follow the cached prefix
    const int64_t prefix = ctx.cache->keys[layer].size(2) - tq;
    k = torch::cat({ctx.cache->keys[layer].slice(2, 0, prefix), k}, 2);
    v = torch::cat({ctx.cache->values[layer].slice(2, 0, prefix), v}, 2);
  }
  q = q.mul(1.0 / std::sqrt(static_cast<double>(hd)));
  // Rows are processed in chunks so the [rows, H, Tq, Tk] score tensor stays
  // cache-sized: one large allocation per layer costs more in page faults
  // and memory traffic than the arithmetic does.
  const int64_t per_row = heads * tq * k.size(2);
  const int64_t chunk = std::max<int64_t>(1, kAttentionChunkElements / per_row);
  torch::Tensor out;
  if (chunk >= b) {
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
  out = out.transpose(1, 2).reshape({b, tq, heads * hd});
  return linear(out, p + "o_proj");
}

bool LlamaModel::site(int64_t ordinal, torch::Tensor& x, const Context& ctx) const {
  if (!ctx.ops->empty()) x = apply_hook(ordinal, x, *ctx.ops, *ctx.captures);
  return ctx.stop_after >= 0 && ordinal >= ctx.stop_after;
}

bool LlamaModel::block(int64_t layer, torch::Tensor& x, const Context& ctx) const {
  const std::string p = layer_prefix(layer);
  auto at = [&](BlockHook h, torch::Tensor& t) { return site(block_hook_ordinal(layer, h), t, ctx); };
  if (at(BlockHook::ResidPre, x)) return true;
  auto attn = attention(layer, rms_norm(x, param(p + "input_layernorm.weight")), ctx);
  if (at(BlockHook::AttnOut, attn)) return true;
  x = x + attn;
  if (at(BlockHook::ResidMid, x)) return true;
  auto h = rms_norm(x, param(p + "post_attention_layernorm.weight"));
  if (at(BlockHook::MlpIn, h)) return true;
  auto m = mlp(layer, h);
  if (at(BlockHook::MlpOut, m)) return true;
  x = x + m;
  return at(BlockHook::ResidPost, x);
}

torch::Tensor LlamaModel::run(const Batch& batch, const std::vector<Intervention>& ops,
                              std::vector<torch::Tensor>& captures, int64_t stop_after, Record* record) const {
  auto ids = batch.ids.to(device_, torch::kLong);
  auto mask = batch.mask.to(device_, torch::kLong);
  auto positions = (mask.cumsum(-1) - 1).clamp_min(0);
  Context ctx;
  std::tie(ctx.cos, ctx.sin) = rotary(positions);
  ctx.bias = attention_bias(mask, ids.size(1));
  ctx.ops = &ops;
  ctx.captures = &captures;
  ctx.stop_after = stop_after;
  ctx.record = record;
  captures.assign(ops.size(), torch::Tensor());

  auto x = torch::embedding(param("model.embed_tokens.weight"), ids);  // [B, T, D]
  if (site(0, x, ctx)) return {};
  for (int64_t layer = 0; layer < config_.num_hidden_layers; ++layer) {
    if (record && layer == record->from_layer) record->resid_in = x.slice(1, x.size(1) - 1);
    if (block(layer, x, ctx)) return {};
  }
  if (record && record->from_layer == config_.num_hidden_layers) record->resid_in = x.slice(1, x.size(1) - 1);
  auto normed = rms_norm(x, param("model.norm.weight"));
  site(final_hook_ordinal(config_.num_hidden_layers), normed, ctx);
  return normed;
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
  auto normed = run(batch, ops, result.captures, stop_after, nullptr);
  if (normed.defined() && logits.mode != LogitsSpec::Mode::None)
    result.logits = logits_at(normed, logits).to(torch::kCPU).contiguous();
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

  Record record;
  record.from_layer = from_layer;
  record.keys.resize(layers);
  record.values.resize(layers);
  std::vector<torch::Tensor> unused;
  run(batch, {}, unused, -1, &record);

  // Rerun only the last position, from from_layer on, against cached
  // keys/values. Settings are stacked along the batch (setting s owns rows
  // [s B, (s + 1) B)), in groups whose copies of the cache fit a budget.
  auto mask = batch.mask.to(device_, torch::kLong);
  auto last_pos = (mask.cumsum(-1) - 1).clamp_min(0).slice(1, t - 1);  // [B, 1]
  int64_t cache_bytes = 1;
  for (int64_t layer = from_layer; layer < layers; ++layer)
    cache_bytes += (record.keys[layer].numel() + record.values[layer].numel()) * record.keys[layer].element_size();
  const int64_t group = std::max<int64_t>(1, kSweepCacheBytes / cache_bytes);
  const auto settings_count = static_cast<int64_t>(settings.size());
  auto last_index = torch::zeros({b, 1}, torch::kLong);
  std::vector<ForwardResult> results(settings.size());
  for (int64_t first = 0; first < settings_count; first += group) {
    const int64_t n = std::min(group, settings_count - first);
    Record stacked;
    stacked.from_layer = from_layer;
    stacked.keys.resize(layers);
    stacked.values.resize(layers);
    for (int64_t layer = from_layer; layer < layers; ++layer) {
      stacked.keys[layer] = record.keys[layer].repeat({n, 1, 1, 1});
      stacked.values[layer] = record.values[layer].repeat({n, 1, 1, 1});
    }
    std::vector<Intervention> ops;
    std::vector<std::pair<int64_t, size_t>> owner;  // (setting, op index in it)
    for (int64_t s = first; s < first + n; ++s)
      for (size_t j = 0; j < settings[s].size(); ++j) {
        Intervention op = settings[s][j];
        op.positions.index = last_index;  // position 0 of the one-token slice
        op.row_begin = (s - first) * b;
        op.row_count = b;
        ops.push_back(std::move(op));
        owner.emplace_back(s, j);
      }
    std::vector<torch::Tensor> captures(ops.size());
    Context ctx;
    std::tie(ctx.cos, ctx.sin) = rotary(last_pos.repeat({n, 1}));
    ctx.bias = attention_bias(mask.repeat({n, 1}), 1);
    ctx.cache = &stacked;
    ctx.ops = &ops;
    ctx.captures = &captures;
    auto x = record.resid_in.repeat({n, 1, 1});
    if (from_layer == 0) site(0, x, ctx);
    for (int64_t layer = from_layer; layer < layers; ++layer) block(layer, x, ctx);
    auto normed = rms_norm(x, param("model.norm.weight"));
    site(final_hook_ordinal(layers), normed, ctx);
    auto logits = torch::linear(normed, param("lm_head.weight")).to(torch::kFloat32).to(torch::kCPU);  // [n B, 1, V]
    for (int64_t s = first; s < first + n; ++s) {
      results[s].logits = logits.narrow(0, (s - first) * b, b).contiguous();
      results[s].captures.assign(settings[s].size(), torch::Tensor());
    }
    for (size_t k = 0; k < owner.size(); ++k) results[owner[k].first].captures[owner[k].second] = captures[k];
  }
  return results;
}

// ---------------------------------------------------------------- training

torch::Tensor LlamaModel::compute_loss(const Batch& batch, const LossSpec& loss,
                                       const std::vector<Intervention>& ops) const {
  std::vector<torch::Tensor> captures;
  auto normed = run(batch, ops, captures, -1, nullptr);
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

std::vector<std::string> LlamaModel::set_trainable(const std::vector<std::string>& patterns, bool adapters) {
  std::vector<std::regex> res;
  for (const auto& p : patterns) {
    try {
      res.emplace_back(p);
    } catch (const std::regex_error& e) {
      throw Error("E_ARG", "invalid parameter pattern '" + p + "': " + e.what());
    }
  }
  const std::set<std::string> adapter_set(adapter_names_.begin(), adapter_names_.end());
  std::set<const void*> on;
  for (auto& [name, tensor] : params_) {
    bool train = adapters && adapter_set.count(name);
    for (const auto& re : res) train = train || std::regex_search(name, re);
    if (train) on.insert(tensor.unsafeGetTensorImpl());
  }
  std::vector<std::string> names;
  for (auto& [name, tensor] : params_) {
    const bool train = on.count(tensor.unsafeGetTensorImpl()) > 0;
    tensor.requires_grad_(train);
    if (!train) tensor.mutable_grad() = torch::Tensor();
    if (train) names.push_back(name);
  }
  optimizer_.reset();
  return names;
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

void LlamaModel::save(const std::string& path, bool adapters_only,
                      const std::map<std::string, std::string>& metadata) const {
  const std::set<std::string> adapter_set(adapter_names_.begin(), adapter_names_.end());
  TensorMap out;
  for (const auto& [name, tensor] : params_) {
    if (adapters_only != (adapter_set.count(name) > 0)) continue;
    if (!adapters_only && name == "lm_head.weight" && config_.tie_word_embeddings) continue;
    out[name] = tensor.detach();
  }
  if (out.empty()) throw Error("E_STATE", adapters_only ? "no adapters to save" : "no parameters to save");
  save_safetensors_file(path, out, metadata);
}

}  // namespace poser
