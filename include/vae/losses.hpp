#pragma once
// Loss functions: what they compute and their derivatives, element by element.
// The backends apply these formulas over whole matrices (vectorised on the
// CPU, one thread per element on a GPU); the formulas live here once.

#include <cmath>

#include "vae/core/types.hpp"

namespace vae {

/// How a reconstruction x_hat = sigmoid(logit) is compared with the input x.
enum class Reconstruction {
  /// sum (x - x_hat)^2, the blog's loss.
  SquaredError,
  /// sum -[x log x_hat + (1 - x) log(1 - x_hat)], computed from the logit.
  BinaryCrossEntropy,
};

/// Which KL term a VAE adds to its loss.
enum class KlForm {
  /// KL(N(mu, sigma^2) || N(0, 1)) = sum 0.5 (sigma^2 + mu^2 - 1) - log sigma.
  Exact,
  /// The blog's sum sigma^2 + mu^2 - log sigma - 1/2: the KL to N(0, 1/2)
  /// plus a constant; use it to reproduce the blog.
  Blog,
};

/// What a model minimises: reconstruction + beta * KL (KL only for a VAE).
template <class S = float>
struct Objective {
  Reconstruction reconstruction = Reconstruction::SquaredError;
  KlForm kl = KlForm::Exact;
  S beta = S(1);
};

/// A loss split into its parts. Sums over a batch, or per sample when
/// returned by a train step or an evaluation.
template <class S = float>
struct LossParts {
  S reconstruction = 0;
  S kl = 0;
  S total = 0;
};

/// log sigma is clamped to this range before exp(): sigma^2 = exp(2 log
/// sigma) then stays far inside float's range (exp(40) ~ 2.4e17), so neither
/// the sample nor the KL can overflow. Inside the range the clamp is the
/// identity; outside it the log-sigma gradient is zero.
inline constexpr double kLogSigmaMin = -20.0;
inline constexpr double kLogSigmaMax = 20.0;

namespace loss {

template <class S>
VAE_HOST_DEVICE inline S sigmoid(S logit) {
  return S(1) / (S(1) + std::exp(-logit));
}

/// Squared error of one element and its derivative with respect to the logit:
/// l = (x_hat - x)^2,  dl/dlogit = 2 (x_hat - x) x_hat (1 - x_hat).
template <class S>
VAE_HOST_DEVICE inline S squared_error(S logit, S x, S& dlogit) {
  const S x_hat = sigmoid(logit);
  const S d = x_hat - x;
  dlogit = S(2) * d * x_hat * (S(1) - x_hat);
  return d * d;
}

/// Binary cross-entropy of one element from its logit, stable for any logit:
/// l = max(t, 0) - t x + log(1 + exp(-|t|)),  dl/dt = sigmoid(t) - x.
template <class S>
VAE_HOST_DEVICE inline S binary_cross_entropy(S logit, S x, S& dlogit) {
  dlogit = sigmoid(logit) - x;
  const S pos = logit > S(0) ? logit : S(0);
  return pos - logit * x + std::log1p(std::exp(-std::fabs(logit)));
}

template <class S>
VAE_HOST_DEVICE inline S clamp_log_sigma(S log_sigma) {
  return log_sigma < S(kLogSigmaMin) ? S(kLogSigmaMin)
                                     : (log_sigma > S(kLogSigmaMax) ? S(kLogSigmaMax) : log_sigma);
}

/// KL term of one latent dimension given mu and the clamped log sigma, and its
/// derivatives. Exact: 0.5 (s^2 + mu^2 - 1) - ls, d/dmu = mu, d/dls = s^2 - 1.
/// Blog:  s^2 + mu^2 - ls - 1/2,  d/dmu = 2 mu, d/dls = 2 s^2 - 1.
template <class S>
VAE_HOST_DEVICE inline S kl_term(KlForm form, S mu, S ls, S& dmu, S& dls) {
  const S s2 = std::exp(S(2) * ls);
  if (form == KlForm::Exact) {
    dmu = mu;
    dls = s2 - S(1);
    return S(0.5) * (s2 + mu * mu - S(1)) - ls;
  }
  dmu = S(2) * mu;
  dls = S(2) * s2 - S(1);
  return s2 + mu * mu - ls - S(0.5);
}

}  // namespace loss
}  // namespace vae
