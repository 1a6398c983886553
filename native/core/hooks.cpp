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
      if (op.value.defined()) return sel * op.value.to(x.device(), x.scalar_type()).view({-1, 1, 1});
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
  for (size_t i = 0; i < ops.size(); ++i)
    if (ops[i].ordinal == ordinal) x = apply_op(ops[i], i, x, captures);
  return x;
}

bool ops_for_rows(const std::vector<Intervention>& ops, int64_t rows, int64_t begin, int64_t end,
                  std::vector<Intervention>& out) {
  // Per-row tensors: positions [B, K]; Add / Set / ProjectOut values [B, D]; Scale factors [B].
  auto per_row = [](const Intervention& op) {
    if (!op.value.defined() || op.op == OpKind::Capture || op.op == OpKind::Noise) return false;
    return op.op == OpKind::Scale || op.value.dim() == 2;
  };
  for (const auto& op : ops) {
    if (!op.positions.all && (!op.positions.index.defined() || op.positions.index.size(0) != rows)) return false;
    if (per_row(op) && op.value.size(0) != rows) return false;
  }
  out.clear();
  for (const auto& op : ops) {
    Intervention part = op;
    if (!op.positions.all) part.positions.index = op.positions.index.slice(0, begin, end);
    if (per_row(op)) part.value = op.value.slice(0, begin, end);
    out.push_back(std::move(part));
  }
  return true;
}

bool same_ops(const std::vector<Intervention>& a, const std::vector<Intervention>& b) {
  if (a.size() != b.size()) return false;
  for (size_t j = 0; j < a.size(); ++j)
    if (a[j].ordinal != b[j].ordinal || a[j].op != b[j].op) return false;
  return true;
}

namespace {

// value [W] or [rows, W] -> [rows, W].
torch::Tensor rows_of(const torch::Tensor& value, int64_t rows) {
  return value.dim() == 1 ? value.unsqueeze(0).expand({rows, value.size(0)}) : value;
}

}  // namespace

std::vector<Intervention> stack_settings(const std::vector<const std::vector<Intervention>*>& settings, int64_t rows,
                                         const torch::Tensor& index) {
  const auto n = static_cast<int64_t>(settings.size());
  const auto& first = *settings.at(0);
  std::vector<Intervention> ops;
  for (size_t j = 0; j < first.size(); ++j) {
    Intervention op;
    op.ordinal = first[j].ordinal;
    op.op = first[j].op == OpKind::Noise ? OpKind::Add : first[j].op;
    op.width = first[j].width;
    op.positions.index = index.repeat({n, 1});
    std::vector<torch::Tensor> parts;
    for (const auto* setting : settings) {
      const Intervention& src = (*setting)[j];
      switch (src.op) {
        case OpKind::Add:
          parts.push_back(rows_of(src.value, rows) * src.scale);
          break;
        case OpKind::Set:
        case OpKind::ProjectOut:
          parts.push_back(rows_of(src.value, rows));
          break;
        case OpKind::Scale:
          parts.push_back(src.value.defined() ? src.value.to(torch::kFloat32)
                                              : torch::full({rows}, src.scale, torch::kFloat32));
          break;
        case OpKind::Noise:
          if (src.width <= 0) throw Error("E_ARG", "a stacked noise op needs its hook's width");
          parts.push_back(rows_of(draw_noise(src.noise, src.width) * src.scale, rows));
          break;
        case OpKind::Capture:
          break;
      }
    }
    if (!parts.empty()) op.value = torch::cat(parts, 0);
    ops.push_back(std::move(op));
  }
  return ops;
}

}  // namespace poser
