#pragma once
// KL terms of a diagonal Gaussian q = N(mu, sigma^2) against a prior, each
// formula written once (core/elementwise.hpp) and run by every backend. A KL
// struct K provides
//   static constexpr KlForm kind;   static constexpr const char* name;
//   VAE_ELEMENTWISE(class T) static T value(const T& mu, const T& ls, T& dmu, T& dls);
// the term of one latent dimension from mu and ls = log sigma (already
// clamped), writing its derivatives in mu and ls. Adding a form means a
// struct, an enum value and a case in with_kl and is_known, all in this file
// (a value missing from either switch is a -Wswitch warning; a value cast
// from an integer that names no form throws).

#include <string>

#include "vae/core/elementwise.hpp"
#include "vae/core/error.hpp"

namespace vae {

/// Which KL term a VAE adds to its loss. Each value names a formula struct of
/// losses/kl.hpp.
enum class KlForm {
  /// KL(N(mu, sigma^2) || N(0, 1)) = sum 0.5 (sigma^2 + mu^2 - 1) - log sigma
  /// (KlStandardNormal).
  Exact = 0,
  /// sum sigma^2 + mu^2 - log sigma - 1/2 = KL(N(mu, sigma^2) || N(0, 1/2)) +
  /// log(2)/2 per dimension (KlHalfVarianceNormal).
  HalfVariancePrior = 1,
  /// An older name of HalfVariancePrior, kept for existing code.
  Blog = HalfVariancePrior,
};

/// @{
/// log sigma is clamped to this range before exp(): sigma^2 = exp(2 log
/// sigma) then stays far inside float's range (exp(40) ~ 2.4e17), so neither
/// the sample nor the KL can overflow. Inside the range the clamp is the
/// identity; outside it the log-sigma gradient is zero.
inline constexpr double kLogSigmaMin = -20.0;
inline constexpr double kLogSigmaMax = 20.0;
/// @}

/// KL(N(mu, s^2) || N(0, 1)) = 0.5 (s^2 + mu^2 - 1) - ls;
/// d/dmu = mu, d/dls = s^2 - 1.
struct KlStandardNormal {
  /// The enum value that selects this form.
  static constexpr KlForm kind = KlForm::Exact;
  /// The form's name, as name_of() returns it.
  static constexpr const char* name = "exact";
  /// The term of one dimension from mu and ls = log sigma (clamped); writes
  /// d/dmu to dmu and d/dls to dls. T is a scalar or an Eigen packet.
  VAE_ELEMENTWISE(class T) static T value(const T& mu, const T& ls, T& dmu, T& dls) {
    using S = el::scalar_t<T>;
    const T s2 = el::exp(S(2) * ls);
    dmu = mu;
    dls = s2 - S(1);
    return S(0.5) * (s2 + mu * mu - S(1)) - ls;
  }
};

/// s^2 + mu^2 - ls - 1/2 = KL(N(mu, s^2) || N(0, 1/2)) + log(2)/2 per
/// dimension; d/dmu = 2 mu, d/dls = 2 s^2 - 1.
struct KlHalfVarianceNormal {
  /// The enum value that selects this form.
  static constexpr KlForm kind = KlForm::HalfVariancePrior;
  /// The form's name, as name_of() returns it.
  static constexpr const char* name = "half-variance-prior";
  /// The term of one dimension from mu and ls = log sigma (clamped); writes
  /// d/dmu to dmu and d/dls to dls. T is a scalar or an Eigen packet.
  VAE_ELEMENTWISE(class T) static T value(const T& mu, const T& ls, T& dmu, T& dls) {
    using S = el::scalar_t<T>;
    const T s2 = el::exp(S(2) * ls);
    dmu = S(2) * mu;
    dls = S(2) * s2 - S(1);
    return s2 + mu * mu - ls - S(0.5);
  }
};

/// Calls f(K{}) with the KL struct of `form`.
template <class F>
decltype(auto) with_kl(KlForm form, F&& f) {
  switch (form) {
    case KlForm::Exact:
      return f(KlStandardNormal{});
    case KlForm::HalfVariancePrior:
      return f(KlHalfVarianceNormal{});
  }
  throw ValueError("vae: KL form " + std::to_string(static_cast<int>(form)) + " is not a known form");
}

/// Whether `form` is one of the values above.
inline bool is_known(KlForm form) {
  switch (form) {
    case KlForm::Exact:
    case KlForm::HalfVariancePrior:
      return true;
  }
  return false;
}

/// "exact" or "half-variance-prior".
inline const char* name_of(KlForm form) {
  return with_kl(form, [](auto kl) { return decltype(kl)::name; });
}

/// clamp(ls, kLogSigmaMin, kLogSigmaMax).
VAE_ELEMENTWISE(class T) inline T clamp_log_sigma(const T& ls) {
  using S = el::scalar_t<T>;
  return el::min(el::max(ls, S(kLogSigmaMin)), S(kLogSigmaMax));
}

}  // namespace vae
