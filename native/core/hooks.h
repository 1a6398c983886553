// Hook points of the forward pass and the interventions applied there.
//
// Names (TransformerLens's) live in TypeScript (src/model/hooks.ts), which
// sends ordinals: hook_embed = 0, block i sub-hook k = 1 + kBlockHooks i + k,
// ln_final.hook_normalized = 1 + kBlockHooks L. Ordinals follow call order,
// so "the last hook anything needs" is a single number and the forward can
// stop right after it.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace poser {

// Sub-hooks of a block in call order; the same order as BLOCK_HOOKS in
// src/model/hooks.ts (a test compares them). Every site is seen as [B, T, W]:
//   AttnPattern  post-softmax probabilities, [B, Tq, H * Tk] (query-major)
//   AttnZ        per-head attention output before o_proj, [B, T, H * head_dim]
//   MlpPost      act(gate_proj x) * up_proj x, [B, T, intermediate_size]
//   MlpIn        the residual entering ln2 (TransformerLens semantics)
//   Ln1Normalized / Ln2Normalized  the RMSNorm outputs feeding attention / MLP
enum class BlockHook : int {
  ResidPre = 0,
  Ln1Normalized,
  AttnPattern,
  AttnZ,
  AttnOut,
  ResidMid,
  MlpIn,
  Ln2Normalized,
  MlpPost,
  MlpOut,
  ResidPost,
  Count
};
constexpr int64_t kBlockHooks = static_cast<int64_t>(BlockHook::Count);

inline int64_t block_hook_ordinal(int64_t layer, BlockHook h) {
  return 1 + kBlockHooks * layer + static_cast<int64_t>(h);
}
inline int64_t final_hook_ordinal(int64_t num_layers) { return 1 + kBlockHooks * num_layers; }
// Number of hook points of a model with num_layers blocks.
inline int64_t hook_count(int64_t num_layers) { return 2 + kBlockHooks * num_layers; }
// Layer a hook belongs to (-1 for hook_embed, num_layers for ln_final).
inline int64_t hook_layer(int64_t ordinal) { return ordinal == 0 ? -1 : (ordinal - 1) / kBlockHooks; }

enum class OpKind { Capture, Add, Set, Scale, Noise, ProjectOut };

struct NoiseSpec {
  bool gaussian = true;    // else uniform
  bool zero_mean = true;   // uniform on [-0.5, 0.5) instead of [0, 1)
  uint64_t seed = 0;
  double norm = -1.0;      // > 0: rescale the draw to this L2 norm
};

// Which sequence positions an op touches, per batch row.
struct Positions {
  bool all = false;        // every position (including padding)
  torch::Tensor index;     // [B, K] int64, absolute (padded) positions; when !all
};

struct Intervention {
  int64_t ordinal = 0;     // see block_hook_ordinal
  OpKind op = OpKind::Capture;
  Positions positions;
  // Add / Set: [D] for every row or [B, D] per row. ProjectOut: [D] or [B, D]
  // direction (normalised internally). Scale: undefined (use `scale`) or [B],
  // a factor per row.
  torch::Tensor value;
  double scale = 1.0;      // Add: value * scale; Scale: factor; Noise: draw * scale
  NoiseSpec noise;
  int64_t width = 0;       // values per position at the hook (0: unknown)
};

// The ops of n settings stacked along the batch (setting s owns rows
// [s rows, (s + 1) rows)) as one op list with per-row values. Every setting
// must hold the same hooks and kinds in the same order (same_ops); every op
// acts on position `index` [rows, K] of its rows. Noise becomes an Add of its
// draw (which needs `width`).
std::vector<Intervention> stack_settings(const std::vector<const std::vector<Intervention>*>& settings, int64_t rows,
                                         const torch::Tensor& index);
bool same_ops(const std::vector<Intervention>& a, const std::vector<Intervention>& b);

// The ops as they apply to batch rows [begin, end) of a batch of `rows`:
// per-row positions and values narrowed to those rows. False (out untouched)
// when some op's per-row tensors do not have `rows` rows, so the caller can
// run the whole batch and let apply_hook name the mismatch.
bool ops_for_rows(const std::vector<Intervention>& ops, int64_t rows, int64_t begin, int64_t end,
                  std::vector<Intervention>& out);

// Applies every op registered for `ordinal` to x [B, T, D] (out of place, so
// autograd sees it) and appends captures (float32, CPU) to `captures`, indexed
// by the op's position in `ops`.
torch::Tensor apply_hook(int64_t ordinal, torch::Tensor x, const std::vector<Intervention>& ops,
                         std::vector<torch::Tensor>& captures);

// The draw of a Noise op: a [D] vector made on the CPU from the seed alone (so
// the same seed gives the same noise on every device and for every batch),
// then rescaled to `norm` when asked.
torch::Tensor draw_noise(const NoiseSpec& spec, int64_t width);

}  // namespace poser
