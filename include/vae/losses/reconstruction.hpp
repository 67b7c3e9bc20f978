#pragma once
// Reconstruction losses: the output distributions p(x|z), each formula
// written once (core/elementwise.hpp) and run by every backend. A loss struct
// L provides
//   static constexpr Reconstruction kind;   static constexpr const char* name;
//   static constexpr bool unit_range;
//   VAE_ELEMENTWISE(class T) static T value(const T& t, const T& x, T& grad);
//   VAE_ELEMENTWISE(class T) static T mean(const T& t);
//   static double log_likelihood_offset(Index features);
// the loss of one element with decoder output t against target x, writing
// dl/dt to grad; the mean of p(x|z) given t (what decode and reconstruct
// return); whether targets must lie in [0, 1]; and the constant c with
// log p(x|z) = -loss + c for a sample of `features` values. A loss with
// `outputs = 2` (HeteroscedasticGaussianLoss) takes two decoder outputs per
// feature, rows i and i + features, through
//   VAE_ELEMENTWISE(class T) static T value(const T& t, const T& u, const T& x, T& grad_t, T& grad_u);
// the others one (`outputs = 1`). with_reconstruction() maps the run-time
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
  /// The continuous Bernoulli's -log p(x|t) for x in [0, 1] (Loaiza-Ganem
  /// and Cunningham, 2019; ContinuousBernoulliLoss).
  ContinuousBernoulli = 2,
  /// -log N(x; t, I): a Gaussian with unit variance around the decoder's
  /// output itself (identity output, any real x; GaussianLoss).
  Gaussian = 3,
  /// -log N(x; t, sigma^2) with sigma per feature and sample from the
  /// decoder: it outputs the mean t over a scale u per feature (2 x features
  /// rows), sigma = 0.001 + softplus(u) (HeteroscedasticGaussianLoss).
  HeteroscedasticGaussian = 4,
  /// -log N(x; t, sigma_i^2) with sigma learned per feature i, the same for
  /// every sample: the heteroscedastic Gaussian whose scale rows take no
  /// input (their weights stay 0; each is its bias) (LearnedGaussianLoss).
  LearnedGaussian = 5,
};

namespace detail {
/// sigmoid(t) = 1 / (1 + e^-t).
VAE_ELEMENTWISE(class T) T sigmoid(const T& t) {
  using S = el::scalar_t<T>;
  return S(1) / (S(1) + el::exp(-t));
}
}  // namespace detail

/// l = (x_hat - x)^2,  dl/dt = 2 (x_hat - x) x_hat (1 - x_hat).
struct SquaredErrorLoss {
  /// The enum value that selects this loss.
  static constexpr Reconstruction kind = Reconstruction::SquaredError;
  /// The loss's name, as name_of() returns it.
  static constexpr const char* name = "squared-error";
  /// Targets may be any real values (x_hat stays in (0, 1)).
  static constexpr bool unit_range = false;
  /// One decoder output per feature.
  static constexpr Index outputs = 1;
  /// The loss of one element from its logit t against the target x; writes
  /// dl/dt to grad. T is a scalar or an Eigen packet.
  VAE_ELEMENTWISE(class T) static T value(const T& t, const T& x, T& grad) {
    using S = el::scalar_t<T>;
    const T x_hat = detail::sigmoid(t);
    const T d = x_hat - x;
    grad = S(2) * d * x_hat * (S(1) - x_hat);
    return d * d;
  }
  /// The mean x_hat = sigmoid(t).
  VAE_ELEMENTWISE(class T) static T mean(const T& t) { return detail::sigmoid(t); }
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
  /// Targets are probabilities (or binary pixels): [0, 1].
  static constexpr bool unit_range = true;
  /// One decoder output per feature.
  static constexpr Index outputs = 1;
  /// The loss of one element from its logit t against the target x; writes
  /// dl/dt to grad. T is a scalar or an Eigen packet.
  VAE_ELEMENTWISE(class T) static T value(const T& t, const T& x, T& grad) {
    using S = el::scalar_t<T>;
    grad = detail::sigmoid(t) - x;
    return el::max(t, S(0)) - t * x + el::log1p(el::exp(-el::abs(t)));
  }
  /// The mean sigmoid(t).
  VAE_ELEMENTWISE(class T) static T mean(const T& t) { return detail::sigmoid(t); }
  /// The Bernoulli log-likelihood itself: no constant.
  static double log_likelihood_offset(Index) { return 0.0; }
};

/// The continuous Bernoulli with logit t, p(x|t) = C(t) s^x (1 - s)^(1-x)
/// on [0, 1], s = sigmoid(t): the density proportional to e^(t x), whose
/// normaliser is C(t) = t / tanh(t / 2) (2 at t = 0, where s = 1/2). The loss
/// is the binary cross-entropy less log C(t):
///   l = max(t, 0) - t x + log1p(e^-|t|) - log C(t),
///   dl/dt = sigmoid(t) - x - (1/t - 1/sinh t).
/// Near t = 0 both log C and 1/t - 1/sinh t cancel to a few digits in
/// float, so for |t| < 1/4 they come from their Taylor series (log C to t^8,
/// its derivative and the mean to t^7: the next terms are below 1e-10
/// there); elsewhere from
/// log C = log|t| - log tanh(|t|/2) and 1/sinh t = 2 / (expm1(t) - expm1(-t)),
/// which stay finite for any t.
struct ContinuousBernoulliLoss {
  /// The enum value that selects this loss.
  static constexpr Reconstruction kind = Reconstruction::ContinuousBernoulli;
  /// The loss's name, as name_of() returns it.
  static constexpr const char* name = "continuous-bernoulli";
  /// A density on [0, 1]: targets must lie there.
  static constexpr bool unit_range = true;
  /// One decoder output per feature.
  static constexpr Index outputs = 1;
  /// Below this |t| the series are used.
  static constexpr double kSeriesBelow = 0.25;
  /// log C(t) = log(t / tanh(t / 2)).
  VAE_ELEMENTWISE(class T) static T log_normalizer(const T& t) {
    using S = el::scalar_t<T>;
    const T a = el::max(el::abs(t), S(kSeriesBelow));  // the series' branch computes this too: keep it finite
    const T direct = el::log(a) - el::log(el::tanh(S(0.5) * a));
    const T t2 = t * t;
    const T series = S(0.69314718055994530942) +
                     t2 * (S(1) / S(12) + t2 * (S(-7) / S(1440) + t2 * (S(31) / S(90720) + t2 * (S(-127) / S(4838400)))));
    return el::select(el::abs(t) < S(kSeriesBelow), series, direct);
  }
  /// d log C / dt = 1/t - 1/sinh t.
  VAE_ELEMENTWISE(class T) static T log_normalizer_grad(const T& t) {
    using S = el::scalar_t<T>;
    const T safe = el::select(el::abs(t) < S(kSeriesBelow), el::constant<T>(S(1)), t);
    const T direct = S(1) / safe - S(2) / (el::expm1(safe) - el::expm1(-safe));
    const T t2 = t * t;
    const T series = t * (S(1) / S(6) + t2 * (S(-7) / S(360) + t2 * (S(31) / S(15120) + t2 * (S(-127) / S(604800)))));
    return el::select(el::abs(t) < S(kSeriesBelow), series, direct);
  }
  /// The loss of one element from its logit t against the target x; writes
  /// dl/dt to grad. T is a scalar or an Eigen packet.
  VAE_ELEMENTWISE(class T) static T value(const T& t, const T& x, T& grad) {
    using S = el::scalar_t<T>;
    grad = detail::sigmoid(t) - x - log_normalizer_grad(t);
    return el::max(t, S(0)) - t * x + el::log1p(el::exp(-el::abs(t))) - log_normalizer(t);
  }
  /// The mean 1 / (1 - e^-t) - 1/t (1/2 at t = 0; series for |t| < 1/4).
  /// It is not sigmoid(t): the continuous Bernoulli's mean lies closer to 1/2.
  VAE_ELEMENTWISE(class T) static T mean(const T& t) {
    using S = el::scalar_t<T>;
    const T safe = el::select(el::abs(t) < S(kSeriesBelow), el::constant<T>(S(1)), t);
    const T direct = S(-1) / el::expm1(-safe) - S(1) / safe;
    const T t2 = t * t;
    const T series = S(0.5) + t * (S(1) / S(12) + t2 * (S(-1) / S(720) + t2 * (S(1) / S(30240) + t2 * (S(-1) / S(1209600)))));
    return el::select(el::abs(t) < S(kSeriesBelow), series, direct);
  }
  /// The logit whose mean is m, for m in (0, 1) (host only): bisection, the
  /// mean rising from 0 to 1 over the reals (mean 0.001 is at t = -1000).
  static double logit_of_mean(double m) {
    double lo = -2000, hi = 2000;
    for (int step = 0; step < 200 && hi - lo > 1e-12; ++step) {
      const double mid = 0.5 * (lo + hi);
      (mean(mid) < m ? lo : hi) = mid;
    }
    return 0.5 * (lo + hi);
  }
  /// A normalised density: no constant.
  static double log_likelihood_offset(Index) { return 0.0; }
};

/// A Gaussian with unit variance around the decoder's output, identity
/// output (no squashing: any real x):
///   l = (t - x)^2 / 2,  dl/dt = t - x,  log p(x|z) = -l - (1/2) log(2 pi)
/// per element. For data of another scale, standardise it (or scale it by
/// 1/sigma for a fixed sigma): docs/likelihood.md on scales and beta.
struct GaussianLoss {
  /// The enum value that selects this loss.
  static constexpr Reconstruction kind = Reconstruction::Gaussian;
  /// The loss's name, as name_of() returns it.
  static constexpr const char* name = "gaussian";
  /// Any real targets.
  static constexpr bool unit_range = false;
  /// One decoder output per feature.
  static constexpr Index outputs = 1;
  /// The loss of one element from its output t against the target x; writes
  /// dl/dt to grad. T is a scalar or an Eigen packet.
  VAE_ELEMENTWISE(class T) static T value(const T& t, const T& x, T& grad) {
    using S = el::scalar_t<T>;
    grad = t - x;
    return S(0.5) * grad * grad;
  }
  /// The mean: t itself.
  VAE_ELEMENTWISE(class T) static T mean(const T& t) { return t; }
  /// -(D/2) log(2 pi).
  static double log_likelihood_offset(Index features) {
    return -0.5 * static_cast<double>(features) * std::log(2 * 3.14159265358979323846);
  }
};

/// A Gaussian whose mean t and scale come from the decoder, per feature and
/// sample (a heteroscedastic Gaussian): the decoder outputs t over u
/// (2 x features rows), and
///   sigma = s0 + softplus(u),  s0 = kSigmaFloor = 0.001,
///   l = (x - t)^2 / (2 sigma^2) + log sigma,  log p(x|z) = -l - (1/2) log(2 pi),
///   dl/dt = (t - x) / sigma^2,  dl/du = (1 - (x - t)^2 / sigma^2) / sigma * sigmoid(u).
/// The floor keeps the density bounded: without it a decoder that
/// reproduces one value exactly could drive sigma to 0 and the likelihood to
/// infinity. In the units the model sees (standardised data: 0.1% of each
/// feature's spread).
struct HeteroscedasticGaussianLoss {
  /// The enum value that selects this loss.
  static constexpr Reconstruction kind = Reconstruction::HeteroscedasticGaussian;
  /// The loss's name, as name_of() returns it.
  static constexpr const char* name = "heteroscedastic-gaussian";
  /// Any real targets.
  static constexpr bool unit_range = false;
  /// Two decoder outputs per feature: the mean's rows, then the scale's.
  static constexpr Index outputs = 2;
  /// The smallest sigma.
  static constexpr double kSigmaFloor = 1e-3;
  /// The loss of one element from its mean t and scale u against the target
  /// x; writes dl/dt and dl/du. T is a scalar or an Eigen packet.
  VAE_ELEMENTWISE(class T) static T value(const T& t, const T& u, const T& x, T& grad_t, T& grad_u) {
    using S = el::scalar_t<T>;
    const T sigma = S(kSigmaFloor) + el::max(u, S(0)) + el::log1p(el::exp(-el::abs(u)));
    const T inv = S(1) / sigma;
    const T r = (t - x) * inv;
    grad_t = r * inv;
    grad_u = (S(1) - r * r) * inv * detail::sigmoid(u);
    return S(0.5) * r * r + el::log(sigma);
  }
  /// The mean: t itself.
  VAE_ELEMENTWISE(class T) static T mean(const T& t) { return t; }
  /// The scale output whose sigma is 1: softplus^-1(1 - kSigmaFloor).
  static double unit_scale() { return std::log(std::expm1(1.0 - kSigmaFloor)); }
  /// -(D/2) log(2 pi).
  static double log_likelihood_offset(Index features) {
    return -0.5 * static_cast<double>(features) * std::log(2 * 3.14159265358979323846);
  }
};

/// A Gaussian of mean t from the decoder and a standard deviation learned per
/// feature, the same for every sample: the heteroscedastic Gaussian's
/// formulas, with the model keeping the weights of the decoder's scale rows
/// at 0 (they get no gradient), so that each feature's u is its bias.
struct LearnedGaussianLoss : HeteroscedasticGaussianLoss {
  /// The enum value that selects this loss.
  static constexpr Reconstruction kind = Reconstruction::LearnedGaussian;
  /// The loss's name, as name_of() returns it.
  static constexpr const char* name = "learned-gaussian";
};

/// Calls f(L{}) with the loss struct of `kind`.
template <class F>
decltype(auto) with_reconstruction(Reconstruction kind, F&& f) {
  switch (kind) {
    case Reconstruction::SquaredError:
      return f(SquaredErrorLoss{});
    case Reconstruction::BinaryCrossEntropy:
      return f(BinaryCrossEntropyLoss{});
    case Reconstruction::ContinuousBernoulli:
      return f(ContinuousBernoulliLoss{});
    case Reconstruction::Gaussian:
      return f(GaussianLoss{});
    case Reconstruction::HeteroscedasticGaussian:
      return f(HeteroscedasticGaussianLoss{});
    case Reconstruction::LearnedGaussian:
      return f(LearnedGaussianLoss{});
  }
  throw ValueError("vae: reconstruction loss " + std::to_string(static_cast<int>(kind)) + " is not a known loss");
}

/// Whether `kind` is one of the values above (a checkpoint's field may not be).
inline bool is_known(Reconstruction kind) {
  switch (kind) {
    case Reconstruction::SquaredError:
    case Reconstruction::BinaryCrossEntropy:
    case Reconstruction::ContinuousBernoulli:
    case Reconstruction::Gaussian:
    case Reconstruction::HeteroscedasticGaussian:
    case Reconstruction::LearnedGaussian:
      return true;
  }
  return false;
}

/// "squared-error", "binary-cross-entropy", "continuous-bernoulli" or "gaussian".
inline const char* name_of(Reconstruction kind) {
  return with_reconstruction(kind, [](auto loss) { return decltype(loss)::name; });
}

/// Decoder outputs per feature of the loss `kind`: 2 for a loss that takes a
/// scale beside the mean, 1 for the others.
inline Index outputs_per_feature(Reconstruction kind) {
  return with_reconstruction(kind, [](auto loss) { return decltype(loss)::outputs; });
}

/// Whether the loss `kind` learns one scale per feature, shared by every
/// sample (the weights of the decoder's scale rows held at 0).
inline bool scale_per_feature(Reconstruction kind) { return kind == Reconstruction::LearnedGaussian; }

/// Whether the loss `kind` takes targets in [0, 1] only.
inline bool needs_unit_range(Reconstruction kind) {
  return with_reconstruction(kind, [](auto loss) { return decltype(loss)::unit_range; });
}

}  // namespace vae

namespace vae::kernels {

/// The loss of feature i of sample j: the decoder's output (i, j) (and, for
/// a loss of two outputs per feature, (i + features, j)) against x(i, j),
/// the outputs overwritten with their gradients. `c` is the column of x a
/// column of the outputs is compared with: j, or j mod x.cols for outputs
/// that tile x (several samples of z per input).
VAE_ELEMENTWISE(class L, class S, class T) T feature_loss(View<S> out, ConstView<S> x, Index i, Index j, Index c) {
  if constexpr (L::outputs == 2) {
    T gt, gu;
    const T l = L::value(el::load<T>(&out(i, j)), el::load<T>(&out(i + x.rows, j)), el::load<T>(&x(i, c)), gt, gu);
    el::store(&out(i, j), gt);
    el::store(&out(i + x.rows, j), gu);
    return l;
  } else {
    T grad;
    const T l = L::value(el::load<T>(&out(i, j)), el::load<T>(&x(i, c)), grad);
    el::store(&out(i, j), grad);
    return l;
  }
}

/// The loss of feature (i, j) of the decoder's outputs against the targets
/// x, the outputs overwritten with dl/doutput. Run through Ops::column_sums
/// over x's rows: one sum per sample.
template <class L, class S>
struct ReconstructionLoss {
  View<S> logits;
  ConstView<S> x;
  VAE_ELEMENTWISE(class T) T apply(Index i, Index j) const { return feature_loss<L, S, T>(logits, x, i, j, j); }
};

/// The mean of p(x|z) from the decoder's outputs, in place (loss L's mean).
template <class L, class S>
struct OutputMean {
  View<S> out;
  VAE_ELEMENTWISE(class T) void apply(Index i, Index j) const {
    el::store(&out(i, j), L::mean(el::load<T>(&out(i, j))));
  }
};

}  // namespace vae::kernels
