// A LLaMA-architecture causal language model on libtorch, written out plainly
// (RMSNorm in fp32, rotary embeddings, grouped-query attention, SwiGLU MLP)
// with hook points at explicit call sites, adapters and training.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "hooks.h"
#include "rope.h"
#include "safetensors.h"

namespace poser {

struct LoadOptions {
  torch::Device device = torch::kCPU;  // checked against the CUDA devices visible
  std::string dtype;            // "float32" | "float16" | "bfloat16"; empty keeps float32
  // Map the weight files instead of copying them into memory the model owns.
  // Saves a copy only for CPU weights stored in the compute dtype; those then
  // depend on the files: truncating one kills the process (SIGBUS) at the
  // next call, rewriting one in place changes the model. See ReadOptions.
  bool mmap = false;
};

// Which positions get logits: none, every position, or [B, K] absolute indices.
struct LogitsSpec {
  enum class Mode { None, All, Index } mode = Mode::Index;
  torch::Tensor index;  // [B, K] int64 when mode == Index
};

struct Batch {
  torch::Tensor ids;   // [B, T] int64, left-padded
  torch::Tensor mask;  // [B, T] int64/bool, 1 on real tokens
};

struct ForwardResult {
  torch::Tensor logits;                // [B, K, V] or [B, T, V] float32 CPU; undefined for None
  std::vector<torch::Tensor> captures; // one per op (undefined for non-capture ops)
};

// A loss on the model's output.
struct LossSpec {
  enum class Kind { Answer, CausalLM } kind = Kind::Answer;
  torch::Tensor targets;    // Answer: [B] int64 token ids predicted at the last position
  torch::Tensor loss_mask;  // CausalLM: [B, T], 1 on tokens to predict (from the position before)
};

struct OptimizerSpec {
  std::string kind = "adamw";  // "adamw" | "sgd"
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;       // sgd
  bool nesterov = false;       // sgd
};

// Keys and values of earlier positions, per layer: the prefix a sweep shares
// between its settings, and the past of incremental decoding.
struct KVCache {
  std::vector<torch::Tensor> keys, values;  // [B, KV, T, hd] per layer; undefined where not kept
};

struct GenerateSpec {
  int64_t max_new_tokens = 16;
  double temperature = 0.0;  // 0: greedy (argmax)
  int64_t top_k = 0;         // > 0: sample among the k most likely tokens only
  uint64_t seed = 0;         // of the sampling generator (CPU)
  std::vector<std::vector<int64_t>> stop;  // a row ends once its new tokens end with one of these
};

struct GenerateResult {
  torch::Tensor tokens;   // [B, N] int64 new tokens (N <= max_new_tokens); rows ended early are padded
  torch::Tensor lengths;  // [B] int64: tokens of each row, its stop sequence included
  torch::Tensor stopped;  // [B] bool: the row ended with a stop sequence
};

struct StepResult {
  double loss = 0.0;
  double grad_norm = 0.0;      // before clipping
};

class LlamaModel {
 public:
  // Builds from a tensor map with HF names (validated against the config);
  // moves/converts to the device and dtype.
  LlamaModel(const LlamaConfig& config, TensorMap weights, const LoadOptions& options);
  static std::unique_ptr<LlamaModel> load(const std::string& dir, const LlamaConfig& config,
                                          const LoadOptions& options);

  const LlamaConfig& config() const { return config_; }
  torch::Device device() const { return device_; }
  torch::ScalarType dtype() const { return dtype_; }
  std::vector<std::string> parameter_names() const;

  // Inference (no autograd). Stops after the last hook any op needs when
  // logits.mode == None.
  ForwardResult forward(const Batch& batch, const LogitsSpec& logits, const std::vector<Intervention>& ops);

  // Runs the batch once per setting, where every setting's ops touch only the
  // last position at layers >= some L. The prefix (all layers for earlier
  // positions, layers < L for the last) is computed once; each setting then
  // reruns only the last token through layers L.. with cached keys/values.
  // Returns last-position logits [B, 1, V] and captures per setting.
  std::vector<ForwardResult> sweep_last(const Batch& batch, const std::vector<std::vector<Intervention>>& settings);

  // Continues each row of the batch, one token at a time against a KV cache.
  // `prompt_ops` act on the prompt's forward; `step_ops` on each new token's
  // (whose only position is 0). Captures are not returned.
  GenerateResult generate(const Batch& batch, const GenerateSpec& spec, const std::vector<Intervention>& prompt_ops,
                          const std::vector<Intervention>& step_ops);

  // --- training ---
  // Marks trainable: the named parameters (E_ARG for an unknown name) plus,
  // when `adapters`, every adapter tensor. Resets the optimizer.
  std::vector<std::string> set_trainable(const std::vector<std::string>& names, bool adapters);
  // LoRA on named linear modules (e.g. "model.layers.0.self_attn.q_proj"):
  // out = W x + (alpha / rank) * B (A x), A [rank, in] ~ kaiming-uniform(seed), B = 0.
  void add_lora(const std::vector<std::string>& modules, int64_t rank, double alpha, uint64_t seed);
  // Parallel low-rank branch on layer's MLP: mlp_out = mlp(x) + alpha * (x A B),
  // A [D, rank] ~ N(0, 1) (seeded), B [rank, D] = 0; x is the MLP input.
  void add_mlp_adapter(int64_t layer, int64_t rank, double alpha, uint64_t seed);
  void remove_adapters();
  std::vector<std::string> adapter_names() const;

  void configure_optimizer(const OptimizerSpec& spec);
  // Changes the learning rate and keeps the optimizer's state (moments), for
  // schedules such as warm-up or cosine decay.
  void set_learning_rate(double lr);
  // Loss and gradients (accumulated into .grad of trainable tensors).
  double backward(const Batch& batch, const LossSpec& loss, const std::vector<Intervention>& ops);
  void zero_grad();
  // zero_grad, backward, clip (max_grad_norm > 0), optimizer step.
  StepResult train_step(const Batch& batch, const LossSpec& loss, const std::vector<Intervention>& ops,
                        double max_grad_norm);
  // Loss without gradients.
  double evaluate_loss(const Batch& batch, const LossSpec& loss, const std::vector<Intervention>& ops);

  // --- parameters ---
  torch::Tensor get(const std::string& name) const;             // float32 CPU copy
  torch::Tensor grad(const std::string& name) const;            // float32 CPU copy (zeros if none)
  void set(const std::string& name, const torch::Tensor& value); // copies into the parameter
  // What save() writes: the model with LoRA merged into its weights (refused
  // while a parallel MLP adapter exists: a LLaMA checkpoint cannot express
  // it), the base weights without any adapter, or the adapters alone.
  enum class SaveContent { Merged, Base, Adapters };
  // Writes one safetensors file, atomically (temporary file, fsync, rename).
  void save(const std::string& path, SaveContent content, const std::map<std::string, std::string>& metadata) const;

 private:
  struct LoRA {
    std::string a_name, b_name;
    double scale;
  };
  struct Context;  // per-call tensors shared by the blocks

  torch::Tensor& param(const std::string& name);
  const torch::Tensor& param(const std::string& name) const;
  torch::Tensor linear(const torch::Tensor& x, const std::string& module) const;
  torch::Tensor rms_norm(const torch::Tensor& x, const torch::Tensor& weight) const;
  std::pair<torch::Tensor, torch::Tensor> rotary(const torch::Tensor& positions, int64_t length = -1) const;
  // mlp and attention return an undefined tensor when stopped at an inner hook.
  torch::Tensor mlp(int64_t layer, const torch::Tensor& x, const Context& ctx) const;
  torch::Tensor attention(int64_t layer, const torch::Tensor& h, const Context& ctx) const;
  // Applies the ops of one hook site; true when the forward should stop here.
  bool site(int64_t ordinal, torch::Tensor& x, const Context& ctx) const;
  // One decoder block, updating x in place; true when stopped early.
  bool block(int64_t layer, torch::Tensor& x, const Context& ctx) const;
  // Blocks [from, to) on x; true when stopped early.
  bool run_layers(int64_t from, int64_t to, torch::Tensor& x, const Context& ctx) const;
  // Final norm and its hook: the normalised hidden state [B, T, D].
  torch::Tensor final_norm(const torch::Tensor& x, const Context& ctx) const;
  // Context for new tokens at `positions` [B, Tq] whose keys are the cache's
  // (if any) followed by their own; key_mask [B, Tk] covers both. rope_length:
  // see RotaryEmbedding::tables. Attention runs in fused_causal_attention
  // where the fused kernels apply (no bias is built then).
  Context context(const torch::Tensor& key_mask, const torch::Tensor& positions, const std::vector<Intervention>& ops,
                  std::vector<torch::Tensor>& captures, int64_t rope_length = -1) const;
  torch::optim::Optimizer& optimizer();
  // Runs new tokens ids [B, Tq] (with an optional cache of earlier keys and
  // values, extended by this call's when `extend`). Returns the final
  // normalised hidden state [B, Tq, D], or an undefined tensor when stopped
  // early after `stop_after` (an ordinal; -1 = run to the end). With
  // `last_only`, only the last position's is read: where no op hooks the
  // last block or after, no cache is given and the run goes to the end, the
  // last block computes that position alone and [B, 1, D] is returned
  // (unless POSER_TRIM_LAST_BLOCK=0).
  torch::Tensor run(const torch::Tensor& ids, const torch::Tensor& key_mask, const torch::Tensor& positions,
                    const std::vector<Intervention>& ops, std::vector<torch::Tensor>& captures, int64_t stop_after,
                    KVCache* cache, bool extend, int64_t rope_length = -1, bool last_only = false) const;
  torch::Tensor run(const Batch& batch, const std::vector<Intervention>& ops, std::vector<torch::Tensor>& captures,
                    int64_t stop_after, bool last_only = false) const;
  // The rotated keys and values [B, KV, T, hd] of layer's attention for its
  // normalised input h [B, T, D], as a cache holds them.
  std::pair<torch::Tensor, torch::Tensor> keys_values(int64_t layer, const torch::Tensor& h, const torch::Tensor& cos,
                                                      const torch::Tensor& sin) const;
  // How many parts inference on `rows` rows of `tokens` tokens in all splits
  // into, one per thread, each a whole forward on its thread; 1 where that
  // does not pay or apply (large widths, autograd, other dtypes and devices,
  // one thread, POSER_SPLIT_ROWS=0).
  int64_t row_chunks(int64_t rows, int64_t tokens) const;
  // run(batch, ...) with the rows split as row_chunks says.
  torch::Tensor run_rows_in_parallel(const Batch& batch, const std::vector<Intervention>& ops,
                                     std::vector<torch::Tensor>& captures, int64_t stop_after,
                                     bool last_only = false) const;
  torch::Tensor logits_at(const torch::Tensor& normed, const LogitsSpec& spec) const;
  torch::Tensor compute_loss(const Batch& batch, const LossSpec& loss, const std::vector<Intervention>& ops) const;
  std::vector<torch::Tensor> trainable() const;

  LlamaConfig config_;
  torch::Device device_;
  torch::ScalarType dtype_;
  TensorMap params_;                        // base parameters and adapters by name
  std::map<std::string, LoRA> lora_;        // by module name
  std::map<int64_t, double> mlp_adapters_;  // layer -> alpha
  std::vector<std::string> adapter_names_;
  RotaryEmbedding rotary_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  OptimizerSpec optimizer_spec_;
  bool optimizer_configured_ = false;
};

// Dtype from its name ("float32", "float16", "bfloat16"); throws E_DTYPE.
torch::ScalarType parse_dtype(const std::string& name);
// Throws E_DEVICE unless the device is the CPU or a visible CUDA device.
void check_device(const torch::Device& device);

}  // namespace poser
