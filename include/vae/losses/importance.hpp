#pragma once
// Importance sampling with q(z|x) = N(mu, sigma^2) as the proposal: the terms
// of the log weights
//   log w = log p(x|z) + log p(z) - log q(z|x),   z = mu + sigma eps,
// for k samples of every input, the self-normalised weights, and the
// backward of the importance-weighted bound (Burda, Grosse and
// Salakhutdinov, "Importance Weighted Autoencoders", 2015)
//   L_k = log (1/k) sum_s w_s,   dL_k = sum_s w~_s d log w_s,   w~ = w / sum w.
// The prior is the true N(0, I) and q the true density whatever the
// objective's KL form. Each formula is an element kernel run by a backend's
// for_each / column_sums, so every backend computes it.
//
// Layout: k samples of a batch of B inputs are k B columns, column c = s B + j
// holding sample s of input j; a per-column quantity (1 x k B, contiguous) is
// then a B x k matrix, row j the samples of input j.

#include <cmath>

#include "vae/core/elementwise.hpp"
#include "vae/core/types.hpp"
#include "vae/losses/kl.hpp"
#include "vae/losses/reconstruction.hpp"

namespace vae {

/// log p(x|z) = -(reconstruction loss) + this constant, per sample of
/// `features` values (each loss's log_likelihood_offset).
inline double log_likelihood_offset(Reconstruction kind, Index features) {
  return with_reconstruction(kind, [features](auto loss) { return decltype(loss)::log_likelihood_offset(features); });
}

namespace kernels {

/// Sample z (Z x k B) of q(z|x): z(i, c) = mu(i, j) + exp(clamp(ls(i, j))) eps(i, c)
/// with j = c mod B (heads: 2Z x B, mu over ls); returns the element's term of
/// log p(z) - log q(z|x) = sum_i [-z^2 / 2 + eps^2 / 2 + ls] (the 2 pi terms cancel).
template <class S>
struct ImportanceSample {
  ConstView<S> heads, eps;
  View<S> z;
  VAE_ELEMENTWISE(class T) T apply(Index i, Index c) const {
    using R = el::scalar_t<T>;
    const Index j = c % heads.cols;
    const T mu = el::load<T>(&heads(i, j));
    const T ls = clamp_log_sigma(el::load<T>(&heads(i + z.rows, j)));
    const T e = el::load<T>(&eps(i, c));
    const T zz = mu + el::exp(ls) * e;
    el::store(&z(i, c), zz);
    return R(0.5) * (e * e - zz * zz) + ls;
  }
};

/// dst(i, c) = src(i, c mod B) (src: R x B, dst: R x k B): the k samples of
/// each input see its rows (a conditional decoder's one-hot label).
template <class S>
struct TileColumns {
  ConstView<S> src;
  View<S> dst;
  VAE_ELEMENTWISE(class T) void apply(Index i, Index c) const {
    el::store(&dst(i, c), el::load<T>(&src(i, c % src.cols)));
  }
};

/// The loss of feature i of column c of the decoder's outputs (k B
/// columns) against x(i, c mod B) (x: In x B); the outputs are overwritten
/// with their gradients. Run through column_sums over x's rows: one sum per
/// column.
template <class L, class S>
struct TiledReconstructionLoss {
  View<S> logits;
  ConstView<S> x;
  VAE_ELEMENTWISE(class T) T apply(Index i, Index c) const { return feature_loss<L, S, T>(logits, x, i, c, c % x.cols); }
};

/// Per input i (run by for_each over B x 1): log w_s = -rec(i, s) + beta
/// latent(i, s) for the k = rec.cols samples (rec, latent: B x k), then
///   weights(i, s) = w_s / sum_t w_t = exp(log w_s - m) / sum_t exp(log w_t - m),
///   bound(i) = -(m + log sum_t exp(log w_t - m) - log k),   m = max_t log w_t,
/// the loss -L_k, stable for any spread of the log weights.
template <class S>
struct ImportanceWeights {
  ConstView<S> rec, latent;
  S beta;
  View<S> weights, bound;
  VAE_ELEMENTWISE(class T) T log_weight(Index i, Index s) const {
    return beta * el::load<T>(&latent(i, s)) - el::load<T>(&rec(i, s));
  }
  VAE_ELEMENTWISE(class T) void apply(Index i, Index) const {
    using R = el::scalar_t<T>;
    const Index k = rec.cols;
    T m = log_weight<T>(i, 0);
    for (Index s = 1; s < k; ++s) {
      const T lw = log_weight<T>(i, s);
      m = el::select(lw > m, lw, m);
    }
    T total = el::constant<T>(R(0));
    for (Index s = 0; s < k; ++s) {
      const T w = el::exp(T(log_weight<T>(i, s) - m));
      el::store(&weights(i, s), w);
      total = total + w;
    }
    // A weight below epsilon^2 changes no gradient at S's precision; as 0 it
    // keeps the weighted decoder gradients out of the subnormal range, where
    // CPUs slow down by an order of magnitude.
    const R negligible = R(sizeof(R) == 4 ? 1.4210854715202004e-14 : 4.930380657631324e-32);  // 2^-46, 2^-104
    for (Index s = 0; s < k; ++s) {
      const T w = el::load<T>(&weights(i, s)) / total;
      el::store(&weights(i, s), T(el::select(w < negligible, el::constant<T>(R(0)), w)));
    }
    el::store(&bound(i, 0), T(el::log(static_cast<R>(k)) - el::log(total) - m));
  }
};

/// grad(i, c) *= weights(c mod B, c / B): dL/dlogits of sample s of input j
/// is w~_s times that sample's own (weights: B x k).
template <class S>
struct WeightColumns {
  View<S> grad;
  ConstView<S> weights;
  VAE_ELEMENTWISE(class T) void apply(Index i, Index c) const {
    const S w = weights(c % weights.rows, c / weights.rows);
    el::store(&grad(i, c), T(el::load<T>(&grad(i, c)) * w));
  }
};

/// dL/dheads (2Z x B) of the loss -L_k from dz (Z x k B, the decoder's
/// gradient, already weighted by w~), z and eps of the samples and the
/// weights (B x k). With log w = -rec + beta (-z^2 / 2 + eps^2 / 2 + ls):
///   g_s = dz_s + beta w~_s z_s (d(-log w)/dz through the prior),
///   dmu = sum_s g_s,   dls = sigma sum_s g_s eps_s - beta sum_s w~_s
/// (sum_s w~_s = 1) inside the clamp range, 0 outside.
template <class S>
struct ImportanceSampleGrad {
  S beta;
  ConstView<S> heads, eps, z, dz, weights;
  View<S> dheads;
  VAE_ELEMENTWISE(class T) void apply(Index i, Index j) const {
    using R = el::scalar_t<T>;
    const Index latent = dz.rows, batch = heads.cols, k = weights.cols;
    const T raw = el::load<T>(&heads(i + latent, j));
    const T ls = clamp_log_sigma(raw);
    T gmu = el::constant<T>(R(0)), geps = el::constant<T>(R(0));
    for (Index s = 0; s < k; ++s) {
      const Index c = s * batch + j;
      const S bw = beta * weights(j, s);
      const T g = el::load<T>(&dz(i, c)) + el::load<T>(&z(i, c)) * bw;
      gmu = gmu + g;
      geps = geps + g * el::load<T>(&eps(i, c));
    }
    el::store(&dheads(i, j), gmu);
    el::store(&dheads(i + latent, j), T(el::select(raw == ls, T(el::exp(ls) * geps - beta), R(0))));
  }
};

}  // namespace kernels
}  // namespace vae
