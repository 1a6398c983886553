#include "hooks.h"

#include "errors.h"

namespace poser {

torch::Tensor draw_noise(const NoiseSpec& spec, int64_t width) {
  auto gen = at::detail::createCPUGenerator(spec.seed);
  auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  torch::Tensor draw = spec.gaussian ? at::randn({width}, gen, opts) : at::rand({width}, gen, opts);
  if (!spec.gaussian && spec.zero_mean) draw = draw - 0.5;
  if (spec.norm > 0) draw = draw * (spec.norm / draw.norm().item<double>());
  return draw;
}

namespace {

// value [D] or [B, D] -> broadcastable [1 or B, 1, D] on x's device and dtype.
torch::Tensor per_row(const torch::Tensor& value, const torch::Tensor& x) {
  const int64_t width = x.size(2);
  if (value.size(-1) != width || (value.dim() == 2 && value.size(0) != x.size(0)))
    throw Error("E_SHAPE", "intervention value of shape [" + std::to_string(value.dim() == 2 ? value.size(0) : 1) + ", " +
                               std::to_string(value.size(-1)) + "] does not fit the hook's [" + std::to_string(x.size(0)) +
                               ", " + std::to_string(width) + "] per position");
  auto v = value.to(x.device(), x.scalar_type());
  return v.dim() == 1 ? v.view({1, 1, width}) : v.view({x.size(0), 1, width});
}

torch::Tensor transform(const Intervention& op, const torch::Tensor& sel, const torch::Tensor& x) {
  switch (op.op) {
    case OpKind::Add:
      return sel + per_row(op.value, x) * op.scale;
    case OpKind::Set:
      return per_row(op.value, x).expand_as(sel);
    case OpKind::Scale:
      return sel * op.scale;
    case OpKind::Noise:
      return sel + per_row(draw_noise(op.noise, x.size(2)), x) * op.scale;
    case OpKind::ProjectOut: {
      auto u = per_row(op.value.to(torch::kFloat32), x.to(torch::kFloat32));
      u = u / u.norm(2, -1, true);
      auto s = sel.to(torch::kFloat32);
      return (s - (s * u).sum(-1, true) * u).to(sel.scalar_type());
    }
    case OpKind::Capture:
      break;
  }
  return sel;
}

// One op on x [B, T, D]; returns the updated x (unchanged for captures).
torch::Tensor apply_op(const Intervention& op, size_t i, torch::Tensor x, std::vector<torch::Tensor>& captures) {
  torch::Tensor gather_index, sel;
  if (op.positions.all) {
    sel = x;
  } else {
    auto idx = op.positions.index.to(x.device(), torch::kLong);
    gather_index = idx.unsqueeze(-1).expand({idx.size(0), idx.size(1), x.size(2)});
    sel = x.gather(1, gather_index);
  }
  if (op.op == OpKind::Capture) {
    if (captures.size() <= i) captures.resize(i + 1);
    captures[i] = sel.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    return x;
  }
  auto updated = transform(op, sel, x);
  return op.positions.all ? updated.expand_as(x).contiguous() : x.scatter(1, gather_index, updated);
}

}  // namespace

torch::Tensor apply_hook(int64_t ordinal, torch::Tensor x, const std::vector<Intervention>& ops,
                         std::vector<torch::Tensor>& captures) {
  for (size_t i = 0; i < ops.size(); ++i) {
    const Intervention& op = ops[i];
    if (op.ordinal != ordinal) continue;
    if (op.row_count <= 0) {
      x = apply_op(op, i, x, captures);
      continue;
    }
    const int64_t end = op.row_begin + op.row_count;
    auto part = apply_op(op, i, x.narrow(0, op.row_begin, op.row_count), captures);
    if (op.op != OpKind::Capture)
      x = torch::cat({x.narrow(0, 0, op.row_begin), part, x.narrow(0, end, x.size(0) - end)}, 0);
  }
  return x;
}

}  // namespace poser
