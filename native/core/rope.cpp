#include "rope.h"

#include <cmath>

#include "errors.h"

namespace poser {

namespace {

// theta^(-2i / head_dim) for i < head_dim / 2, in float32.
torch::Tensor plain_inv_freq(const torch::Tensor& theta, int64_t head_dim) {
  auto exponents = torch::arange(0, head_dim, 2, torch::kLong).to(torch::kFloat32) / head_dim;
  return torch::pow(theta, exponents).reciprocal();
}

torch::Tensor plain_inv_freq(double theta, int64_t head_dim) {
  auto exponents = torch::arange(0, head_dim, 2, torch::kLong).to(torch::kFloat32) / head_dim;
  return torch::pow(theta, exponents).reciprocal();
}

// Llama 3.1: wavelengths shorter than original / high_freq_factor keep their
// frequency, those longer than original / low_freq_factor are slowed by
// `factor`, and the band between blends the two linearly in original / wavelength.
torch::Tensor llama3_inv_freq(const RopeSpec& s, int64_t head_dim) {
  auto inv = plain_inv_freq(s.theta, head_dim);
  const double original = static_cast<double>(s.original_max_position_embeddings);
  const double long_wavelen = original / s.low_freq_factor, short_wavelen = original / s.high_freq_factor;
  auto wavelen = (2 * M_PI) / inv;
  auto slowed = torch::where(wavelen > long_wavelen, inv / s.factor, inv);
  auto blend = (original / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  auto blended = (1 - blend) * slowed / s.factor + blend * slowed;
  auto middle = (wavelen >= short_wavelen).logical_and(wavelen <= long_wavelen);
  return torch::where(middle, blended, slowed);
}

// Dynamic NTK: past max_position_embeddings the base grows with the length,
// theta * (factor * length / max - (factor - 1))^(d / (d - 2)); within it the
// frequencies are the plain ones. Computed on float32 scalars as transformers does.
torch::Tensor dynamic_inv_freq(const RopeSpec& s, int64_t head_dim, int64_t max_positions, int64_t length) {
  if (length <= max_positions) return plain_inv_freq(s.theta, head_dim);
  const double d = static_cast<double>(head_dim);
  auto scaled = torch::tensor(length, torch::kLong) * s.factor / max_positions - (s.factor - 1);
  auto theta = scaled.pow(d / (d - 2)) * s.theta;
  return plain_inv_freq(theta, head_dim);
}

}  // namespace

torch::Tensor rope_inv_freq(const RopeSpec& spec, int64_t head_dim, int64_t max_position_embeddings, int64_t length) {
  switch (spec.type) {
    case RopeSpec::Type::Default:
      return plain_inv_freq(spec.theta, head_dim);
    case RopeSpec::Type::Linear:
      return plain_inv_freq(spec.theta, head_dim) / spec.factor;
    case RopeSpec::Type::Dynamic:
      return dynamic_inv_freq(spec, head_dim, max_position_embeddings, length);
    case RopeSpec::Type::Llama3:
      return llama3_inv_freq(spec, head_dim);
  }
  throw Error("E_UNSUPPORTED", "unknown rope type");
}

RotaryEmbedding::RotaryEmbedding(const RopeSpec& spec, int64_t head_dim, int64_t max_position_embeddings,
                                 torch::Device device)
    : spec_(spec), head_dim_(head_dim), max_positions_(max_position_embeddings),
      inv_freq_(rope_inv_freq(spec, head_dim, max_position_embeddings, max_position_embeddings).to(device)) {}

void RotaryEmbedding::check_length(int64_t length) const {
  if (length <= max_positions_ || spec_.type == RopeSpec::Type::Dynamic) return;
  throw Error("E_ARG", "a sequence of " + std::to_string(length) + " positions exceeds this model's limit of " +
                           std::to_string(max_positions_) + " (max_position_embeddings; rope type '" +
                           RopeSpec::type_name(spec_.type) + "' does not extend it)");
}

std::pair<torch::Tensor, torch::Tensor> RotaryEmbedding::tables(const torch::Tensor& positions,
                                                                torch::ScalarType dtype, int64_t length) const {
  if (length < 0) length = positions.numel() == 0 ? 0 : positions.max().item<int64_t>() + 1;
  check_length(length);
  auto inv_freq = length > max_positions_ ? rope_inv_freq(spec_, head_dim_, max_positions_, length).to(positions.device())
                                          : inv_freq_;
  auto freqs = positions.to(torch::kFloat32).unsqueeze(-1) * inv_freq;  // [B, T, hd/2]
  auto emb = torch::cat({freqs, freqs}, -1).unsqueeze(1);                 // [B, 1, T, hd]
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

}  // namespace poser
