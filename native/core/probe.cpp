// L2-regularised logistic-regression probe (see probe.h for the objective and
// the solver).

#include "probe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>

#include "errors.h"

namespace poser {
namespace {

using torch::Tensor;

std::string shape_of(const Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

std::string dtype_of(const Tensor& t) { return std::string(c10::toString(t.scalar_type())); }

void check_features(const Tensor& X, const char* fn) {
  if (!X.defined()) throw Error("E_ARG", std::string(fn) + ": X is undefined");
  if (X.dim() != 2)
    throw Error("E_ARG", std::string(fn) + ": X must be 2-D [N, D], got shape " + shape_of(X));
  if (!at::isFloatingType(X.scalar_type()))
    throw Error("E_ARG", std::string(fn) + ": X must be a floating-point tensor, got " + dtype_of(X));
}

// Labels as float64 on `device`, after checking they are 1-D, of length n,
// and all 0 or 1 with both classes present.
Tensor checked_labels(const Tensor& y, int64_t n, const torch::Device& device) {
  if (!y.defined()) throw Error("E_ARG", "fit_logistic: y is undefined");
  if (y.dim() != 1)
    throw Error("E_ARG", "fit_logistic: y must be 1-D [N], got shape " + shape_of(y));
  if (y.size(0) != n)
    throw Error("E_ARG", "fit_logistic: y has " + std::to_string(y.size(0)) +
                             " labels but X has " + std::to_string(n) + " rows");
  const auto st = y.scalar_type();
  if (st != torch::kBool && !at::isIntegralType(st, /*includeBool=*/false) && !at::isFloatingType(st))
    throw Error("E_ARG", "fit_logistic: y must be an integer, bool or floating tensor, got " + dtype_of(y));
  Tensor yf = y.to(device, torch::kFloat64);
  const bool binary = yf.eq(0).logical_or(yf.eq(1)).all().item<bool>();
  if (!binary) throw Error("E_ARG", "fit_logistic: labels must be 0 or 1");
  const double positives = yf.sum().item<double>();
  if (positives == 0 || positives == static_cast<double>(n))
    throw Error("E_ARG", std::string("fit_logistic: needs both classes, but every label is ") +
                             (positives == 0 ? "0" : "1"));
  return yf;
}

// sum_i log(1 + exp(-m_i)), stable for any margin m.
Tensor logloss_sum(const Tensor& margin) {
  return (torch::relu(-margin) + torch::log1p(torch::exp(-margin.abs()))).sum();
}

}  // namespace

LogisticProbe fit_logistic(const Tensor& X, const Tensor& y, const LogisticOptions& options) {
  check_features(X, "fit_logistic");
  const int64_t n = X.size(0);
  const int64_t d = X.size(1);
  if (n == 0) throw Error("E_ARG", "fit_logistic: X has no rows");
  const double C = options.C;
  if (!(std::isfinite(C) && C > 0))
    throw Error("E_ARG", "fit_logistic: C must be a finite positive number, got " + std::to_string(C));
  if (options.max_iter < 1)
    throw Error("E_ARG", "fit_logistic: max_iter must be >= 1, got " + std::to_string(options.max_iter));
  if (!(options.tol >= 0))
    throw Error("E_ARG", "fit_logistic: tol must be >= 0, got " + std::to_string(options.tol));
  if (!X.isfinite().all().item<bool>())
    throw Error("E_ARG", "fit_logistic: X contains NaN or infinite values");
  const Tensor yf = checked_labels(y, n, X.device());

  try {
    const bool dual = options.solver == LogisticSolver::Dual ||
                      (options.solver == LogisticSolver::Auto && n < d);
    const bool fit_b = options.fit_intercept;
    const Tensor X64 = X.to(torch::kFloat64).contiguous();
    const Tensor Xt = X64.t();
    const Tensor sign = yf * 2 - 1;
    const Tensor K = dual ? X64.mm(Xt) : Tensor();  // Gram matrix, N x N, formed once.

    auto objective = [&](const Tensor& w, double b) {
      return 0.5 * w.dot(w).item<double>() + C * logloss_sum(sign * (X64.mv(w) + b)).item<double>();
    };

    // A^{-1} V for A = I + C X^T diag(sw) X, V [D, k]. Returns an undefined
    // tensor if the Cholesky factorisation fails (not expected: A and M are
    // symmetric with eigenvalues >= 1).
    auto solve_A = [&](const Tensor& sw, const Tensor& V) -> Tensor {
      if (!dual) {
        const Tensor Xs = X64 * sw.sqrt().unsqueeze(1);
        Tensor A = Xs.t().mm(Xs).mul_(C);
        A.diagonal().add_(1.0);
        auto [L, info] = torch::linalg_cholesky_ex(A);
        if (info.item<int64_t>() != 0) return Tensor();
        return torch::cholesky_solve(V, L);
      }
      const Tensor r = sw.sqrt();
      Tensor M = K * r.unsqueeze(1) * r.unsqueeze(0);
      M.mul_(C);
      M.diagonal().add_(1.0);
      auto [L, info] = torch::linalg_cholesky_ex(M);
      if (info.item<int64_t>() != 0) return Tensor();
      const Tensor T = X64.mm(V) * r.unsqueeze(1);
      const Tensor U = torch::cholesky_solve(T, L) * r.unsqueeze(1);
      return V - Xt.mm(U).mul_(C);
    };

    Tensor w = torch::zeros({d}, X64.options());
    double b = 0;
    double f = objective(w, b);
    double threshold = -1;
    const double eps = std::numeric_limits<double>::epsilon();

    LogisticProbe probe;
    for (;;) {
      const Tensor p = torch::sigmoid(X64.mv(w) + b);
      const Tensor resid = p - yf;
      const Tensor gw = w + Xt.mv(resid) * C;
      const double gb = fit_b ? C * resid.sum().item<double>() : 0.0;
      const double gnorm = std::max(d > 0 ? gw.abs().max().item<double>() : 0.0, std::abs(gb));
      if (threshold < 0) threshold = options.tol * std::max(1.0, gnorm);
      if (gnorm <= threshold) {
        probe.converged = true;
        break;
      }
      if (probe.iterations >= options.max_iter) break;

      // Newton direction, the intercept eliminated by its Schur complement.
      const Tensor sw = p * (1 - p);
      Tensor dw;
      double db = 0;
      if (fit_b) {
        const Tensor a = Xt.mv(sw) * C;
        const double c = C * sw.sum().item<double>();
        const Tensor sol = solve_A(sw, torch::stack({-gw, a}, 1));
        if (sol.defined()) {
          const Tensor u = sol.select(1, 0);
          const Tensor v = sol.select(1, 1);
          const double sigma = c - a.dot(v).item<double>();
          if (std::isfinite(sigma) && sigma > c * 1e-12)
            db = (-gb - a.dot(u).item<double>()) / sigma;
          dw = u - v * db;
        }
      } else {
        const Tensor sol = solve_A(sw, (-gw).unsqueeze(1));
        if (sol.defined()) dw = sol.select(1, 0);
      }
      // Newton decrement^2 = -g . d; fall back to steepest descent if the
      // direction is unusable.
      double decrement = dw.defined() ? -(gw.dot(dw).item<double>() + gb * db) : -1.0;
      if (!(std::isfinite(decrement) && decrement > 0)) {
        dw = -gw;
        db = -gb;
        decrement = gw.dot(gw).item<double>() + gb * gb;
      }

      // Armijo backtracking on the objective.
      bool accepted = false;
      double t = 1.0;
      for (int k = 0; k < 60; ++k, t *= 0.5) {
        const Tensor w_new = w + dw * t;
        const double b_new = b + db * t;
        const double f_new = objective(w_new, b_new);
        if (std::isfinite(f_new) && f_new <= f - 1e-4 * t * decrement) {
          w = w_new;
          b = b_new;
          f = f_new;
          accepted = true;
          break;
        }
      }
      if (!accepted) {
        // No decrease found: converged iff the predicted decrease is below
        // the rounding level of f.
        probe.converged = 0.5 * decrement <= 64 * eps * std::max(1.0, std::abs(f));
        break;
      }
      ++probe.iterations;
    }
    probe.coef = w.to(torch::kCPU).contiguous();
    probe.intercept = b;
    return probe;
  } catch (const c10::Error& e) {
    throw Error("E_TORCH", std::string("fit_logistic: ") + e.what_without_backtrace());
  }
}

namespace {

Tensor decision(const LogisticProbe& probe, const Tensor& X, const char* fn) {
  check_features(X, fn);
  if (!probe.coef.defined() || probe.coef.dim() != 1)
    throw Error("E_ARG", std::string(fn) + ": the probe has no 1-D coefficient vector");
  if (X.size(1) != probe.coef.size(0))
    throw Error("E_SHAPE", std::string(fn) + ": X has " + std::to_string(X.size(1)) +
                               " features but the probe has " + std::to_string(probe.coef.size(0)));
  try {
    const Tensor coef = probe.coef.to(X.device(), torch::kFloat64);
    return X.to(torch::kFloat64).mv(coef) + probe.intercept;
  } catch (const c10::Error& e) {
    throw Error("E_TORCH", std::string(fn) + ": " + e.what_without_backtrace());
  }
}

}  // namespace

Tensor predict_proba(const LogisticProbe& probe, const Tensor& X) {
  return torch::sigmoid(decision(probe, X, "predict_proba"));
}

Tensor predict(const LogisticProbe& probe, const Tensor& X) {
  return decision(probe, X, "predict").gt(0).to(torch::kInt64);
}

}  // namespace poser
