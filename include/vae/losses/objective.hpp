#pragma once
// What a model minimises, chosen at run time: the reconstruction loss, the KL
// form (each an enum naming a formula of losses/reconstruction.hpp and
// losses/kl.hpp) and the KL's weight beta.

#include <cmath>
#include <string>

#include "vae/core/error.hpp"
#include "vae/losses/kl.hpp"
#include "vae/losses/reconstruction.hpp"

namespace vae {

/// Which bound on log p(x) a VAE maximises (an autoencoder ignores it).
enum class Bound {
  /// The ELBO: reconstruction + beta * KL (the KL form of Objective::kl), one
  /// sample of z per input.
  Elbo = 0,
  /// The importance-weighted bound of Burda et al. (2015) with
  /// Objective::samples = k draws per input: the loss is -log (1/k) sum_s w_s,
  /// log w = -reconstruction + beta (log p(z) - log q(z|x)) with the true
  /// prior N(0, I) (Objective::kl is not used). k = 1 is the ELBO with the
  /// KL estimated from the sample, whose expectation is the exact KL's ELBO
  /// (losses/importance.hpp).
  ImportanceWeighted = 1,
};

/// What a model minimises: reconstruction + beta * KL (KL only for a VAE).
template <class S = float>
struct Objective {
  /// How reconstructions are compared with the input.
  Reconstruction reconstruction = Reconstruction::SquaredError;
  /// The KL term (a VAE's; an autoencoder ignores it).
  KlForm kl = KlForm::Exact;
  /// The KL's weight, finite and >= 0.
  S beta = S(1);
  /// The ELBO or the importance-weighted bound (a VAE's). Checkpoints store
  /// it and `samples`.
  Bound bound = Bound::Elbo;
  /// Samples of z per input: k of the importance-weighted bound, >= 1; the
  /// ELBO takes 1.
  Index samples = 1;
};

/// A loss split into its parts. Sums over a batch, or per sample when
/// returned by a train step or an evaluation.
template <class S = float>
struct LossParts {
  /// The reconstruction loss.
  S reconstruction = 0;
  /// The KL term, unweighted (0 for an autoencoder).
  S kl = 0;
  /// reconstruction + beta * kl.
  S total = 0;
};

namespace detail {
template <class S>
void check_objective(const Objective<S>& o) {
  if (!(o.beta >= S(0) && std::isfinite(static_cast<double>(o.beta))))
    throw ValueError("vae::Objective.beta is " + std::to_string(static_cast<double>(o.beta)) +
                     ", expected a finite value >= 0");
  if (!is_known(o.reconstruction))
    throw ValueError("vae::Objective.reconstruction is " + std::to_string(static_cast<int>(o.reconstruction)) +
                     ", not a known reconstruction loss");
  if (!is_known(o.kl))
    throw ValueError("vae::Objective.kl is " + std::to_string(static_cast<int>(o.kl)) + ", not a known KL form");
  if (o.bound != Bound::Elbo && o.bound != Bound::ImportanceWeighted)
    throw ValueError("vae::Objective.bound is " + std::to_string(static_cast<int>(o.bound)) + ", not a known bound");
  if (o.samples < 1 || (o.bound == Bound::Elbo && o.samples != 1))
    throw ValueError("vae::Objective.samples is " + std::to_string(o.samples) +
                     (o.bound == Bound::Elbo ? ", expected 1 for the ELBO (use Bound::ImportanceWeighted for k > 1)"
                                             : ", expected >= 1"));
}
}  // namespace detail

}  // namespace vae
