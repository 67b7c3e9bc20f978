// Losses: values against their definitions, gradients against finite
// differences (double precision), the closed-form KL against a Monte Carlo
// estimate, the blog's KL against its formula, and the log-sigma clamp.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <utility>

#include <vae/vae.hpp>

#include "gradient_check.hpp"

namespace test_losses {

namespace {

using Ops = vae::Ops<vae::Cpu, double>;
const vae::Cpu::Context ctx;
using View = vae::View<double>;
using CView = vae::ConstView<double>;

/// The Gaussian stage's kernels with a given eps: z and the KL sum.
double gaussian_sample(vae::KlForm form, CView heads, CView eps, View z) {
  Eigen::MatrixXd column_kl(1, z.cols);
  vae::with_kl(form, [&](auto kl) {
    Ops::column_sums(ctx, z.rows, z.cols, vae::kernels::GaussianSample<decltype(kl), double>{heads, eps, z},
                     vae::make_view(column_kl.data(), 1, z.cols));
  });
  return column_kl.sum();
}
void gaussian_backward(vae::KlForm form, double beta, CView heads, CView eps, CView dz, View dheads) {
  vae::with_kl(form, [&](auto kl) {
    Ops::for_each(ctx, dz.rows, dz.cols, vae::kernels::GaussianSampleGrad<decltype(kl), double>{beta, heads, eps, dz, dheads});
  });
}

double reconstruction_sum(vae::Reconstruction kind, Eigen::MatrixXd logits, const Eigen::MatrixXd& x,
                          Eigen::MatrixXd* grad = nullptr) {
  Eigen::VectorXd col(x.cols());
  const double sum = vae::detail::reconstruction_loss<vae::Cpu>(
      ctx, kind, vae::make_view(logits.data(), logits.rows(), logits.cols()), vae::view_of<double>(x),
      vae::make_view(col.data(), 1, x.cols()));
  if (grad) *grad = logits;
  return sum;
}

void check_reconstruction(vae::Reconstruction kind, const char* name) {
  Eigen::MatrixXd logits = 3 * Eigen::MatrixXd::Random(6, 5);
  // Logits on both sides of the continuous Bernoulli's series threshold 1/4.
  logits(0, 0) = 1e-3;
  logits(1, 1) = -0.2;
  logits(2, 2) = 0.26;
  const Eigen::MatrixXd x = (Eigen::MatrixXd::Random(6, 5).array() + 1) / 2;
  Eigen::MatrixXd grad;
  const double value = reconstruction_sum(kind, logits, x, &grad);

  const Eigen::ArrayXXd t = logits.array(), p = 1 / (1 + (-t).exp());
  const Eigen::ArrayXXd bce = -(x.array() * p.log() + (1 - x.array()) * (1 - p).log());
  double expected = 0;
  switch (kind) {
    case vae::Reconstruction::SquaredError: expected = (p - x.array()).square().sum(); break;
    case vae::Reconstruction::BinaryCrossEntropy: expected = bce.sum(); break;
    // Less the log of the normaliser t / tanh(t / 2), written out here.
    case vae::Reconstruction::ContinuousBernoulli: expected = (bce - (t / (t / 2).tanh()).log()).sum(); break;
    case vae::Reconstruction::Gaussian: expected = 0.5 * (t - x.array()).square().sum(); break;
    case vae::Reconstruction::HeteroscedasticGaussian:
    case vae::Reconstruction::LearnedGaussian: FAIL("two outputs per feature: their own test case"); break;
  }
  CHECK(value == doctest::Approx(expected).epsilon(1e-12));

  Eigen::VectorXd flat = Eigen::Map<const Eigen::VectorXd>(logits.data(), logits.size());
  const auto check = vae::test::check_gradient(
      [&](const Eigen::VectorXd& t) { return reconstruction_sum(kind, Eigen::Map<const Eigen::MatrixXd>(t.data(), 6, 5), x); },
      flat, Eigen::Map<const Eigen::VectorXd>(grad.data(), grad.size()));
  MESSAGE(std::string(name) << " gradient max relative error " << check.max_relative_error);
  CHECK(check.max_relative_error <= 1e-6);
}

/// KL sum plus sum(R .* z) as a function of the heads (mu over log sigma).
double head_objective(vae::KlForm form, double beta, const Eigen::MatrixXd& heads, const Eigen::MatrixXd& eps,
                      const Eigen::MatrixXd& r) {
  Eigen::MatrixXd z(eps.rows(), eps.cols());
  const double kl = gaussian_sample(form, vae::view_of<double>(heads), vae::view_of<double>(eps),
                                         vae::make_view(z.data(), z.rows(), z.cols()));
  return beta * kl + (r.array() * z.array()).sum();
}

void check_gaussian_head(vae::KlForm form, double beta, const char* name) {
  const vae::Index latent = 3, batch = 4;
  const Eigen::MatrixXd heads = Eigen::MatrixXd::Random(2 * latent, batch);
  const Eigen::MatrixXd eps = Eigen::MatrixXd::Random(latent, batch);
  const Eigen::MatrixXd r = Eigen::MatrixXd::Random(latent, batch);
  Eigen::MatrixXd dheads(2 * latent, batch);
  gaussian_backward(form, beta, vae::view_of<double>(heads), vae::view_of<double>(eps),
                         vae::view_of<double>(r), vae::make_view(dheads.data(), 2 * latent, batch));
  Eigen::VectorXd flat = Eigen::Map<const Eigen::VectorXd>(heads.data(), heads.size());
  const auto check = vae::test::check_gradient(
      [&](const Eigen::VectorXd& h) {
        return head_objective(form, beta, Eigen::Map<const Eigen::MatrixXd>(h.data(), 2 * latent, batch), eps, r);
      },
      flat, Eigen::Map<const Eigen::VectorXd>(dheads.data(), dheads.size()));
  MESSAGE(std::string(name) << " (beta " << beta << ") gradient max relative error " << check.max_relative_error);
  CHECK(check.max_relative_error <= 1e-6);
}

double kl_sum(vae::KlForm form, double mu, double log_sigma) {
  Eigen::MatrixXd heads(2, 1), eps = Eigen::MatrixXd::Zero(1, 1), z(1, 1);
  heads << mu, log_sigma;
  return gaussian_sample(form, vae::view_of<double>(heads), vae::view_of<double>(eps),
                              vae::make_view(z.data(), 1, 1));
}

}  // namespace

TEST_CASE("squared error: value and gradient") { check_reconstruction(vae::Reconstruction::SquaredError, "SSE"); }

TEST_CASE("binary cross-entropy: value and gradient") {
  check_reconstruction(vae::Reconstruction::BinaryCrossEntropy, "BCE");
}

TEST_CASE("continuous Bernoulli: value and gradient") {
  check_reconstruction(vae::Reconstruction::ContinuousBernoulli, "continuous Bernoulli");
}

TEST_CASE("gaussian: value and gradient") { check_reconstruction(vae::Reconstruction::Gaussian, "gaussian"); }

namespace {
/// Composite Simpson's rule for the integral of f over [a, b] on n (even) intervals.
template <class F>
double simpson(F f, double a, double b, int n = 20000) {
  double sum = 0;
  for (int i = 0; i <= n; ++i) sum += (i == 0 || i == n ? 1 : (i % 2 ? 4 : 2)) * f(a + (b - a) * i / n);
  return sum * (b - a) / n / 3;
}
/// One element's loss and gradient from loss L in scalar S.
template <class L, class S>
std::pair<S, S> element(S t, S x) {
  S grad;
  const S value = L::value(t, x, grad);
  return {value, grad};
}
}  // namespace

TEST_CASE("continuous Bernoulli: a density on [0, 1] with the stated mean, for every logit, near 0 too") {
  using CB = vae::ContinuousBernoulliLoss;
  // Both sides of the series' threshold 1/4, 0 itself (the mean 1/2), and far out.
  for (const double t : {-40.0, -3.0, -0.2500001, -0.2499999, -1e-3, -1e-9, 0.0, 1e-6, 0.1, 0.25, 0.3, 2.0, 35.0}) {
    CAPTURE(t);
    const double mass = simpson([&](double x) { return std::exp(-element<CB>(t, x).first); }, 0, 1);
    const double mean = simpson([&](double x) { return x * std::exp(-element<CB>(t, x).first); }, 0, 1);
    CHECK(mass == doctest::Approx(1.0).epsilon(1e-9));
    CHECK(CB::mean(t) == doctest::Approx(mean).epsilon(1e-9));
  }
  // The mean lies between 1/2 and sigmoid(t): the continuous Bernoulli is not the Bernoulli.
  CHECK(CB::mean(2.0) < 1 / (1 + std::exp(-2.0)));
  CHECK(CB::mean(2.0) > 0.5);
  CHECK(CB::mean(0.0) == 0.5);
}

TEST_CASE("continuous Bernoulli in float: finite and as in double across the series' threshold and far out") {
  using CB = vae::ContinuousBernoulliLoss;
  for (const double t : {-90.0, -20.0, -0.26, -0.25, -0.24, -1e-4, 0.0, 1e-6, 0.01, 0.2499, 0.2501, 1.0, 20.0, 90.0}) {
    for (const double x : {0.0, 0.3, 1.0}) {
      CAPTURE(t);
      CAPTURE(x);
      const auto [vd, gd] = element<CB>(t, x);
      const auto [vf, gf] = element<CB>(static_cast<float>(t), static_cast<float>(x));
      REQUIRE(std::isfinite(vf));
      REQUIRE(std::isfinite(gf));
      CHECK(std::abs(vf - vd) <= 1e-5 * (1 + std::abs(vd)));
      CHECK(std::abs(gf - gd) <= 1e-5 * (1 + std::abs(gd)));
      CHECK(std::abs(CB::mean(static_cast<float>(t)) - CB::mean(t)) <= 1e-6);
    }
  }
  // The packet path (Eigen arrays, as the CPU backend runs it) agrees with the
  // scalar path (to the last bits of Eigen's and the C library's exp and log).
  using Packet = Eigen::Array<float, 8, 1>;
  Packet t, x, grad;
  t << -30, -0.3f, -0.1f, 0, 1e-5f, 0.2f, 0.26f, 30;
  x << 0, 0.2f, 0.5f, 1, 0.7f, 0.1f, 1, 0.4f;
  const Packet values = CB::value(t, x, grad);
  const Packet means = CB::mean(t);
  for (int i = 0; i < 8; ++i) {
    const auto [v, g] = element<CB>(t[i], x[i]);
    CHECK(values[i] == doctest::Approx(v).epsilon(1e-6));
    CHECK(grad[i] == doctest::Approx(g).epsilon(1e-6));
    CHECK(means[i] == doctest::Approx(CB::mean(t[i])).epsilon(1e-6));
  }
}

TEST_CASE("gaussian: a density over the reals with its offset, whose mean is the output") {
  using G = vae::GaussianLoss;
  const double offset = G::log_likelihood_offset(1);
  for (const double t : {-3.0, 0.0, 1.5}) {
    CAPTURE(t);
    CHECK(simpson([&](double x) { return std::exp(-element<G>(t, x).first + offset); }, t - 12, t + 12) ==
          doctest::Approx(1.0).epsilon(1e-9));
    CHECK(G::mean(t) == t);
  }
}

TEST_CASE("heteroscedastic gaussian: value, gradients, a density for every scale, the floor") {
  using H = vae::HeteroscedasticGaussianLoss;
  constexpr vae::Index F = 6, B = 5;
  Eigen::MatrixXd out = 2 * Eigen::MatrixXd::Random(2 * F, B);  // means over scales
  out(F, 0) = -30;  // sigma at its floor
  out(F + 1, 1) = 25;
  const Eigen::MatrixXd x = 3 * Eigen::MatrixXd::Random(F, B);
  Eigen::MatrixXd grad;
  const double value = reconstruction_sum(vae::Reconstruction::HeteroscedasticGaussian, out, x, &grad);
  const Eigen::ArrayXXd t = out.topRows(F).array(), u = out.bottomRows(F).array();
  const Eigen::ArrayXXd sigma = H::kSigmaFloor + (1 + u.exp()).log();  // softplus written out
  const double expected = ((x.array() - t).square() / (2 * sigma.square()) + sigma.log()).sum();
  CHECK(value == doctest::Approx(expected).epsilon(1e-12));
  Eigen::VectorXd flat = Eigen::Map<const Eigen::VectorXd>(out.data(), out.size());
  const auto check = vae::test::check_gradient(
      [&](const Eigen::VectorXd& o) {
        return reconstruction_sum(vae::Reconstruction::HeteroscedasticGaussian,
                                  Eigen::Map<const Eigen::MatrixXd>(o.data(), 2 * F, B), x);
      },
      flat, Eigen::Map<const Eigen::VectorXd>(grad.data(), grad.size()));
  MESSAGE("heteroscedastic gaussian gradient max relative error " << check.max_relative_error);
  CHECK(check.max_relative_error <= 1e-6);

  // A density over the reals, for scales from the floor up, with its offset; mean t.
  const double offset = H::log_likelihood_offset(1);
  for (const double mean : {-2.0, 0.0, 1.5})
    for (const double scale : {-40.0, -3.0, 0.0, H::unit_scale(), 4.0}) {
      CAPTURE(mean);
      CAPTURE(scale);
      double gt = 0, gu = 0;
      const double sd = H::kSigmaFloor + std::log1p(std::exp(scale));
      const double mass = simpson([&](double v) { return std::exp(-H::value(mean, scale, v, gt, gu) + offset); },
                                  mean - 12 * sd, mean + 12 * sd);
      CHECK(mass == doctest::Approx(1.0).epsilon(1e-9));
    }
  double gt = 0, gu = 0;
  CHECK(H::value(0.0, H::unit_scale(), 1.0, gt, gu) == doctest::Approx(0.5).epsilon(1e-12));  // sigma 1
  CHECK(H::value(0.0, -200.0, 0.0, gt, gu) == doctest::Approx(std::log(H::kSigmaFloor)).epsilon(1e-12));
  CHECK(H::mean(1.25) == 1.25);
  CHECK(vae::outputs_per_feature(vae::Reconstruction::HeteroscedasticGaussian) == 2);
  CHECK(vae::outputs_per_feature(vae::Reconstruction::Gaussian) == 1);
  // The learned Gaussian computes the same formulas (the model keeps its scales per feature).
  CHECK(vae::outputs_per_feature(vae::Reconstruction::LearnedGaussian) == 2);
  CHECK(reconstruction_sum(vae::Reconstruction::LearnedGaussian, out, x) == value);
  CHECK(vae::scale_per_feature(vae::Reconstruction::LearnedGaussian));
  CHECK_FALSE(vae::scale_per_feature(vae::Reconstruction::HeteroscedasticGaussian));
  CHECK(std::string(vae::name_of(vae::Reconstruction::LearnedGaussian)) == "learned-gaussian");

  // The packet path agrees with the scalar path, in float.
  using Packet = Eigen::Array<float, 8, 1>;
  Packet pt, pu, px, pgt, pgu;
  pt << -3, -0.5f, 0, 0.1f, 1, 2, 4, 0.3f;
  pu << -30, -2, -0.5f, 0, 0.5f, 1, 3, 20;
  px << 0, 0.2f, -1, 1, 0.7f, 2.5f, 1, -4;
  const Packet values = H::value(pt, pu, px, pgt, pgu);
  for (int i = 0; i < 8; ++i) {
    float st = 0, su = 0;
    const float v = H::value(pt[i], pu[i], px[i], st, su);
    CHECK(values[i] == doctest::Approx(v).epsilon(1e-5));
    CHECK(pgt[i] == doctest::Approx(st).epsilon(1e-5));
    CHECK(pgu[i] == doctest::Approx(su).epsilon(1e-5));
  }
}

TEST_CASE("binary cross-entropy stays finite and exact for extreme logits") {
  Eigen::MatrixXd logits(4, 1), x(4, 1), grad;
  logits << 100, -100, 40, -40;
  x << 0, 1, 1, 0;
  const double value = reconstruction_sum(vae::Reconstruction::BinaryCrossEntropy, logits, x, &grad);
  // For |t| large, a wrong-side target costs |t| and a right-side one ~exp(-|t|).
  CHECK(value == doctest::Approx(200.0 + 2 * std::exp(-40.0)).epsilon(1e-14));
  CHECK(grad(0) == doctest::Approx(1.0));
  CHECK(grad(1) == doctest::Approx(-1.0));
  CHECK(std::abs(grad(2)) < 1e-17);
}

TEST_CASE("gaussian head: reparameterised sample and KL gradients") {
  check_gaussian_head(vae::KlForm::Exact, 1.0, "exact KL");
  check_gaussian_head(vae::KlForm::Blog, 1.0, "blog KL");
  check_gaussian_head(vae::KlForm::Exact, 0.25, "exact KL");
  check_gaussian_head(vae::KlForm::Exact, 0.0, "no KL");
}

TEST_CASE("closed-form KL matches a Monte Carlo estimate") {
  // KL(q || p) = E_q[log q(z) - log p(z)], q = N(mu, s^2), p = N(0, 1).
  const double mu = 0.7, log_sigma = -0.4, s = std::exp(log_sigma);
  vae::Rng rng(2024);
  const vae::Index n = 400000;
  Eigen::VectorXd eps(n);
  rng.fill_normal(eps.data(), n);
  const Eigen::ArrayXd z = mu + s * eps.array();
  const Eigen::ArrayXd log_ratio = (-0.5 * eps.array().square() - log_sigma) - (-0.5 * z.square());
  const double estimate = log_ratio.mean();
  const double std_error = std::sqrt((log_ratio - estimate).square().mean() / double(n));
  const double closed = kl_sum(vae::KlForm::Exact, mu, log_sigma);
  MESSAGE("KL closed form " << closed << ", Monte Carlo " << estimate << " +- " << std_error);
  CHECK(std::abs(closed - estimate) < 4 * std_error);
  CHECK(closed == doctest::Approx(0.5 * (s * s + mu * mu - 1) - log_sigma).epsilon(1e-14));
  CHECK(kl_sum(vae::KlForm::Exact, 0.0, 0.0) == 0.0);  // q = p
}

TEST_CASE("the blog's KL is sigma^2 + mu^2 - log sigma - 1/2") {
  for (const double mu : {-1.5, 0.0, 0.3})
    for (const double ls : {-2.0, 0.0, 0.8}) {
      const double s = std::exp(ls);
      CHECK(kl_sum(vae::KlForm::Blog, mu, ls) == doctest::Approx(s * s + mu * mu - ls - 0.5).epsilon(1e-14));
    }
  // Its minimum is at mu = 0, sigma^2 = 1/2 (the KL to N(0, 1/2) plus a constant), not at sigma = 1.
  CHECK(kl_sum(vae::KlForm::Blog, 0, std::log(std::sqrt(0.5))) < kl_sum(vae::KlForm::Blog, 0, 0.0));
}

TEST_CASE("log sigma is clamped: finite sample and KL, zero gradient outside the range") {
  Eigen::MatrixXd heads(2, 2), eps(1, 2), z(1, 2), dz(1, 2), dheads(2, 2);
  heads << 0.5, 0.5, 500.0, -500.0;
  eps << 1.0, 1.0;
  dz << 1.0, 1.0;
  const double kl = gaussian_sample(vae::KlForm::Exact, vae::view_of<double>(heads),
                                         vae::view_of<double>(eps), vae::make_view(z.data(), 1, 2));
  CHECK(std::isfinite(kl));
  CHECK(z(0, 0) == doctest::Approx(0.5 + std::exp(vae::kLogSigmaMax)));
  CHECK(z(0, 1) == doctest::Approx(0.5 + std::exp(vae::kLogSigmaMin)));
  gaussian_backward(vae::KlForm::Exact, 1.0, vae::view_of<double>(heads), vae::view_of<double>(eps),
                         vae::view_of<double>(dz), vae::make_view(dheads.data(), 2, 2));
  CHECK(dheads(1, 0) == 0.0);
  CHECK(dheads(1, 1) == 0.0);
  CHECK(dheads(0, 0) == doctest::Approx(1.0 + 0.5));
}

TEST_CASE("a reconstruction loss or KL form that names no formula throws instead of falling through") {
  const auto no_loss = static_cast<vae::Reconstruction>(7);
  const auto no_form = static_cast<vae::KlForm>(5);
  const auto name = [](auto formula) { return std::string(decltype(formula)::name); };
  CHECK_THROWS_WITH_AS(vae::with_reconstruction(no_loss, name), "vae: reconstruction loss 7 is not a known loss",
                       vae::ValueError);
  CHECK_THROWS_AS(vae::log_likelihood_offset(no_loss, 784), vae::ValueError);
  CHECK_THROWS_WITH_AS(vae::with_kl(no_form, name), "vae: KL form 5 is not a known form", vae::ValueError);
  CHECK_FALSE(vae::is_known(no_loss));
  CHECK_FALSE(vae::is_known(no_form));
  // The known ones still map to their formulas.
  CHECK(vae::with_reconstruction(vae::Reconstruction::BinaryCrossEntropy, name) == "binary-cross-entropy");
  CHECK(vae::with_kl(vae::KlForm::HalfVariancePrior, name) == "half-variance-prior");
  CHECK(vae::log_likelihood_offset(vae::Reconstruction::BinaryCrossEntropy, 784) == 0.0);
  CHECK(vae::log_likelihood_offset(vae::Reconstruction::SquaredError, 784) ==
        doctest::Approx(-392.0 * std::log(3.14159265358979323846)).epsilon(1e-15));
  CHECK(vae::log_likelihood_offset(vae::Reconstruction::ContinuousBernoulli, 784) == 0.0);
  CHECK(vae::log_likelihood_offset(vae::Reconstruction::Gaussian, 784) ==
        doctest::Approx(-392.0 * std::log(2 * 3.14159265358979323846)).epsilon(1e-15));
  CHECK(std::string(vae::name_of(vae::Reconstruction::ContinuousBernoulli)) == "continuous-bernoulli");
  CHECK(std::string(vae::name_of(vae::Reconstruction::Gaussian)) == "gaussian");
  CHECK(vae::needs_unit_range(vae::Reconstruction::ContinuousBernoulli));
  CHECK_FALSE(vae::needs_unit_range(vae::Reconstruction::Gaussian));
}

}  // namespace test_losses
