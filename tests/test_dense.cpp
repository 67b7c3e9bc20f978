// Dense layer: forward values and finite-difference checks of dW, db, dx for
// both activations, in double precision.
#include <doctest/doctest.h>

#include <vae/vae.hpp>

#include "gradient_check.hpp"

namespace test_dense {

namespace {

constexpr vae::Index kIn = 7, kOut = 5, kBatch = 4;

template <class Act>
using Layer = vae::Dense<kIn, kOut, Act, double, vae::Cpu>;

/// f(W, b, x) = sum(R .* act(W x + b)) for a fixed random R, so df/dy = R.
template <class Act>
struct Fixture {
  Eigen::VectorXd params = Eigen::VectorXd::Random(Layer<Act>::parameter_count);
  Eigen::VectorXd grads = Eigen::VectorXd::Zero(Layer<Act>::parameter_count);
  Eigen::MatrixXd x = Eigen::MatrixXd::Random(kIn, kBatch);
  Eigen::MatrixXd r = Eigen::MatrixXd::Random(kOut, kBatch);
  vae::Cpu::Context ctx;

  double value(Eigen::VectorXd p, const Eigen::MatrixXd& input) {
    Layer<Act> layer;
    Eigen::VectorXd g(p.size());
    layer.bind(p.data(), g.data());
    Eigen::MatrixXd y(kOut, kBatch);
    layer.forward(ctx, vae::view_of<double>(input), vae::make_view(y.data(), kOut, kBatch));
    return (r.array() * y.array()).sum();
  }
};

template <class Act>
void check_layer() {
  Fixture<Act> fx;
  Layer<Act> layer;
  layer.bind(fx.params.data(), fx.grads.data());
  Eigen::MatrixXd y(kOut, kBatch), dx(kIn, kBatch);
  layer.forward(fx.ctx, vae::view_of<double>(fx.x), vae::make_view(y.data(), kOut, kBatch));

  // Forward against the definition.
  const Eigen::Map<Eigen::MatrixXd> w(fx.params.data(), kOut, kIn);
  const Eigen::Map<Eigen::VectorXd> b(fx.params.data() + kOut * kIn, kOut);
  Eigen::MatrixXd expected = (w * fx.x).colwise() + b;
  if (std::is_same_v<Act, vae::Relu>) expected = expected.cwiseMax(0.0);
  CHECK((y - expected).cwiseAbs().maxCoeff() < 1e-14);

  Eigen::MatrixXd dy = fx.r;
  layer.backward(fx.ctx, vae::view_of<double>(fx.x), vae::view_of<double>(y), vae::make_view(dy.data(), kOut, kBatch),
                 vae::make_view(dx.data(), kIn, kBatch));

  const auto params_check = vae::test::check_gradient([&](const Eigen::VectorXd& p) { return fx.value(p, fx.x); },
                                                      fx.params, fx.grads);
  Eigen::VectorXd x_flat = Eigen::Map<Eigen::VectorXd>(fx.x.data(), fx.x.size());
  const auto input_check = vae::test::check_gradient(
      [&](const Eigen::VectorXd& xf) {
        return fx.value(fx.params, Eigen::Map<const Eigen::MatrixXd>(xf.data(), kIn, kBatch));
      },
      x_flat, Eigen::Map<Eigen::VectorXd>(dx.data(), dx.size()));
  MESSAGE("Dense<" << kIn << ", " << kOut << ", " << std::string(std::is_same_v<Act, vae::Relu> ? "Relu" : "Identity")
                   << "> max relative error: params " << params_check.max_relative_error << ", input "
                   << input_check.max_relative_error);
  CHECK(params_check.checked == Layer<Act>::parameter_count);
  CHECK(params_check.max_relative_error <= 1e-6);
  CHECK(input_check.max_relative_error <= 1e-6);
}

}  // namespace

TEST_CASE("Dense with identity activation: forward and gradients") { check_layer<vae::Identity>(); }

TEST_CASE("Dense with ReLU activation: forward and gradients") { check_layer<vae::Relu>(); }

TEST_CASE("Dense initialisation follows nn.Linear: uniform within 1/sqrt(fan_in)") {
  using L = vae::Dense<100, 50, vae::Relu, double, vae::Cpu>;
  Eigen::VectorXd p(L::parameter_count);
  vae::Rng rng(7);
  L::initialize(rng, p.data());
  const double bound = 1.0 / std::sqrt(100.0);
  CHECK(p.cwiseAbs().maxCoeff() < bound);
  CHECK(p.cwiseAbs().maxCoeff() > 0.95 * bound);
  // Uniform(-a, a) has mean 0 and variance a^2 / 3.
  CHECK(std::abs(p.mean()) < 0.05 * bound);
  const double var = (p.array() - p.mean()).square().mean();
  CHECK(var == doctest::Approx(bound * bound / 3).epsilon(0.05));
}

}  // namespace test_dense
