// Named hook points of the forward pass and the interventions applied there.
//
// Hook names follow TransformerLens:
//   hook_embed
//   blocks.{i}.hook_resid_pre | hook_attn_out | hook_resid_mid | hook_mlp_in |
//              hook_mlp_out | hook_resid_post
//   ln_final.hook_normalized
// Each name maps to an ordinal in call order, so "the last hook anything
// needs" is a single number and the forward can stop right after it.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace poser {

enum class BlockHook : int { ResidPre = 0, AttnOut, ResidMid, MlpIn, MlpOut, ResidPost, Count };

// Ordinal of a hook in call order: embed = 0, block i sub-hook k = 1 + 6 i + k,
// ln_final = 1 + 6 L.
int64_t hook_ordinal(const std::string& name, int64_t num_layers);  // throws E_ARG
inline int64_t block_hook_ordinal(int64_t layer, BlockHook h) {
  return 1 + 6 * layer + static_cast<int64_t>(h);
}
inline int64_t final_hook_ordinal(int64_t num_layers) { return 1 + 6 * num_layers; }
// Layer a hook belongs to (-1 for hook_embed, num_layers for ln_final).
inline int64_t hook_layer(int64_t ordinal) { return ordinal == 0 ? -1 : (ordinal - 1) / 6; }

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
  int64_t ordinal = 0;     // from hook_ordinal
  OpKind op = OpKind::Capture;
  Positions positions;
  // Add / Set: [D] for every row or [B, D] per row. ProjectOut: [D] or [B, D]
  // direction (normalised internally).
  torch::Tensor value;
  double scale = 1.0;      // Add: value * scale; Scale: factor; Noise: draw * scale
  NoiseSpec noise;
  // When row_count > 0 the op touches only batch rows [row_begin, row_begin +
  // row_count) and its positions/values/captures are those rows' (sweeps stack
  // several settings along the batch).
  int64_t row_begin = 0;
  int64_t row_count = 0;
};

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
