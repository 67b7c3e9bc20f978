// Whole models: finite-difference gradient checks of the autoencoder and the
// VAE in double precision, for each loss and KL form, plus the shapes and
// invariants of inference.
#include <doctest/doctest.h>

#include <type_traits>

#include <vae/vae.hpp>

#include "gradient_check.hpp"

namespace test_models {

namespace {

constexpr vae::Index kIn = 12, kHidden = 6, kLatent = 3, kBatch = 5;
using Ae = vae::Autoencoder<kIn, kHidden, kLatent, double>;
using Vae = vae::VariationalAutoencoder<kIn, kHidden, kLatent, double>;

const Eigen::MatrixXd& batch() {
  static const Eigen::MatrixXd x = (Eigen::MatrixXd::Random(kIn, kBatch).array() + 1) / 2;
  return x;
}

/// Checks d(batch loss sum)/d(params) for a model whose evaluate() and
/// compute_gradients() take the same noise from copies of one generator.
template <class Model>
double model_gradient_error(vae::Objective<double> objective, const char* name) {
  Model model(11, objective);
  vae::Rng rng(5);
  const auto parts = model.evaluate(batch(), rng);
  CHECK(parts.total == doctest::Approx(parts.reconstruction + objective.beta * parts.kl));
  return vae::test::expect_model_gradients<Model>(objective, batch(), name);
}

/// A kIn-16-2 relu VAE with output distribution `loss`, trained on `data`
/// for 150 epochs of batches of 50 (Adam, lr 3e-3).
vae::DynamicVae<double> trained_on(const Eigen::MatrixXd& data, vae::Reconstruction loss) {
  auto m = vae::make_mlp_vae<double>({kIn, 16, 2}, vae::ActivationKind::Relu, 3, {loss});
  vae::AdamOptions o;
  o.lr = 3e-3;
  vae::Adam<double> adam(o);
  vae::TrainOptions t;
  t.epochs = 150;
  t.batch_size = 50;
  t.adapt_threads = false;
  vae::fit(m, adam, data, nullptr, t);
  return m;
}

}  // namespace

TEST_CASE("autoencoder gradients match finite differences") {
  model_gradient_error<Ae>({vae::Reconstruction::SquaredError}, "autoencoder, squared error");
  model_gradient_error<Ae>({vae::Reconstruction::BinaryCrossEntropy}, "autoencoder, BCE");
  model_gradient_error<Ae>({vae::Reconstruction::Gaussian}, "autoencoder, gaussian");
}

TEST_CASE("VAE gradients match finite differences") {
  using R = vae::Reconstruction;
  using K = vae::KlForm;
  model_gradient_error<Vae>({R::SquaredError, K::Blog, 1.0}, "VAE, squared error + blog KL");
  model_gradient_error<Vae>({R::SquaredError, K::Exact, 1.0}, "VAE, squared error + exact KL");
  model_gradient_error<Vae>({R::BinaryCrossEntropy, K::Exact, 1.0}, "VAE, BCE + exact KL");
  model_gradient_error<Vae>({R::BinaryCrossEntropy, K::Exact, 4.0}, "VAE, BCE + 4 x exact KL");
  model_gradient_error<Vae>({R::ContinuousBernoulli, K::Exact, 1.0}, "VAE, continuous Bernoulli + exact KL");
  model_gradient_error<Vae>({R::Gaussian, K::Exact, 0.5}, "VAE, gaussian + 0.5 x exact KL");
}

TEST_CASE("parameter count and layout follow the blog's layers") {
  // Encoder 784x512 + 512, heads 2 x (512x2 + 2), decoder 2x512... as nn.Linear counts them.
  using BlogVae = vae::VariationalAutoencoder<784, 512, 2>;
  CHECK(BlogVae::parameter_count == (784 * 512 + 512) + 2 * (512 * 2 + 2) + (2 * 512 + 512) + (512 * 784 + 784));
  using BlogAe = vae::Autoencoder<784, 512, 2>;
  CHECK(BlogAe::parameter_count == (784 * 512 + 512) + (512 * 2 + 2) + (2 * 512 + 512) + (512 * 784 + 784));
}

TEST_CASE("inference shapes and ranges") {
  Vae model(3);
  const auto dist = model.encode_distribution(batch());
  CHECK(dist.mean.rows() == kLatent);
  CHECK(dist.mean.cols() == kBatch);
  CHECK((dist.sigma.array() > 0).all());
  CHECK(model.encode(batch()).isApprox(dist.mean));

  // A sample is mean + sigma * eps with eps from the same stream.
  vae::Rng rng(9), replay(9);
  const Eigen::MatrixXd z = model.encode_sample(batch(), rng);
  Eigen::MatrixXd eps(kLatent, kBatch);
  replay.fill_normal(eps.data(), eps.size());
  CHECK((z - (dist.mean.array() + dist.sigma.array() * eps.array()).matrix()).cwiseAbs().maxCoeff() < 1e-12);

  const Eigen::MatrixXd x_hat = model.reconstruct(batch());
  CHECK(x_hat.rows() == kIn);
  CHECK((x_hat.array() > 0).all());
  CHECK((x_hat.array() < 1).all());
  CHECK(x_hat.isApprox(model.decode(dist.mean)));
  const Eigen::MatrixXd drawn = model.sample(7, rng);
  CHECK(drawn.cols() == 7);

  Ae ae(3);
  CHECK(ae.reconstruct(batch()).isApprox(ae.decode(ae.encode(batch()))));
}

TEST_CASE("bad batches are rejected with the shape in the message") {
  Vae model(1);
  vae::Rng rng(1);
  vae::Adam<double> opt;
  const Eigen::MatrixXd wrong = Eigen::MatrixXd::Zero(kIn + 1, 2);
  CHECK_THROWS_WITH_AS(model.train_step(wrong, opt, rng), doctest::Contains("has 13 rows, expected 12"), vae::ShapeError);
  CHECK_THROWS_AS(model.train_step(Eigen::MatrixXd(kIn, 0), opt, rng), vae::ShapeError);
  Eigen::MatrixXd nan = batch();
  nan(2, 1) = std::nan("");
  CHECK_THROWS_AS(model.train_step(nan, opt, rng), vae::ValueError);
  CHECK_THROWS_AS(model.decode(Eigen::MatrixXd::Zero(kLatent + 1, 1)), vae::ShapeError);
  // Each entry point names itself.
  CHECK_THROWS_WITH_AS(model.reconstruct(wrong), doctest::Contains("vae::VariationalAutoencoder::reconstruct: input batch"),
                       vae::ShapeError);
  CHECK_THROWS_WITH_AS(model.encode(wrong), doctest::Contains("vae::VariationalAutoencoder::encode: input batch"),
                       vae::ShapeError);
  CHECK_THROWS_WITH_AS(model.decode(wrong), doctest::Contains("vae::VariationalAutoencoder::decode: latent batch"),
                       vae::ShapeError);
  CHECK_THROWS_WITH_AS(Ae(1).reconstruct(wrong), doctest::Contains("vae::Autoencoder::reconstruct"), vae::ShapeError);

  Vae bce(1, {vae::Reconstruction::BinaryCrossEntropy});
  Eigen::MatrixXd out_of_range = batch();
  out_of_range(0, 0) = 1.5;
  CHECK_THROWS_WITH_AS(bce.train_step(out_of_range, opt, rng), doctest::Contains("outside [0, 1]"), vae::ValueError);
  CHECK_THROWS_AS(Vae(1, {vae::Reconstruction::SquaredError, vae::KlForm::Exact, -1.0}), vae::ValueError);
  CHECK_THROWS_AS(model.set_parameters(Eigen::VectorXd::Zero(3)), vae::ShapeError);
  // Nothing was changed by the rejected calls: the optimizer took no step.
  CHECK(opt.steps() == 0);
}

TEST_CASE("a copied model is independent of the original") {
  Vae a(4);
  Vae b = a;
  CHECK(a.parameters_host() == b.parameters_host());
  vae::Adam<double> opt;
  vae::Rng rng(0);
  b.train_step(batch(), opt, rng);
  CHECK(a.parameters_host() != b.parameters_host());
  Vae c = std::move(b);
  CHECK(c.encode(batch()).allFinite());
}

TEST_CASE("after a move each model's layers point into its own buffers") {
  // Eigen's move assignment swaps storage: the moved-from model holds the
  // other's old buffers, and its layers must follow them.
  const auto owns = [](const Vae& m) {
    const double* first = m.parameters().data;
    // (A moved-from model's buffers are empty: no offset from a null pointer.)
    const double* decoder_first = first ? first + Vae::EncoderType::parameter_count : nullptr;
    return m.encoder().weight(0).data == first && m.decoder().weight(0).data == decoder_first;
  };
  Vae a(4), b(5);
  const Eigen::VectorXd b_params = b.parameters_host();
  a = std::move(b);
  CHECK(owns(a));
  CHECK(owns(b));
  CHECK(a.parameters_host() == b_params);
  Vae c(std::move(a));
  CHECK(owns(c));
  CHECK(owns(a));
  CHECK(c.parameters_host() == b_params);
  // The moved-from models can be assigned to and used again.
  a = c;
  b = c;
  CHECK(a.encode(batch()) == c.encode(batch()));
  CHECK(b.encode(batch()) == c.encode(batch()));
}

TEST_CASE("deep models: parameter layout in nn.Sequential order, and the blog's spellings are the general types") {
  using Deep = vae::MlpVae<vae::Layers<784, 400, 200, 20>, vae::Tanh>;
  // Encoder 784->400->200->(2 x 20), decoder 20->200->400->784, each W then b.
  CHECK(Deep::parameter_count == (784 * 400 + 400) + (400 * 200 + 200) + (200 * 40 + 40) + (20 * 200 + 200) +
                                     (200 * 400 + 400) + (400 * 784 + 784));
  CHECK(Deep::EncoderType::offsets[1] == 784 * 400 + 400);
  static_assert(std::is_same_v<vae::Encoder<784, 512, 2>, vae::EncoderOf<vae::Layers<784, 512, 2>, vae::Relu>>);
  static_assert(std::is_same_v<vae::VariationalAutoencoder<784, 512, 2, double>,
                               vae::MlpVae<vae::Layers<784, 512, 2>, vae::Relu, double>>);
  static_assert(std::is_same_v<vae::ReversedLayers<vae::Layers<1, 2, 3>>, vae::Layers<3, 2, 1>>);
  CHECK(Deep::architecture().describe() == "VAE 784-400-200-20 tanh (float)");
}

TEST_CASE("heteroscedastic gaussian: the decoder outputs a mean and a scale per feature") {
  using R = vae::Reconstruction;
  const vae::Objective<double> objective{R::HeteroscedasticGaussian, vae::KlForm::Exact, 1.0};
  auto model = vae::make_mlp_vae<double>({kIn, kHidden, kLatent}, vae::ActivationKind::Tanh, 11, objective);
  CHECK(model.num_features() == kIn);
  CHECK(model.architecture().decoder.back() == 2 * kIn);
  const auto check = vae::test::model_gradient_check(model, batch(), vae::Rng(5));
  MESSAGE("VAE, heteroscedastic gaussian: " << check.checked << " parameters, max relative error "
                                            << check.max_relative_error);
  CHECK(check.checked == model.num_parameters());
  CHECK(check.max_relative_error <= 1e-6);
  auto ae = vae::make_mlp_autoencoder<double>({kIn, kHidden, kLatent}, vae::ActivationKind::Relu, 11, objective);
  const auto ae_check = vae::test::model_gradient_check(ae, batch(), vae::Rng(5));
  MESSAGE("autoencoder, heteroscedastic gaussian: max relative error " << ae_check.max_relative_error);
  CHECK(ae_check.max_relative_error <= 1e-6);

  // decode and reconstruct return the means: one row per feature.
  CHECK(model.decode(Eigen::MatrixXd::Random(kLatent, 2)).rows() == kIn);
  CHECK(model.reconstruct(batch()).rows() == kIn);
  // The decoder's width fixes which losses fit: one output per feature or two.
  CHECK_THROWS_WITH_AS(model.set_objective({R::Gaussian}), doctest::Contains("the gaussian loss needs as many"),
                       vae::ShapeError);
  CHECK(model.objective().reconstruction == R::HeteroscedasticGaussian);
  Vae fixed(1);
  CHECK_THROWS_WITH_AS(fixed.set_objective(objective),
                       doctest::Contains("the heteroscedastic-gaussian loss needs 2 per feature (24)"), vae::ShapeError);
  CHECK_THROWS_AS(Vae(1, objective), vae::ShapeError);

  // On data whose noise is far below 1, the decoded scale beats the unit
  // variance: the held-out NLL drops by more than a nat per feature.
  vae::Rng data_rng(7);
  Eigen::MatrixXd factors(2, 600);
  data_rng.fill_normal(factors.data(), factors.size());
  Eigen::MatrixXd noise(kIn, 600);
  data_rng.fill_normal(noise.data(), noise.size());
  const Eigen::MatrixXd mix = Eigen::MatrixXd::Random(kIn, 2);
  const Eigen::MatrixXd data = mix * factors + 0.05 * noise;
  const Eigen::MatrixXd train = data.leftCols(500), test = data.rightCols(100);
  const auto held_out_nll = [&](R loss) {
    const auto m = trained_on(train, loss);
    vae::Rng rng(9);
    return -m.log_likelihood(test, 200, rng).mean() / double(kIn);
  };
  const double unit = held_out_nll(R::Gaussian), decoded = held_out_nll(R::HeteroscedasticGaussian);
  MESSAGE("held-out NLL per feature: unit variance " << unit << ", decoded scale " << decoded);
  CHECK(decoded < unit - 1.0);
}

TEST_CASE("learned gaussian: one scale per feature, the heteroscedastic model with its scale weights at 0") {
  using R = vae::Reconstruction;
  auto learned = vae::make_mlp_vae<double>({kIn, kHidden, kLatent}, vae::ActivationKind::Tanh, 11,
                                           {R::LearnedGaussian, vae::KlForm::Exact, 1.0});
  const std::vector<std::uint64_t> dec = learned.architecture().decoder;
  REQUIRE(dec.back() == 2 * kIn);
  // The scale rows' weights: rows [kIn, 2 kIn) of the last W (out x in).
  const vae::Index in = vae::Index(dec[dec.size() - 2]), out = 2 * kIn;
  const vae::Index w_at = learned.encoder().num_parameters() + learned.decoder().parameter_offset(dec.size() - 2);
  const auto scale_weights = [&](const Eigen::VectorXd& flat) {
    return Eigen::Map<const Eigen::MatrixXd>(flat.data() + w_at, out, in).bottomRows(kIn).eval();
  };
  CHECK(scale_weights(learned.parameters_host()).isZero(0));
  // Its loss and gradients are the heteroscedastic model's at the same
  // parameters (checked against finite differences above), less the
  // gradients of those weights, which are 0.
  auto hetero = learned;
  hetero.set_objective({R::HeteroscedasticGaussian, vae::KlForm::Exact, 1.0});
  vae::Rng r1(5), r2(5);
  const auto a = learned.compute_gradients(batch(), r1), b = hetero.compute_gradients(batch(), r2);
  CHECK(a.total == b.total);
  Eigen::VectorXd gl = learned.gradients_host(), gh = hetero.gradients_host();
  CHECK(scale_weights(gl).isZero(0));
  CHECK_FALSE(scale_weights(gh).isZero(0));
  Eigen::Map<Eigen::MatrixXd>(gh.data() + w_at, out, in).bottomRows(kIn).setZero();
  CHECK(gl == gh);
  // set_objective and set_parameters hold the weights at 0.
  Eigen::VectorXd p = learned.parameters_host();
  p.setConstant(0.5);
  learned.set_parameters(p);
  CHECK(scale_weights(learned.parameters_host()).isZero(0));

  // Trained on features of different noise, each feature's sigma follows its noise.
  vae::Rng data_rng(8);
  Eigen::MatrixXd factors(2, 600), noise(kIn, 600);
  data_rng.fill_normal(factors.data(), factors.size());
  data_rng.fill_normal(noise.data(), noise.size());
  Eigen::MatrixXd data = Eigen::MatrixXd::Random(kIn, 2) * factors;
  data.row(0) += 0.02 * noise.row(0);
  data.row(1) += 1.0 * noise.row(1);
  const auto m = trained_on(data, R::LearnedGaussian);
  const Eigen::VectorXd trained = m.parameters_host();
  const std::vector<std::uint64_t> md = m.architecture().decoder;
  const vae::Index m_in = vae::Index(md[md.size() - 2]);
  const vae::Index b_at = m.encoder().num_parameters() + m.decoder().parameter_offset(md.size() - 2) + 2 * kIn * m_in;
  CHECK(Eigen::Map<const Eigen::MatrixXd>(trained.data() + b_at - 2 * kIn * m_in, 2 * kIn, m_in).bottomRows(kIn).isZero(0));
  const auto sigma = [&](vae::Index i) {
    return vae::HeteroscedasticGaussianLoss::kSigmaFloor + std::log1p(std::exp(trained[b_at + kIn + i]));
  };
  MESSAGE("learned sigma: feature 0 (noise 0.02) " << sigma(0) << ", feature 1 (noise 1) " << sigma(1));
  CHECK(sigma(0) < 0.2);
  CHECK(sigma(1) > 0.5);
}

TEST_CASE("the likelihood decides the targets' range and what decode returns") {
  vae::Adam<double> opt;
  vae::Rng rng(3);
  Eigen::MatrixXd out_of_range = batch();
  out_of_range(0, 0) = 1.5;
  // The continuous Bernoulli is a density on [0, 1]; the error names it.
  Vae cb(1, {vae::Reconstruction::ContinuousBernoulli});
  CHECK_THROWS_WITH_AS(cb.train_step(out_of_range, opt, rng), doctest::Contains("continuous-bernoulli"), vae::ValueError);
  CHECK(opt.steps() == 0);
  // Its decode is the distribution's mean, not sigmoid(logit).
  Vae bce = cb;
  bce.set_objective({vae::Reconstruction::BinaryCrossEntropy});
  const Eigen::MatrixXd z = Eigen::MatrixXd::Random(kLatent, kBatch);
  const Eigen::MatrixXd s = bce.decode(z), m = cb.decode(z);
  for (Eigen::Index i = 0; i < s.size(); ++i) {
    const double logit = std::log(s(i) / (1 - s(i)));
    CHECK(m(i) == doctest::Approx(vae::ContinuousBernoulliLoss::mean(logit)).epsilon(1e-9));
  }

  // The gaussian loss takes any real values, and its identity output
  // reproduces values a sigmoid never reaches.
  Eigen::MatrixXd wide = 6 * batch().array() - 3;  // [-3, 3]
  Vae gaussian(2, {vae::Reconstruction::Gaussian});
  vae::Adam<double> adam;
  const double first = gaussian.evaluate(wide, rng).total;
  for (int step = 0; step < 400; ++step) gaussian.train_step(wide, adam, rng);
  CHECK(gaussian.evaluate(wide, rng).total < first);
  const Eigen::MatrixXd r = gaussian.reconstruct(wide);
  CHECK(r.minCoeff() < 0);
  CHECK(r.maxCoeff() > 1);
}

}  // namespace test_models
