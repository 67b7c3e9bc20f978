// initialize_glorot and initialize_output_bias (models/initialize.hpp):
// Glorot-uniform weights with the right bound per layer (a VAE encoder's
// heads counted as layers of `latent` outputs), zero biases, and the
// decoder's output bias at the logit of a mean.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <vae/vae.hpp>

namespace test_initialize {

namespace {

/// Checks `count` values at `w`: within +-bound, reaching near it, with the
/// uniform distribution's variance bound^2 / 3 (relative tolerance `rel`).
void expect_uniform(const double* w, vae::Index count, double bound, double rel, const char* what) {
  INFO(what << ", bound " << bound);
  double max_abs = 0, sum2 = 0;
  for (vae::Index i = 0; i < count; ++i) {
    max_abs = std::max(max_abs, std::abs(w[i]));
    sum2 += w[i] * w[i];
  }
  CHECK(max_abs <= bound);
  CHECK(max_abs >= bound * (1 - 20.0 / double(count)));
  CHECK(sum2 / double(count) == doctest::Approx(bound * bound / 3).epsilon(rel));
}

bool all_zero(const double* b, vae::Index count) {
  for (vae::Index i = 0; i < count; ++i)
    if (b[i] != 0) return false;
  return true;
}

}  // namespace

TEST_CASE("initialize_glorot: each layer's own bound, the heads' from latent outputs, zero biases") {
  using Model = vae::MlpVae<vae::Layers<784, 200, 200, 50>, vae::Tanh, double>;
  using Enc = Model::EncoderType;
  using Dec = Model::DecoderType;
  Model model(0);
  vae::initialize_glorot(model, 7);
  const vae::Vector<double> p = model.parameters_host();
  const double* enc = p.data();
  const double* dec = p.data() + Enc::parameter_count;
  // Encoder 784 -> 200 -> 200 -> (mu 50, log sigma 50).
  expect_uniform(enc + Enc::parameter_offset(0), 200 * 784, std::sqrt(6.0 / 984), 0.02, "encoder layer 0");
  expect_uniform(enc + Enc::parameter_offset(1), 200 * 200, std::sqrt(6.0 / 400), 0.03, "encoder layer 1");
  CHECK(all_zero(enc + Enc::parameter_offset(0) + 200 * 784, 200));
  CHECK(all_zero(enc + Enc::parameter_offset(1) + 200 * 200, 200));
  // The heads: 100 x 200 column-major, rows 0..49 mu, 50..99 log sigma, each
  // with bound sqrt(6 / (200 + 50)) (0.155), not sqrt(6 / 300) (0.141).
  const double* heads = enc + Enc::parameter_offset(2);
  std::vector<double> mu, log_sigma;
  for (vae::Index c = 0; c < 200; ++c)
    for (vae::Index r = 0; r < 100; ++r) (r < 50 ? mu : log_sigma).push_back(heads[c * 100 + r]);
  expect_uniform(mu.data(), 50 * 200, std::sqrt(6.0 / 250), 0.05, "mu head");
  expect_uniform(log_sigma.data(), 50 * 200, std::sqrt(6.0 / 250), 0.05, "log sigma head");
  CHECK(all_zero(heads + 100 * 200, 100));
  // Decoder 50 -> 200 -> 200 -> 784.
  expect_uniform(dec + Dec::parameter_offset(0), 200 * 50, std::sqrt(6.0 / 250), 0.05, "decoder layer 0");
  expect_uniform(dec + Dec::parameter_offset(2), 784 * 200, std::sqrt(6.0 / 984), 0.02, "decoder layer 2");
  CHECK(all_zero(dec + Dec::parameter_offset(2) + 784 * 200, 784));

  SUBCASE("the seed decides every value") {
    Model again(1), other(0);
    vae::initialize_glorot(again, 7);
    vae::initialize_glorot(other, 8);
    CHECK(again.parameters_host() == p);
    CHECK((other.parameters_host() - p).cwiseAbs().maxCoeff() > 0.1);
  }
}

TEST_CASE("initialize_glorot: an autoencoder's last encoder layer is a layer of latent outputs") {
  using Model = vae::MlpAutoencoder<vae::Layers<300, 100, 20>, vae::Relu, double>;
  using Enc = Model::EncoderType;
  Model model(0);
  vae::initialize_glorot(model, 3);
  const vae::Vector<double> p = model.parameters_host();
  expect_uniform(p.data() + Enc::parameter_offset(1), 20 * 100, std::sqrt(6.0 / 120), 0.08, "encoder layer 1");
  CHECK(all_zero(p.data() + Enc::parameter_offset(1) + 20 * 100, 20));
}

TEST_CASE("initialize_output_bias: logit of the clipped mean, nothing else changed, decoded output at the mean") {
  using Model = vae::MlpCvae<vae::Layers<6, 5, 2>, 3, vae::Tanh, double>;
  using Enc = Model::EncoderType;
  using Dec = Model::DecoderType;
  Model model(4);
  vae::initialize_glorot(model, 5);
  const vae::Vector<double> before = model.parameters_host();
  vae::Vector<double> mean(6);
  mean << 0.0, 1.0, 0.5, 0.25, 0.9, 0.0005;
  vae::initialize_output_bias(model, mean);
  const vae::Vector<double> after = model.parameters_host();
  const vae::Index bias = Enc::parameter_count + Dec::parameter_offset(1) + 6 * 5;
  CHECK(after.head(bias) == before.head(bias));
  CHECK(after[bias + 0] == doctest::Approx(std::log(0.001 / 0.999)));
  CHECK(after[bias + 1] == doctest::Approx(std::log(0.999 / 0.001)));
  CHECK(after[bias + 2] == doctest::Approx(0.0));
  CHECK(after[bias + 3] == doctest::Approx(std::log(1.0 / 3.0)));
  CHECK(after[bias + 4] == doctest::Approx(std::log(9.0)));
  CHECK(after[bias + 5] == doctest::Approx(std::log(0.001 / 0.999)));
  CHECK(after.size() == bias + 6);

  // With the last layer's weights zeroed the decoder outputs sigmoid(bias):
  // the clipped mean, whatever the latent and the label.
  vae::Vector<double> zeroed = after;
  zeroed.segment(bias - 6 * 5, 6 * 5).setZero();
  model.set_parameters(zeroed);
  vae::Matrix<double> z = vae::Matrix<double>::Random(Dec::sizes[0], 4);
  const vae::Matrix<double> x = model.decode(z);
  for (vae::Index j = 0; j < 4; ++j) {
    CHECK(x(0, j) == doctest::Approx(0.001));
    CHECK(x(1, j) == doctest::Approx(0.999));
    CHECK(x(2, j) == doctest::Approx(0.5));
    CHECK(x(3, j) == doctest::Approx(0.25));
    CHECK(x(4, j) == doctest::Approx(0.9));
  }
}

TEST_CASE("initialize_output_bias: a mean of the wrong size or outside [0, 1] is refused, the model untouched") {
  using Model = vae::MlpVae<vae::Layers<6, 5, 2>, vae::Relu, double>;
  Model model(0);
  const vae::Vector<double> p = model.parameters_host();
  CHECK_THROWS_WITH_AS(vae::initialize_output_bias(model, vae::Vector<double>::Constant(5, 0.5)),
                       "vae::initialize_output_bias: got a mean of 5 values, the decoder has 6 outputs",
                       vae::ShapeError);
  vae::Vector<double> mean = vae::Vector<double>::Constant(6, 0.5);
  mean[3] = 1.5;
  CHECK_THROWS_WITH_AS(vae::initialize_output_bias(model, mean),
                       doctest::Contains("mean[3] = 1.500000; expected a value in [0, 1]"), vae::ValueError);
  mean[3] = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(vae::initialize_output_bias(model, mean), vae::ValueError);
  CHECK(model.parameters_host() == p);
}

}  // namespace test_initialize
