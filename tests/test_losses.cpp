// Losses: values against their definitions, gradients against finite
// differences (double precision), the closed-form KL against a Monte Carlo
// estimate, the blog's KL against its formula, and the log-sigma clamp.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include <vae/vae.hpp>

#include "gradient_check.hpp"

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
  const Eigen::MatrixXd logits = 3 * Eigen::MatrixXd::Random(6, 5);
  const Eigen::MatrixXd x = (Eigen::MatrixXd::Random(6, 5).array() + 1) / 2;
  Eigen::MatrixXd grad;
  const double value = reconstruction_sum(kind, logits, x, &grad);

  const Eigen::ArrayXXd p = 1 / (1 + (-logits.array()).exp());
  const double expected = kind == vae::Reconstruction::SquaredError
                              ? (p - x.array()).square().sum()
                              : -(x.array() * p.log() + (1 - x.array()) * (1 - p).log()).sum();
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
}
