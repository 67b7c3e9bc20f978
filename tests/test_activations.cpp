// Activations and deep networks: each activation's value and derivative
// against finite differences, the CPU's packet path against its one-element
// path, gradient checks of three-hidden-layer autoencoders and VAEs for every
// activation, and an activation defined here, outside the library, that
// trains end to end and passes its gradient check.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include <vae/vae.hpp>

#include "gradient_check.hpp"
#include "soft_sign.hpp"

namespace test_activations {

namespace {

using vae::test::SoftSign;

static_assert(vae::is_activation_v<SoftSign>, "SoftSign meets the activation requirements");
static_assert(!vae::is_activation_v<int>, "int is no activation");

/// The largest |derivative(value(t)) - (value(t + h) - value(t - h)) / 2h|
/// over t in [-6, 6] (skipping ReLU's kink), in double.
template <class Act>
double derivative_error() {
  double worst = 0;
  const double h = 1e-6;
  for (double t = -6; t <= 6; t += 0.0625) {
    if (std::abs(t) < 2 * h) continue;
    const double fd = (Act::value(t + h) - Act::value(t - h)) / (2 * h);
    worst = std::max(worst, std::abs(Act::derivative(Act::value(t)) - fd));
  }
  return worst;
}

/// The packet path (16 floats at a time) gives the one-element path's values.
template <class Act>
float packet_difference() {
  vae::Packet<float> t;
  for (int i = 0; i < t.size(); ++i) t[i] = -8.0f + 1.07f * float(i);
  const vae::Packet<float> v = Act::value(t), d = Act::derivative(v);
  float worst = 0;
  for (int i = 0; i < t.size(); ++i) {
    worst = std::max(worst, std::abs(v[i] - Act::value(t[i])) / std::max(1.0f, std::abs(v[i])));
    worst = std::max(worst, std::abs(d[i] - Act::derivative(v[i])));
  }
  return worst;
}

constexpr vae::Index kBatch = 5;
using Sizes = vae::Layers<12, 8, 7, 6, 3>;  // three hidden layers

const Eigen::MatrixXd& batch() {
  static const Eigen::MatrixXd x = (Eigen::MatrixXd::Random(12, kBatch).array() + 1) / 2;
  return x;
}

/// d(batch loss sum)/d(params) against finite differences; returns the error.
template <class Model>
double gradient_error(vae::Objective<double> objective) {
  Model model(21, objective);
  const auto check = vae::test::model_gradient_check(model, batch(), vae::Rng(3));
  CHECK(check.checked == Model::parameter_count);
  return check.max_relative_error;
}

template <class Act>
void check_deep_models(const char* name) {
  using R = vae::Reconstruction;
  const double ae = gradient_error<vae::MlpAutoencoder<Sizes, Act, double>>({R::BinaryCrossEntropy});
  const double vae_error =
      gradient_error<vae::MlpVae<Sizes, Act, double>>({R::BinaryCrossEntropy, vae::KlForm::Exact, 1.0});
  const double vae_sse =
      gradient_error<vae::MlpVae<Sizes, Act, double>>({R::SquaredError, vae::KlForm::HalfVariancePrior, 1.0});
  MESSAGE(std::string(name) << " 12-8-7-6-3: autoencoder " << ae << ", VAE (BCE, exact KL) " << vae_error
               << ", VAE (SSE, half-variance KL) " << vae_sse);
  CHECK(ae <= 1e-6);
  CHECK(vae_error <= 1e-6);
  CHECK(vae_sse <= 1e-6);
}

}  // namespace

TEST_CASE("each activation's derivative, taken from its output, matches finite differences") {
  const double relu = derivative_error<vae::Relu>(), tanh = derivative_error<vae::Tanh>();
  const double softplus = derivative_error<vae::Softplus>(), elu = derivative_error<vae::Elu>();
  const double sigmoid = derivative_error<vae::Sigmoid>(), softsign = derivative_error<SoftSign>();
  MESSAGE("max |derivative - finite difference|: relu " << relu << ", tanh " << tanh << ", softplus " << softplus
                                                        << ", elu " << elu << ", sigmoid " << sigmoid << ", softsign "
                                                        << softsign);
  for (const double e : {relu, tanh, softplus, elu, sigmoid, softsign}) CHECK(e < 1e-8);
  CHECK(vae::Softplus::value(800.0) == 800.0);  // no overflow
  CHECK(vae::Softplus::value(-800.0) >= 0.0);
  CHECK(vae::Elu::value(-800.0) == -1.0);
  CHECK(std::string(vae::Tanh::name) == "tanh");
}

TEST_CASE("the CPU's packet path computes the one-element formulas") {
  CHECK(packet_difference<vae::Relu>() == 0.0f);
  CHECK(packet_difference<vae::Tanh>() < 1e-6f);
  CHECK(packet_difference<vae::Softplus>() < 1e-6f);
  CHECK(packet_difference<vae::Elu>() < 1e-6f);
  CHECK(packet_difference<SoftSign>() < 1e-6f);
}

TEST_CASE("three-hidden-layer models: gradients match finite differences for every activation") {
  check_deep_models<vae::Relu>("relu");
  check_deep_models<vae::Tanh>("tanh");
  check_deep_models<vae::Softplus>("softplus");
  check_deep_models<vae::Elu>("elu");
}

TEST_CASE("an activation defined outside the library passes its gradient check and trains") {
  check_deep_models<SoftSign>("softsign (defined in this test)");

  // Two blobs of 16-d points in [0, 1]; the VAE's loss falls as it trains.
  using Model = vae::MlpVae<vae::Layers<16, 12, 8, 2>, SoftSign>;
  Model model(5, {vae::Reconstruction::SquaredError, vae::KlForm::Exact, 1.0f});
  vae::Rng data_rng(8);
  Eigen::MatrixXf data(16, 512);
  for (vae::Index j = 0; j < data.cols(); ++j)
    for (vae::Index i = 0; i < 16; ++i)
      data(i, j) = std::clamp((j % 2 ? 0.8f : 0.2f) * float(i % 4 == 0) + data_rng.uniform(0.0f, 0.1f), 0.0f, 1.0f);
  vae::Adam<float> opt({5e-3});
  vae::TrainOptions o;
  o.epochs = 15;
  o.batch_size = 64;
  const auto history = vae::fit(model, opt, data, static_cast<const Eigen::MatrixXf*>(nullptr), o);
  MESSAGE("softsign VAE: loss per sample " << history.front().train.total << " -> " << history.back().train.total);
  CHECK(history.back().train.total < 0.5 * history.front().train.total);
}

}  // namespace test_activations
