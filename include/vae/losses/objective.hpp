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
  if (!is_known(o.reconstruction))
    throw ValueError("vae::Objective.reconstruction is " + std::to_string(static_cast<int>(o.reconstruction)) +
                     ", not a known reconstruction loss");
  if (!is_known(o.kl))
    throw ValueError("vae::Objective.kl is " + std::to_string(static_cast<int>(o.kl)) + ", not a known KL form");
}
}  // namespace detail

}  // namespace vae
