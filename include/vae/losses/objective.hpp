#pragma once
// What a model minimises, chosen at run time: the reconstruction loss, the KL
// form and its weight beta. The formulas themselves are in
// losses/reconstruction.hpp and losses/kl.hpp.

#include <cmath>
#include <string>

#include "vae/core/error.hpp"

namespace vae {

/// How a reconstruction x_hat = sigmoid(logit) is compared with the input x.
/// Each value names a formula struct of losses/reconstruction.hpp.
enum class Reconstruction {
  /// sum (x - x_hat)^2 (SquaredErrorLoss).
  SquaredError = 0,
  /// sum -[x log x_hat + (1 - x) log(1 - x_hat)], from the logit
  /// (BinaryCrossEntropyLoss).
  BinaryCrossEntropy = 1,
};

/// Which KL term a VAE adds to its loss. Each value names a formula struct of
/// losses/kl.hpp.
enum class KlForm {
  /// KL(N(mu, sigma^2) || N(0, 1)) = sum 0.5 (sigma^2 + mu^2 - 1) - log sigma
  /// (KlStandardNormal).
  Exact = 0,
  /// sum sigma^2 + mu^2 - log sigma - 1/2 = KL(N(mu, sigma^2) || N(0, 1/2)) +
  /// log(2)/2 per dimension (KlHalfVarianceNormal).
  HalfVariancePrior = 1,
  /// The name the blog reproduction uses for HalfVariancePrior.
  Blog = HalfVariancePrior,
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

namespace detail {
template <class S>
void check_objective(const Objective<S>& o) {
  if (!(o.beta >= S(0) && std::isfinite(static_cast<double>(o.beta))))
    throw ValueError("vae::Objective.beta is " + std::to_string(static_cast<double>(o.beta)) +
                     ", expected a finite value >= 0");
  const auto r = static_cast<int>(o.reconstruction), k = static_cast<int>(o.kl);
  if (r < 0 || r > 1) throw ValueError("vae::Objective.reconstruction is " + std::to_string(r) + ", expected 0 or 1");
  if (k < 0 || k > 1) throw ValueError("vae::Objective.kl is " + std::to_string(k) + ", expected 0 or 1");
}
}  // namespace detail

}  // namespace vae
