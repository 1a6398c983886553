// Tests of the logistic-regression probe against scikit-learn's reference
// fit (test/fixtures/logreg.safetensors) and against the optimality condition
// of its objective, gradients taken by autograd independently of the solver.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "errors.h"
#include "expect_error.h"
#include "probe.h"
#include "safetensors.h"

namespace {

using poser::LogisticOptions;
using poser::LogisticProbe;
using poser::LogisticSolver;
using torch::Tensor;

struct Fixture {
  Tensor X_train, y_train, X_test, y_test, coef, pred_test;
  double intercept = 0, accuracy = 0;
};

const Fixture& fixture() {
  static const Fixture fx = [] {
    auto t = poser::load_safetensors_file(std::string(POSER_FIXTURES_DIR) + "/logreg.safetensors");
    Fixture f;
    f.X_train = t.at("logreg.X_train");
    f.y_train = t.at("logreg.y_train");
    f.X_test = t.at("logreg.X_test");
    f.y_test = t.at("logreg.y_test");
    f.coef = t.at("logreg.coef");
    f.pred_test = t.at("logreg.pred_test");
    f.intercept = t.at("logreg.intercept").item<double>();
    f.accuracy = t.at("logreg.accuracy_test").item<double>();
    return f;
  }();
  return fx;
}

// max_i |grad f|_i of 0.5 ||w||^2 + C sum_i log(1 + exp(-s_i (x_i . w + b)))
// at (coef, intercept), by autograd in float64 on the CPU.
double objective_grad_inf(const Tensor& X, const Tensor& y, const LogisticProbe& probe, double C,
                          bool fit_intercept = true) {
  torch::AutoGradMode grad_on(true);
  const Tensor X64 = X.to(torch::kCPU, torch::kFloat64);
  const Tensor s = y.to(torch::kCPU, torch::kFloat64) * 2 - 1;
  Tensor w = probe.coef.to(torch::kCPU, torch::kFloat64).clone().requires_grad_(true);
  Tensor b = torch::tensor(probe.intercept, torch::kFloat64).requires_grad_(fit_intercept);
  const Tensor m = s * (X64.mv(w) + b);
  const Tensor f = 0.5 * w.dot(w) + C * (torch::relu(-m) + torch::log1p(torch::exp(-m.abs()))).sum();
  f.backward();
  double g = w.grad().abs().max().item<double>();
  if (fit_intercept) g = std::max(g, b.grad().abs().item<double>());
  return g;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  return (a.to(torch::kCPU, torch::kFloat64) - b.to(torch::kCPU, torch::kFloat64)).abs().max().item<double>();
}

// Synthetic wide data: n rows, d features, labels from a noisy linear rule.
void wide_data(int64_t n, int64_t d, Tensor& X, Tensor& y) {
  torch::manual_seed(42);
  X = torch::randn({n, d}, torch::kFloat64);
  const Tensor direction = torch::randn({d}, torch::kFloat64) / std::sqrt(static_cast<double>(d));
  y = (X.mv(direction) + 0.5 * torch::randn({n}, torch::kFloat64) + 0.3).gt(0).to(torch::kInt64);
}

}  // namespace

// Coefficients and intercept: absolute tolerance 1e-3 (the reference values
// are all of magnitude < 1.1, so absolute and relative agree in scale).
TEST(LogisticProbe, MatchesSklearnOnFixture) {
  const auto& fx = fixture();
  ASSERT_EQ(fx.X_train.sizes(), (std::vector<int64_t>{160, 16}));
  const LogisticProbe probe = poser::fit_logistic(fx.X_train, fx.y_train, LogisticOptions{});
  EXPECT_TRUE(probe.converged);
  EXPECT_GT(probe.iterations, 0);
  EXPECT_LT(probe.iterations, 30);
  ASSERT_EQ(probe.coef.scalar_type(), torch::kFloat64);
  ASSERT_EQ(probe.coef.sizes(), (std::vector<int64_t>{16}));

  const double coef_diff = max_abs_diff(probe.coef, fx.coef);
  const double b_diff = std::abs(probe.intercept - fx.intercept);
  std::cout << "[probe] sklearn fixture: " << probe.iterations << " Newton steps, max |coef diff| = "
            << coef_diff << ", |intercept diff| = " << b_diff << "\n";
  EXPECT_LT(coef_diff, 1e-3);
  EXPECT_LT(b_diff, 1e-3);
  // The reference was fitted with tol 1e-10: both solutions are far closer
  // than the required 1e-3.
  EXPECT_LT(coef_diff, 1e-6);
  EXPECT_LT(b_diff, 1e-6);
  EXPECT_LT(objective_grad_inf(fx.X_train, fx.y_train, probe, 1.0), 1e-6);

  const Tensor pred = poser::predict(probe, fx.X_test);
  ASSERT_EQ(pred.scalar_type(), torch::kInt64);
  EXPECT_TRUE(torch::equal(pred, fx.pred_test));
  const double accuracy = pred.eq(fx.y_test).to(torch::kFloat64).mean().item<double>();
  EXPECT_DOUBLE_EQ(accuracy, fx.accuracy);

  const Tensor proba = poser::predict_proba(probe, fx.X_test);
  ASSERT_EQ(proba.scalar_type(), torch::kFloat64);
  ASSERT_EQ(proba.sizes(), (std::vector<int64_t>{40}));
  const Tensor expected = torch::sigmoid(fx.X_test.mv(fx.coef) + fx.intercept);
  EXPECT_LT(max_abs_diff(proba, expected), 1e-6);
  EXPECT_TRUE(torch::equal(proba.gt(0.5).to(torch::kInt64), pred));
}

TEST(LogisticProbe, Float32InputOnFixture) {
  const auto& fx = fixture();
  const LogisticProbe probe =
      poser::fit_logistic(fx.X_train.to(torch::kFloat32), fx.y_train, LogisticOptions{});
  EXPECT_TRUE(probe.converged);
  ASSERT_EQ(probe.coef.scalar_type(), torch::kFloat64);
  const double coef_diff = max_abs_diff(probe.coef, fx.coef);
  std::cout << "[probe] float32 input: max |coef diff| = " << coef_diff << "\n";
  EXPECT_LT(coef_diff, 1e-3);
  EXPECT_LT(std::abs(probe.intercept - fx.intercept), 1e-3);
  const Tensor pred = poser::predict(probe, fx.X_test.to(torch::kFloat32));
  EXPECT_TRUE(torch::equal(pred, fx.pred_test));
  EXPECT_DOUBLE_EQ(pred.eq(fx.y_test).to(torch::kFloat64).mean().item<double>(), fx.accuracy);
}

TEST(LogisticProbe, LabelDtypesGiveTheSameFit) {
  const auto& fx = fixture();
  const LogisticProbe ref = poser::fit_logistic(fx.X_train, fx.y_train, LogisticOptions{});
  for (auto dt : {torch::kBool, torch::kInt32, torch::kUInt8, torch::kFloat32, torch::kFloat64}) {
    const LogisticProbe p = poser::fit_logistic(fx.X_train, fx.y_train.to(dt), LogisticOptions{});
    EXPECT_LT(max_abs_diff(p.coef, ref.coef), 1e-12) << c10::toString(dt);
    EXPECT_NEAR(p.intercept, ref.intercept, 1e-12) << c10::toString(dt);
  }
}

TEST(LogisticProbe, PrimalAndDualSolversAgreeOnFixture) {
  const auto& fx = fixture();
  for (double C : {1.0, 0.05}) {
    LogisticOptions primal, dual;
    primal.C = dual.C = C;
    primal.solver = LogisticSolver::Primal;
    dual.solver = LogisticSolver::Dual;
    const LogisticProbe a = poser::fit_logistic(fx.X_train, fx.y_train, primal);
    const LogisticProbe b = poser::fit_logistic(fx.X_train, fx.y_train, dual);
    EXPECT_TRUE(a.converged) << "C=" << C;
    EXPECT_TRUE(b.converged) << "C=" << C;
    EXPECT_LT(max_abs_diff(a.coef, b.coef), 1e-9) << "C=" << C;
    EXPECT_NEAR(a.intercept, b.intercept, 1e-9) << "C=" << C;
    EXPECT_LT(objective_grad_inf(fx.X_train, fx.y_train, b, C), 1e-6) << "C=" << C;
    if (C == 1.0) {
      EXPECT_LT(max_abs_diff(b.coef, fx.coef), 1e-6);
    }
  }
}

// N = 50 < D = 3000: Auto takes the Woodbury (dual) path; it must agree with
// the D x D primal Newton solve and satisfy the optimality condition.
TEST(LogisticProbe, LargeDimensionDualPathAgreesWithPrimal) {
  Tensor X, y;
  wide_data(50, 3000, X, y);
  const int64_t positives = y.sum().item<int64_t>();
  ASSERT_GT(positives, 5);
  ASSERT_LT(positives, 45);
  for (double C : {1.0, 0.01}) {
    LogisticOptions automatic, primal;
    automatic.C = primal.C = C;
    primal.solver = LogisticSolver::Primal;
    const LogisticProbe wide = poser::fit_logistic(X, y, automatic);
    const LogisticProbe full = poser::fit_logistic(X, y, primal);
    EXPECT_TRUE(wide.converged) << "C=" << C;
    EXPECT_TRUE(full.converged) << "C=" << C;
    ASSERT_EQ(wide.coef.sizes(), (std::vector<int64_t>{3000}));
    const double scale = std::max(1.0, full.coef.abs().max().item<double>());
    const double diff = max_abs_diff(wide.coef, full.coef);
    std::cout << "[probe] N=50 D=3000 C=" << C << ": dual " << wide.iterations << " steps, primal "
              << full.iterations << " steps, max |coef diff| = " << diff << ", |w|_max = "
              << full.coef.abs().max().item<double>() << "\n";
    EXPECT_LT(diff, 1e-8 * scale) << "C=" << C;
    EXPECT_NEAR(wide.intercept, full.intercept, 1e-8 * std::max(1.0, std::abs(full.intercept)));
    EXPECT_LT(objective_grad_inf(X, y, wide, C), 1e-6) << "C=" << C;
    // The training data are separable (N < D): the C=1 fit classifies them all.
    if (C == 1.0) {
      EXPECT_TRUE(torch::equal(poser::predict(wide, X), y));
    }
  }
}

TEST(LogisticProbe, WithoutIntercept) {
  const auto& fx = fixture();
  LogisticOptions opts;
  opts.fit_intercept = false;
  for (auto solver : {LogisticSolver::Primal, LogisticSolver::Dual}) {
    opts.solver = solver;
    const LogisticProbe p = poser::fit_logistic(fx.X_train, fx.y_train, opts);
    EXPECT_TRUE(p.converged);
    EXPECT_EQ(p.intercept, 0.0);
    EXPECT_LT(objective_grad_inf(fx.X_train, fx.y_train, p, 1.0, /*fit_intercept=*/false), 1e-6);
    // Without the intercept the fit differs from the reference.
    EXPECT_GT(max_abs_diff(p.coef, fx.coef), 1e-3);
  }
}

TEST(LogisticProbe, RegularisationStrengthAndScaledFeatures) {
  const auto& fx = fixture();
  double previous_norm = 0;
  for (double C : {1e-3, 1e-1, 1e1, 1e3}) {
    LogisticOptions opts;
    opts.C = C;
    const LogisticProbe p = poser::fit_logistic(fx.X_train, fx.y_train, opts);
    EXPECT_TRUE(p.converged) << "C=" << C;
    // Gradient relative to its value at zero, whose scale grows with C.
    const double g0 = (fx.X_train.t().mv(0.5 - fx.y_train.to(torch::kFloat64)) * C).abs().max().item<double>();
    EXPECT_LT(objective_grad_inf(fx.X_train, fx.y_train, p, C), 1e-7 * std::max(1.0, g0)) << "C=" << C;
    const double norm = p.coef.norm().item<double>();
    EXPECT_GT(norm, previous_norm) << "weaker regularisation must give larger weights";
    previous_norm = norm;
  }
  // Features scaled by 1000 and shifted by 50: badly conditioned (the
  // intercept nearly collinear with every feature); the fit must still reach
  // the optimum.
  const Tensor Xs = fx.X_train * 1000 + 50;
  const LogisticProbe p = poser::fit_logistic(Xs, fx.y_train, LogisticOptions{});
  EXPECT_TRUE(p.converged);
  const double g0 = (Xs.t().mv(0.5 - fx.y_train.to(torch::kFloat64))).abs().max().item<double>();
  EXPECT_LT(objective_grad_inf(Xs, fx.y_train, p, 1.0), 1e-7 * g0);
}

TEST(LogisticProbe, IterationCapReportsNotConverged) {
  const auto& fx = fixture();
  LogisticOptions opts;
  opts.max_iter = 1;
  const LogisticProbe p = poser::fit_logistic(fx.X_train, fx.y_train, opts);
  EXPECT_FALSE(p.converged);
  EXPECT_EQ(p.iterations, 1);
  EXPECT_GT(max_abs_diff(p.coef, fx.coef), 1e-6);
}

TEST(LogisticProbe, InvalidArguments) {
  const auto& fx = fixture();
  const Tensor& X = fx.X_train;
  const Tensor& y = fx.y_train;
  auto fit = [](const Tensor& X, const Tensor& y, LogisticOptions o = {}) { poser::fit_logistic(X, y, o); };

  expect_error([&] { fit(X.reshape({-1}), y); }, "E_ARG", {"X must be 2-D"});
  expect_error([&] { fit(X.unsqueeze(0), y); }, "E_ARG", {"X must be 2-D"});
  expect_error([&] { fit(X.to(torch::kInt64), y); }, "E_ARG", {"floating-point"});
  expect_error([&] { fit(X.slice(0, 0, 0), y.slice(0, 0, 0)); }, "E_ARG", {"no rows"});
  expect_error([&] { fit(X, y.slice(0, 0, 100)); }, "E_ARG", {"100 labels", "160 rows"});
  expect_error([&] { fit(X, y.unsqueeze(1)); }, "E_ARG", {"y must be 1-D"});

  Tensor y2 = y.clone();
  y2[3] = 2;
  expect_error([&] { fit(X, y2); }, "E_ARG", {"labels must be 0 or 1"});
  Tensor yneg = y.clone();
  yneg[0] = -1;
  expect_error([&] { fit(X, yneg); }, "E_ARG", {"labels must be 0 or 1"});
  Tensor yhalf = y.to(torch::kFloat64);
  yhalf[5] = 0.5;
  expect_error([&] { fit(X, yhalf); }, "E_ARG", {"labels must be 0 or 1"});
  Tensor ynan = y.to(torch::kFloat64);
  ynan[5] = std::numeric_limits<double>::quiet_NaN();
  expect_error([&] { fit(X, ynan); }, "E_ARG", {"labels must be 0 or 1"});

  expect_error([&] { fit(X, torch::zeros_like(y)); }, "E_ARG", {"needs both classes"});
  expect_error([&] { fit(X, torch::ones({160}, torch::kBool)); }, "E_ARG", {"needs both classes"});

  for (double C : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    LogisticOptions o;
    o.C = C;
    expect_error([&] { fit(X, y, o); }, "E_ARG", {"C must be a finite positive number"});
  }
  LogisticOptions no_iter;
  no_iter.max_iter = 0;
  expect_error([&] { fit(X, y, no_iter); }, "E_ARG", {"max_iter"});
  LogisticOptions bad_tol;
  bad_tol.tol = -1;
  expect_error([&] { fit(X, y, bad_tol); }, "E_ARG", {"tol"});

  Tensor Xnan = X.clone();
  Xnan[7][3] = std::numeric_limits<double>::quiet_NaN();
  expect_error([&] { fit(Xnan, y); }, "E_ARG", {"NaN or infinite"});
  Tensor Xinf = X.to(torch::kFloat32);
  Xinf[0][0] = -std::numeric_limits<float>::infinity();
  expect_error([&] { fit(Xinf, y); }, "E_ARG", {"NaN or infinite"});

  const LogisticProbe probe = poser::fit_logistic(X, y, LogisticOptions{});
  expect_error([&] { poser::predict(probe, X.slice(1, 0, 15)); }, "E_SHAPE", {"15 features", "16"});
  expect_error([&] { poser::predict_proba(probe, X.reshape({-1})); }, "E_ARG", {"X must be 2-D"});
  expect_error([&] { poser::predict(LogisticProbe{}, X); }, "E_ARG", {"no 1-D coefficient"});
}

TEST(LogisticProbe, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "CUDA not available";
  const auto& fx = fixture();
  const LogisticProbe cpu = poser::fit_logistic(fx.X_train, fx.y_train, LogisticOptions{});
  const LogisticProbe gpu =
      poser::fit_logistic(fx.X_train.to(torch::kCUDA, torch::kFloat32), fx.y_train.to(torch::kCUDA), LogisticOptions{});
  EXPECT_TRUE(gpu.converged);
  EXPECT_LT(max_abs_diff(gpu.coef, fx.coef), 1e-3);
  EXPECT_LT(max_abs_diff(gpu.coef, cpu.coef), 1e-3);
  const Tensor pred = poser::predict(gpu, fx.X_test.to(torch::kCUDA));
  EXPECT_TRUE(pred.is_cuda());
  EXPECT_TRUE(torch::equal(pred.cpu(), fx.pred_test));
}
