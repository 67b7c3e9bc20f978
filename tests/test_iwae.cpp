// The importance-weighted bound as a training objective: finite-difference
// gradient checks of its hand-written backward in double for k = 1, 2 and 5,
// k = 1 against the ELBO with the exact KL, and the bound's order in k.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <utility>

#include <vae/vae.hpp>

#include "gradient_check.hpp"

namespace test_iwae {

namespace {

constexpr vae::Index kIn = 6, kBatch = 3;
using Model = vae::MlpVae<vae::Layers<kIn, 5, 2>, vae::Tanh, double>;
using ReluModel = vae::VariationalAutoencoder<kIn, 5, 2, double>;

const Eigen::MatrixXd& batch() {
  static const Eigen::MatrixXd x = (Eigen::MatrixXd::Random(kIn, kBatch).array() + 1) / 2;
  return x;
}

vae::Objective<double> iwae(vae::Reconstruction rec, vae::Index k, double beta = 1) {
  vae::Objective<double> o;
  o.reconstruction = rec;
  o.beta = beta;
  o.bound = vae::Bound::ImportanceWeighted;
  o.samples = k;
  return o;
}

template <class M>
double gradient_error(const vae::Objective<double>& objective, const std::string& name) {
  return vae::test::expect_model_gradients<M>(objective, batch(), name);
}

}  // namespace

TEST_CASE("the importance-weighted bound's gradient matches finite differences for k = 1, 2, 5") {
  for (const vae::Reconstruction rec : {vae::Reconstruction::BinaryCrossEntropy, vae::Reconstruction::SquaredError})
    for (const vae::Index k : {vae::Index(1), vae::Index(2), vae::Index(5)}) {
      const std::string name = std::string(vae::name_of(rec)) + ", k " + std::to_string(k);
      gradient_error<Model>(iwae(rec, k), "tanh " + name);
      gradient_error<ReluModel>(iwae(rec, k), "relu " + name);
    }
  gradient_error<Model>(iwae(vae::Reconstruction::BinaryCrossEntropy, 5, 0.5), "tanh, binary-cross-entropy, k 5, beta 0.5");
}

TEST_CASE("k = 1: the ELBO with the KL estimated from the sample") {
  Model iw(11, iwae(vae::Reconstruction::BinaryCrossEntropy, 1));
  Model elbo(11, {vae::Reconstruction::BinaryCrossEntropy, vae::KlForm::Exact});
  const Eigen::Index decoder_begin = Model::EncoderType::parameter_count;
  const Eigen::Index n = Model::parameter_count;
  // The same eps: the reconstruction term, and so every decoder gradient, is the ELBO's.
  vae::Rng a(7), b(7);
  const auto pi = iw.compute_gradients(batch(), a);
  const auto pe = elbo.compute_gradients(batch(), b);
  CHECK(pi.reconstruction == doctest::Approx(pe.reconstruction).epsilon(1e-14));
  CHECK(pi.total == doctest::Approx(pi.reconstruction + pi.kl).epsilon(1e-14));
  const Eigen::VectorXd gi = iw.gradients_host(), ge = elbo.gradients_host();
  const double decoder_difference = (gi.tail(n - decoder_begin) - ge.tail(n - decoder_begin)).cwiseAbs().maxCoeff();
  MESSAGE("k = 1 against the ELBO, same eps: largest decoder gradient difference " << decoder_difference);
  CHECK(decoder_difference <= 1e-14 * ge.cwiseAbs().maxCoeff());
  // The sampled KL's expectation is the exact KL, so over many eps the loss and
  // the encoder's gradients agree within the noise.
  const int draws = 20000;
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(n), sum_sq = Eigen::VectorXd::Zero(n);
  double loss_difference = 0, loss_sq = 0;
  vae::Rng c(9), d(9);
  for (int t = 0; t < draws; ++t) {
    const double li = iw.compute_gradients(batch(), c).total, le = elbo.compute_gradients(batch(), d).total;
    const Eigen::VectorXd diff = iw.gradients_host() - elbo.gradients_host();
    sum += diff;
    sum_sq += diff.cwiseAbs2();
    loss_difference += li - le;
    loss_sq += (li - le) * (li - le);
  }
  const Eigen::VectorXd mean = sum / draws;
  const Eigen::VectorXd se = ((sum_sq / draws - mean.cwiseAbs2()) / draws).cwiseSqrt();
  const double worst = (mean.cwiseAbs().array() / (se.array() + 1e-300)).head(decoder_begin).maxCoeff();
  const double loss_mean = loss_difference / draws;
  const double loss_se = std::sqrt((loss_sq / draws - loss_mean * loss_mean) / draws);
  MESSAGE("k = 1 against the ELBO over " << draws << " eps: loss difference " << loss_mean << " +- " << loss_se
                                         << ", largest encoder gradient difference " << worst << " standard errors");
  CHECK(std::abs(loss_mean) <= 4 * loss_se);
  CHECK(worst <= 5);
}

TEST_CASE("the bound tightens with k: the loss falls towards -log p(x)") {
  double previous = 1e300;
  for (const vae::Index k : {vae::Index(1), vae::Index(5), vae::Index(50)}) {
    const Model model(11, iwae(vae::Reconstruction::BinaryCrossEntropy, k));
    vae::Rng rng(3);
    double total = 0;
    const int draws = 400;
    for (int t = 0; t < draws; ++t) total += model.evaluate(batch(), rng).total;
    MESSAGE("k " << k << ": mean loss per sample " << total / draws);
    CHECK(total / draws < previous);
    previous = total / draws;
  }
}

TEST_CASE("training on the importance-weighted bound lowers it") {
  Model model(2, iwae(vae::Reconstruction::BinaryCrossEntropy, 5));
  vae::AdamOptions options;
  options.lr = 1e-2;
  vae::Adam<double> adam(options);
  vae::Rng rng(1), eval(4), eval_again(4);
  const Eigen::MatrixXd binary = (batch().array() > 0.5).cast<double>();
  const double before = model.evaluate(binary, eval).total;
  for (int step = 0; step < 300; ++step) model.train_step(binary, adam, rng);
  const double after = model.evaluate(binary, eval_again).total;
  MESSAGE("k 5: loss " << before << " -> " << after << " after 300 steps");
  CHECK(after < before - 0.5);
}

TEST_CASE("the objective's bound and samples are checked") {
  vae::Objective<double> o = iwae(vae::Reconstruction::BinaryCrossEntropy, 0);
  CHECK_THROWS_AS(Model(1, o), vae::ValueError);
  o.bound = vae::Bound::Elbo;
  o.samples = 2;
  CHECK_THROWS_WITH_AS(Model(1, o), doctest::Contains("expected 1 for the ELBO"), vae::ValueError);
  o.samples = 1;
  CHECK_NOTHROW(Model(1, o));
}

TEST_CASE("importance weights too small to matter are exactly zero, never subnormal") {
  // One input, k = 4 samples whose log weights lie 0, 10, 40 and 100 below the
  // largest: exp(-40) = 4e-18 is below float's epsilon^2 (1.4e-14) and
  // exp(-100) = 4e-44 would be subnormal; both must be 0, the rest exact.
  Eigen::MatrixXf rec(1, 4), lat = Eigen::MatrixXf::Zero(1, 4), weights(1, 4), bound(1, 1);
  rec << 0, 10, 40, 100;
  const vae::Cpu::Context ctx;
  const auto view = [](Eigen::MatrixXf& m) { return vae::make_view(m.data(), m.rows(), m.cols()); };
  vae::Ops<vae::Cpu, float>::for_each(
      ctx, 1, 1, vae::kernels::ImportanceWeights<float>{view(rec), view(lat), 1.0f, view(weights), view(bound)});
  const double total = 1 + std::exp(-10.0) + std::exp(-40.0) + std::exp(-100.0);
  CHECK(weights(0, 0) == doctest::Approx(1 / total).epsilon(1e-6));
  CHECK(weights(0, 1) == doctest::Approx(std::exp(-10.0) / total).epsilon(1e-5));
  CHECK(weights(0, 2) == 0.0f);
  CHECK(weights(0, 3) == 0.0f);
  // The bound itself still counts every sample: -(log(total) - log 4).
  CHECK(bound(0, 0) == doctest::Approx(std::log(4.0) - std::log(total)).epsilon(1e-6));
}

TEST_CASE("evaluate holds at most kMaxDecodedColumns samples at once, and its bound is the log-likelihood's") {
  // With Bernoulli outputs and beta = 1, the loss is -log p(x) as
  // log_likelihood estimates it from the same draws: both cut the k B
  // columns into the same passes (40 inputs x k = 600 is 24,000 columns,
  // in chunks of 27 inputs; 3 inputs x k = 20,000 in passes of 16,384
  // samples of one input). Held at once, the draws would land elsewhere.
  for (const auto& nk : {std::pair<vae::Index, vae::Index>{40, 600}, {3, 20000}}) {
    const vae::Index n = nk.first, k = nk.second;  // (CAPTURE cannot name structured bindings before C++20)
    CAPTURE(n);
    CAPTURE(k);
    REQUIRE(n * k > Model::kMaxDecodedColumns);
    const Eigen::MatrixXd x = (Eigen::MatrixXd::Random(kIn, n).array() + 1) / 2;
    const Model model(4, iwae(vae::Reconstruction::BinaryCrossEntropy, k));
    vae::Rng a(12), b(12);
    const vae::LossParts<double> loss = model.evaluate(x, a);
    const Eigen::VectorXd log_p = model.log_likelihood(x, k, b, Model::kMaxDecodedColumns);
    CHECK(loss.total == doctest::Approx(-log_p.mean()).epsilon(1e-12));
    CHECK(loss.kl > 0);
    CHECK(loss.reconstruction > 0);
  }
}

}  // namespace test_iwae
