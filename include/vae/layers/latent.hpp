#pragma once
// The stage between an encoder and a decoder. A model is encoder stages, a
// latent stage, decoder stages and a reconstruction loss; the autoencoder and
// the VAE differ only in this stage.
//
//   DeterministicLatent: z = the encoder's output; no loss term.
//   GaussianLatent: the encoder outputs (mu, log sigma); z = mu + sigma eps,
//     eps ~ N(0, I) (the reparameterisation), plus beta * KL(q(z|x) || prior).
//
// A stage provides is_variational, encoder_rows(latent), a Workspace<S, B>,
// forward (z and the batch sum of its loss term), backward (from dL/dz to
// dL/d encoder output) and point (the z that encode() reports).

#include "vae/backend/backend.hpp"
#include "vae/core/elementwise.hpp"
#include "vae/core/rng.hpp"
#include "vae/losses/kl.hpp"

namespace vae {

/// The encoder's Gaussian for a batch: each Latent x B.
template <class S>
struct LatentDistribution {
  /// mu (Latent x B).
  Matrix<S> mean;
  /// sigma = exp(log sigma), log sigma clamped to [-20, 20] (Latent x B).
  Matrix<S> sigma;
};

/// z and the batch sum of the stage's loss term (0 for a deterministic one).
template <class S>
struct LatentSample {
  /// The code the decoder takes (Z x B).
  View<S> z;
  /// The stage's loss term summed over the batch (before beta).
  S loss_sum;
};

/// The autoencoder's stage: z is the encoder's output, with no loss term.
struct DeterministicLatent {
  /// False: no noise and no loss term.
  static constexpr bool is_variational = false;
  /// Rows the encoder outputs for a latent size: the code itself.
  static constexpr Index encoder_rows(Index latent) { return latent; }

  /// Nothing to keep between forward and backward.
  template <class S, class B>
  struct Workspace {
    /// Nothing to allocate.
    void reserve(Index, Index) {}
  };

  /// z = code, loss 0; draws nothing from the generator.
  template <class B, class S>
  static LatentSample<S> forward(const typename B::Context&, KlForm, View<S> code, Rng&, Workspace<S, B>&) {
    return {code, S(0)};
  }
  /// dL/d code is dL/dz itself.
  template <class B, class S>
  static View<S> backward(const typename B::Context&, KlForm, S, ConstView<S>, Workspace<S, B>&, View<S> dz) {
    return dz;
  }
  /// What encode() reports: the code.
  template <class S>
  static ConstView<S> point(ConstView<S> code) {
    return code;
  }
};

namespace kernels {

/// z = mu + exp(clamp(ls)) eps at element (i, j) of z (Z x B), heads (2Z x B)
/// holding mu over ls; returns the KL term of the element.
template <class Kl, class S>
struct GaussianSample {
  ConstView<S> heads, eps;
  View<S> z;
  VAE_ELEMENTWISE(class T) T apply(Index i, Index j) const {
    const T mu = el::load<T>(&heads(i, j));
    const T ls = clamp_log_sigma(el::load<T>(&heads(i + z.rows, j)));
    T dmu, dls;
    const T kl = Kl::value(mu, ls, dmu, dls);
    el::store(&z(i, j), T(mu + el::exp(ls) * el::load<T>(&eps(i, j))));
    return kl;
  }
};

/// Backward of GaussianSample plus beta * KL, from dz to dheads:
///   dmu = dz + beta dKL/dmu,
///   dls = dz sigma eps + beta dKL/dls inside the clamp range, 0 outside.
template <class Kl, class S>
struct GaussianSampleGrad {
  S beta;
  ConstView<S> heads, eps, dz;
  View<S> dheads;
  VAE_ELEMENTWISE(class T) void apply(Index i, Index j) const {
    const Index latent = dz.rows;
    const T mu = el::load<T>(&heads(i, j)), raw = el::load<T>(&heads(i + latent, j));
    const T ls = clamp_log_sigma(raw);
    T dmu, dls;
    Kl::value(mu, ls, dmu, dls);
    const T g = el::load<T>(&dz(i, j));
    el::store(&dheads(i, j), T(g + beta * dmu));
    el::store(&dheads(i + latent, j),
              T(el::select(raw == ls, T(g * el::exp(ls) * el::load<T>(&eps(i, j)) + beta * dls), el::scalar_t<T>(0))));
  }
};

/// sigma = exp(clamp(log sigma)).
template <class S>
struct ClampedExp {
  ConstView<S> log_sigma;
  View<S> sigma;
  VAE_ELEMENTWISE(class T) void apply(Index i, Index j) const {
    el::store(&sigma(i, j), T(el::exp(clamp_log_sigma(el::load<T>(&log_sigma(i, j))))));
  }
};

}  // namespace kernels

/// The VAE's stage: the encoder outputs (mu, log sigma), z = mu + sigma eps with
/// eps ~ N(0, I), and the loss adds beta * KL(q(z|x) || prior).
struct GaussianLatent {
  /// True: the model is a VAE.
  static constexpr bool is_variational = true;
  /// Rows the encoder outputs for a latent size: mu stacked on log sigma.
  static constexpr Index encoder_rows(Index latent) { return 2 * latent; }

  /// eps and z (Z x B), dL/dheads (2Z x B), the KL of each sample (1 x B).
  template <class S, class B>
  struct Workspace {
    /// @{
    /// eps, z (Z x B), dL/dheads (2Z x B) and each sample's KL (1 x B), grown to the largest batch seen.
    Buffer<B, S> eps, z, dheads, column_kl;
    /// @}
    /// Grows the buffers to hold a batch of `batch` samples.
    void reserve(Index latent, Index batch) {
      eps.reserve(latent * batch);
      z.reserve(latent * batch);
      dheads.reserve(2 * latent * batch);
      column_kl.reserve(batch);
    }
  };

  /// Draws eps from rng and returns z = mu + sigma eps and the batch sum of
  /// the KL term `form` (heads: 2Z x B).
  template <class B, class S>
  static LatentSample<S> forward(const typename B::Context& ctx, KlForm form, View<S> heads, Rng& rng,
                                 Workspace<S, B>& ws) {
    using Ops = vae::Ops<B, S>;
    const Index latent = heads.rows / 2, batch = heads.cols;
    const View<S> eps = make_view(ws.eps.data(), latent, batch), z = make_view(ws.z.data(), latent, batch);
    const View<S> column_kl = make_view(ws.column_kl.data(), 1, batch);
    Ops::fill_normal(ctx, rng, eps);
    with_kl(form, [&](auto kl) {
      Ops::column_sums(ctx, latent, batch, kernels::GaussianSample<decltype(kl), S>{heads, eps, z}, column_kl);
    });
    return {z, Ops::sum(ctx, column_kl)};
  }

  /// From dL/dz (Z x B) to dL/dheads (2Z x B, in ws) for the loss
  /// reconstruction + beta * KL; uses the eps of the last forward.
  template <class B, class S>
  static View<S> backward(const typename B::Context& ctx, KlForm form, S beta, ConstView<S> heads, Workspace<S, B>& ws,
                          View<S> dz) {
    const Index latent = dz.rows, batch = dz.cols;
    const View<S> dheads = make_view(ws.dheads.data(), 2 * latent, batch);
    const ConstView<S> eps = make_view<S>(ws.eps.data(), latent, batch);
    with_kl(form, [&](auto kl) {
      Ops<B, S>::for_each(ctx, latent, batch, kernels::GaussianSampleGrad<decltype(kl), S>{beta, heads, eps, dz, dheads});
    });
    return dheads;
  }

  /// The mean mu, rows [0, Z) of the heads.
  template <class S>
  static ConstView<S> point(ConstView<S> heads) {
    return heads.row_block(0, heads.rows / 2);
  }

  /// sigma = exp(clamp(log sigma)) from the heads, into `sigma` (Z x B).
  template <class B, class S>
  static void sigma(const typename B::Context& ctx, ConstView<S> heads, View<S> sigma) {
    const Index latent = heads.rows / 2;
    Ops<B, S>::for_each(ctx, latent, heads.cols, kernels::ClampedExp<S>{heads.row_block(latent, latent), sigma});
  }
};

}  // namespace vae
