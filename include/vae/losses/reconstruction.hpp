#pragma once
// Reconstruction losses, each formula written once (core/elementwise.hpp) and
// run by every backend. A loss struct L provides
//   static constexpr Reconstruction kind;   static constexpr const char* name;
//   VAE_ELEMENTWISE(class T) static T value(const T& t, const T& x, T& grad);
//   static double log_likelihood_offset(Index features);
// the loss of one element with logit t (x_hat = sigmoid(t)) against target
// x, writing dl/dt to grad, and the constant c with log p(x|z) = -loss + c
// for a sample of `features` values. with_reconstruction() maps the run-time
// choice to the struct; adding a loss means a struct, an enum value and a
// case in with_reconstruction and is_known, all in this file (a value
// missing from either switch is a -Wswitch warning; a value cast from an
// integer that names no loss throws).

#include <cmath>
#include <string>

#include "vae/core/elementwise.hpp"
#include "vae/core/error.hpp"
#include "vae/core/types.hpp"

namespace vae {

/// How a reconstruction x_hat = sigmoid(logit) is compared with the input x.
/// Each value names a formula struct below.
enum class Reconstruction {
  /// sum (x - x_hat)^2 (SquaredErrorLoss).
  SquaredError = 0,
  /// sum -[x log x_hat + (1 - x) log(1 - x_hat)], from the logit
  /// (BinaryCrossEntropyLoss).
  BinaryCrossEntropy = 1,
};

/// l = (x_hat - x)^2,  dl/dt = 2 (x_hat - x) x_hat (1 - x_hat).
struct SquaredErrorLoss {
  /// The enum value that selects this loss.
  static constexpr Reconstruction kind = Reconstruction::SquaredError;
  /// The loss's name, as name_of() returns it.
  static constexpr const char* name = "squared-error";
  /// The loss of one element from its logit t against the target x; writes
  /// dl/dt to grad. T is a scalar or an Eigen packet.
  VAE_ELEMENTWISE(class T) static T value(const T& t, const T& x, T& grad) {
    using S = el::scalar_t<T>;
    const T x_hat = S(1) / (S(1) + el::exp(-t));
    const T d = x_hat - x;
    grad = S(2) * d * x_hat * (S(1) - x_hat);
    return d * d;
  }
  /// The sum (x - x_hat)^2 is -log N(x; x_hat, sigma^2 I) up to a constant
  /// exactly when 1 / (2 sigma^2) = 1, i.e. sigma^2 = 1/2, whose constant is
  /// -(D/2) log(2 pi sigma^2) = -(D/2) log(pi).
  static double log_likelihood_offset(Index features) {
    return -0.5 * static_cast<double>(features) * std::log(3.14159265358979323846);
  }
};

/// l = -[x log x_hat + (1 - x) log(1 - x_hat)] = max(t, 0) - t x +
/// log1p(e^-|t|), stable for any logit;  dl/dt = sigmoid(t) - x.
struct BinaryCrossEntropyLoss {
  /// The enum value that selects this loss.
  static constexpr Reconstruction kind = Reconstruction::BinaryCrossEntropy;
  /// The loss's name, as name_of() returns it.
  static constexpr const char* name = "binary-cross-entropy";
  /// The loss of one element from its logit t against the target x; writes
  /// dl/dt to grad. T is a scalar or an Eigen packet.
  VAE_ELEMENTWISE(class T) static T value(const T& t, const T& x, T& grad) {
    using S = el::scalar_t<T>;
    grad = S(1) / (S(1) + el::exp(-t)) - x;
    return el::max(t, S(0)) - t * x + el::log1p(el::exp(-el::abs(t)));
  }
  /// The Bernoulli log-likelihood itself: no constant.
  static double log_likelihood_offset(Index) { return 0.0; }
};

/// Calls f(L{}) with the loss struct of `kind`.
template <class F>
decltype(auto) with_reconstruction(Reconstruction kind, F&& f) {
  switch (kind) {
    case Reconstruction::SquaredError:
      return f(SquaredErrorLoss{});
    case Reconstruction::BinaryCrossEntropy:
      return f(BinaryCrossEntropyLoss{});
  }
  throw ValueError("vae: reconstruction loss " + std::to_string(static_cast<int>(kind)) + " is not a known loss");
}

/// Whether `kind` is one of the values above (a checkpoint's field may not be).
inline bool is_known(Reconstruction kind) {
  switch (kind) {
    case Reconstruction::SquaredError:
    case Reconstruction::BinaryCrossEntropy:
      return true;
  }
  return false;
}

/// "squared-error" or "binary-cross-entropy".
inline const char* name_of(Reconstruction kind) {
  return with_reconstruction(kind, [](auto loss) { return decltype(loss)::name; });
}

}  // namespace vae

namespace vae::kernels {

/// The loss of element (i, j) of the logits against the targets x; the logit
/// is overwritten with dl/dt. Run through Ops::column_sums: one sum per sample.
template <class L, class S>
struct ReconstructionLoss {
  View<S> logits;
  ConstView<S> x;
  VAE_ELEMENTWISE(class T) T apply(Index i, Index j) const {
    T grad;
    const T l = L::value(el::load<T>(&logits(i, j)), el::load<T>(&x(i, j)), grad);
    el::store(&logits(i, j), grad);
    return l;
  }
};

}  // namespace vae::kernels
