// Linear probes: L2-regularised binary logistic regression fitted natively in
// libtorch, agreeing with scikit-learn's
// LogisticRegression(penalty="l2", C=C, fit_intercept=...).
//
// Objective (the intercept is not penalised):
//   minimise  f(w, b) = 0.5 * ||w||^2 + C * sum_i log(1 + exp(-s_i * (x_i . w + b))),
//   s_i = 2 * y_i - 1.
//
// Solver: damped Newton's method (IRLS) in float64 on X's device, with an
// Armijo backtracking line search on f. Each Newton system
//
//   [ A    a ] [dw]     [g_w]      A = I + C X^T S X,  S = diag(p_i (1 - p_i))
//   [ a^T  c ] [db] = - [g_b]      a = C X^T S 1,      c = C sum_i S_ii
//
// is solved by eliminating the intercept through its Schur complement
// sigma = c - a^T A^{-1} a (> 0 whenever some p_i (1 - p_i) > 0), so only
// products A^{-1} V (V with two columns) are needed. They are computed in one
// of two exact ways:
//   primal: Cholesky of the D x D matrix A (O(N D^2 + D^3) per step);
//   dual:   the Woodbury identity with the N x N Gram matrix K = X X^T
//           (formed once, O(N^2 D)):
//             A^{-1} V = V - C X^T R M^{-1} R X V,
//             M = I_N + C R K R,  R = diag(sqrt(S_ii)),
//           i.e. a Cholesky of M (eigenvalues >= 1) per step, O(N D + N^3).
// LogisticSolver::Auto takes the dual form when N < D and the primal form
// otherwise, so beyond X itself the memory is O(min(N, D)^2) <= O(N D): a
// 5120-wide activation matrix with a few thousand rows never materialises a
// 5120 x 5120 Hessian.
//
// Convergence: ||grad f||_inf <= tol * max(1, ||grad f(0, 0)||_inf) (relative
// to the gradient at the starting point w = 0, b = 0, so the test does not
// depend on the scale of C, N or X). A step whose predicted decrease
// (Newton decrement^2 / 2) is below the rounding level of f also ends the fit
// as converged: no further progress is representable in float64.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace poser {

enum class LogisticSolver {
  Auto,    // Dual when N < D, primal otherwise.
  Primal,  // D x D Cholesky of the feature-space Hessian block.
  Dual,    // Woodbury identity through the N x N Gram matrix.
};

struct LogisticOptions {
  double C = 1.0;              // Inverse regularisation strength; finite, > 0.
  bool fit_intercept = true;   // When false the intercept stays 0.
  int64_t max_iter = 100;      // Newton steps at most; >= 1.
  double tol = 1e-8;           // Relative gradient tolerance (see above); >= 0.
  LogisticSolver solver = LogisticSolver::Auto;
};

struct LogisticProbe {
  torch::Tensor coef;      // [D] float64, on the CPU.
  double intercept = 0;
  int64_t iterations = 0;  // Newton steps taken.
  bool converged = false;
};

// X [N, D]: any floating dtype, any device; the fit runs in float64 on X's
// device. y [N]: labels 0/1 as an integer, bool or floating tensor (any device;
// moved to X's). Throws poser::Error E_ARG when X is not a 2-D floating tensor
// with at least one row, X holds NaN or infinity, y is not 1-D of length N,
// a label is not 0 or 1, only one class is present, C is not a finite
// positive number, max_iter < 1, or tol is negative or NaN.
LogisticProbe fit_logistic(const torch::Tensor& X, const torch::Tensor& y,
                           const LogisticOptions& options = {});

// P(y = 1 | x) = sigmoid(x . coef + intercept): [N] float64 on X's device.
// Throws E_ARG when X is not a 2-D floating tensor or the probe has no
// coefficients, E_SHAPE when X's width differs from coef's length.
torch::Tensor predict_proba(const LogisticProbe& probe, const torch::Tensor& X);

// 1 where x . coef + intercept > 0, else 0 (scikit-learn's rule): [N] int64 on
// X's device.
torch::Tensor predict(const LogisticProbe& probe, const torch::Tensor& X);

}  // namespace poser
