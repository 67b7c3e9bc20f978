#pragma once
// A finite-difference gradient checker shared by the layer, loss and model
// tests. Five-point central differences in double precision,
//   g_fd(i) = (f(p - 2h e_i) - 8 f(p - h e_i) + 8 f(p + h e_i) - f(p + 2h e_i)) / (12 h),
// whose truncation error is O(h^4): with h = 1e-4 it is far below the
// rounding error of f (~1e-16 |f| / h), which a two-point stencil would need
// h ~ 1e-6 to reach.
// compared with the analytic gradient g by the relative error
//   |g_i - g_fd_i| / max(|g_i|, |g_fd_i|, 1e-4 max_j |g_j|).
// The scale term matters only for elements 10^4 times smaller than the
// largest: an exact zero (a dead ReLU unit) against a finite difference that
// is pure rounding noise (~1e-16 |f| / h) would otherwise count as error 1.

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include <doctest/doctest.h>

#include <Eigen/Core>

namespace vae::test {

struct GradientCheck {
  double max_relative_error = 0;
  Eigen::Index worst_index = -1;
  Eigen::Index checked = 0;
};

/// `f` returns the function value at `p` (it may modify nothing but read p).
inline GradientCheck check_gradient(const std::function<double(const Eigen::VectorXd&)>& f, Eigen::VectorXd p,
                                    const Eigen::VectorXd& analytic, double h = 1e-4) {
  GradientCheck out;
  const double floor = std::max(1e-4 * analytic.cwiseAbs().maxCoeff(), 1e-300);
  for (Eigen::Index i = 0; i < p.size(); ++i) {
    const double saved = p[i];
    auto at = [&](double offset) {
      p[i] = saved + offset;
      return f(p);
    };
    const double fd = (at(-2 * h) - 8 * at(-h) + 8 * at(h) - at(2 * h)) / (12 * h);
    p[i] = saved;
    const double err = std::abs(analytic[i] - fd) / std::max({std::abs(analytic[i]), std::abs(fd), floor});
    if (err > out.max_relative_error) {
      out.max_relative_error = err;
      out.worst_index = i;
    }
    ++out.checked;
  }
  return out;
}

}  // namespace vae::test

#include <vae/core/rng.hpp>

namespace vae::test {

/// d(batch loss sum)/d(params) of `model` (compute_gradients) against finite
/// differences of evaluate() on copies of the model, every call taking its
/// noise from a copy of `noise`, so all see the same eps. Leaves the
/// analytic gradient in model.gradients().
template <class Model>
GradientCheck model_gradient_check(Model& model, const Eigen::MatrixXd& batch, const Rng& noise) {
  Rng rng = noise;
  model.compute_gradients(batch, rng);
  const Eigen::VectorXd analytic = model.gradients_host();
  Model probe = model;
  return check_gradient(
      [&](const Eigen::VectorXd& p) {
        probe.set_parameters(p);
        Rng r = noise;
        return probe.evaluate(batch, r).total * static_cast<double>(batch.cols());
      },
      model.parameters_host(), analytic);
}

/// Builds Model(11, objective), checks every one of its parameters'
/// gradients (model_gradient_check, noise from Rng(5)) to a relative error of
/// 1e-6 and reports the largest error under `name`; returns it.
template <class Model, class Objective>
double expect_model_gradients(const Objective& objective, const Eigen::MatrixXd& batch, const std::string& name) {
  Model model(11, objective);
  const auto check = model_gradient_check(model, batch, Rng(5));
  MESSAGE(name << ": " << check.checked << " parameters, max relative error " << check.max_relative_error);
  CHECK(model.gradients_host().allFinite());
  CHECK(check.checked == model.num_parameters());
  CHECK(check.max_relative_error <= 1e-6);
  return check.max_relative_error;
}

}  // namespace vae::test
