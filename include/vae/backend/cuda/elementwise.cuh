#pragma once
// The element-wise work of the CUDA backend as small __host__ __device__
// function objects, one per Ops<Cuda, S> primitive. Each is applied at a
// linear index k (element k of a column-major rows x cols view: row
// k mod rows, column k / rows) by the generic kernels of cuda/launch.cuh.
// The formulas are the ones of losses.hpp and core/rng.hpp, shared with the
// CPU backend; no Eigen here. Being __host__ __device__, every functor can
// also be run on the host, which tests/test_cuda.cu does to compare them
// with Ops<Cpu, S> on machines without a GPU.

#include <cmath>
#include <cstdint>

#include "vae/core/rng.hpp"
#include "vae/core/types.hpp"
#include "vae/losses.hpp"

namespace vae::detail::gpu {

/// Row i and column j of linear index k in a view with `rows` rows.
struct Element {
  Index i, j;
};
VAE_HOST_DEVICE inline Element element(Index k, Index rows) {
  const Index j = k / rows;
  return {k - j * rows, j};
}

/// y(:, j) += b, then max(y, 0) when relu.
template <class S>
struct AddBias {
  View<S> y;
  ConstView<S> b;
  bool relu;
  VAE_HOST_DEVICE void operator()(Index k) const {
    const Element e = element(k, y.rows);
    const S t = y(e.i, e.j) + b(e.i, 0);
    y(e.i, e.j) = relu ? (t > S(0) ? t : S(0)) : t;
  }
};

/// dh *= [h > 0].
template <class S>
struct ReluBackward {
  View<S> dh;
  ConstView<S> h;
  VAE_HOST_DEVICE void operator()(Index k) const {
    const Element e = element(k, dh.rows);
    if (!(h(e.i, e.j) > S(0))) dh(e.i, e.j) = S(0);
  }
};

/// out = sigmoid(in); in and out may be the same view.
template <class S>
struct Sigmoid {
  ConstView<S> in;
  View<S> out;
  VAE_HOST_DEVICE void operator()(Index k) const {
    const Element e = element(k, out.rows);
    out(e.i, e.j) = loss::sigmoid(in(e.i, e.j));
  }
};

/// db(i) = sum_j dy(i, j), for row k = i: each thread sums one row over the
/// columns in order, in S, as the CPU backend does.
template <class S>
struct BiasGrad {
  ConstView<S> dy;
  View<S> db;
  VAE_HOST_DEVICE void operator()(Index i) const {
    S total = S(0);
    for (Index j = 0; j < dy.cols; ++j) total += dy(i, j);
    db(i, 0) = total;
  }
};

/// Loss of element (i, j) of the reconstruction; overwrites the logit with
/// d loss / d logit. Summed per column by gpu::column_sums.
template <class S>
struct ReconstructionElement {
  Reconstruction kind;
  View<S> logits;
  ConstView<S> x;
  VAE_HOST_DEVICE double operator()(Index i, Index j) const {
    S grad;
    const S l = kind == Reconstruction::SquaredError ? loss::squared_error(logits(i, j), x(i, j), grad)
                                                     : loss::binary_cross_entropy(logits(i, j), x(i, j), grad);
    logits(i, j) = grad;
    return static_cast<double>(l);
  }
};

/// One Adam update of element k of flat, contiguous buffers (see
/// Ops<Cpu, S>::adam_step for the rule).
template <class S>
struct AdamElement {
  S* p;
  const S* g;
  S* m;
  S* v;
  S step_size, beta1, beta2, eps, weight_decay, inv_sqrt_bc2, grad_scale;
  VAE_HOST_DEVICE void operator()(Index k) const {
    const S grad = weight_decay != S(0) || grad_scale != S(1) ? grad_scale * g[k] + weight_decay * p[k] : g[k];
    const S mk = beta1 * m[k] + (S(1) - beta1) * grad;
    const S vk = beta2 * v[k] + (S(1) - beta2) * (grad * grad);
    m[k] = mk;
    v[k] = vk;
    p[k] -= step_size * mk / (std::sqrt(vk) * inv_sqrt_bc2 + eps);
  }
};

/// Normal k of a fill: detail::philox_normal(seed, first + k / 4, k % 4),
/// exactly the host's Rng::fill_normal.
template <class S>
struct FillNormal {
  View<S> out;
  std::uint64_t seed, first;
  VAE_HOST_DEVICE void operator()(Index k) const {
    const Element e = element(k, out.rows);
    out(e.i, e.j) = philox_normal<S>(seed, first + static_cast<std::uint64_t>(k / 4), static_cast<int>(k % 4));
  }
};

/// z = mu + exp(clamp(ls)) eps for element k of z (Z x B); returns the KL
/// term of that element for the batch sum.
template <class S>
struct GaussianSample {
  KlForm form;
  ConstView<S> heads;
  ConstView<S> eps;
  View<S> z;
  VAE_HOST_DEVICE double operator()(Index k) const {
    const Index latent = z.rows;
    const Element e = element(k, latent);
    const S mu = heads(e.i, e.j), ls = loss::clamp_log_sigma(heads(e.i + latent, e.j));
    S dmu, dls;
    const S kl = loss::kl_term(form, mu, ls, dmu, dls);
    z(e.i, e.j) = mu + std::exp(ls) * eps(e.i, e.j);
    return static_cast<double>(kl);
  }
};

/// dheads from dz for element k of dz (see Ops<Cpu, S>::gaussian_backward).
template <class S>
struct GaussianBackward {
  KlForm form;
  S beta;
  ConstView<S> heads;
  ConstView<S> eps;
  ConstView<S> dz;
  View<S> dheads;
  VAE_HOST_DEVICE void operator()(Index k) const {
    const Index latent = dz.rows;
    const Element e = element(k, latent);
    const S mu = heads(e.i, e.j), raw = heads(e.i + latent, e.j), ls = loss::clamp_log_sigma(raw);
    S dmu, dls;
    loss::kl_term(form, mu, ls, dmu, dls);
    dheads(e.i, e.j) = dz(e.i, e.j) + beta * dmu;
    const bool inside = raw == ls;
    dheads(e.i + latent, e.j) = inside ? dz(e.i, e.j) * std::exp(ls) * eps(e.i, e.j) + beta * dls : S(0);
  }
};

/// sigma = exp(clamp(log sigma)).
template <class S>
struct ExpClamped {
  ConstView<S> log_sigma;
  View<S> sigma;
  VAE_HOST_DEVICE void operator()(Index k) const {
    const Element e = element(k, sigma.rows);
    sigma(e.i, e.j) = std::exp(loss::clamp_log_sigma(log_sigma(e.i, e.j)));
  }
};

/// v *= alpha.
template <class S>
struct Scale {
  View<S> v;
  S alpha;
  VAE_HOST_DEVICE void operator()(Index k) const {
    const Element e = element(k, v.rows);
    v(e.i, e.j) *= alpha;
  }
};

/// Element k, for sums.
template <class S>
struct ValueOf {
  ConstView<S> v;
  VAE_HOST_DEVICE double operator()(Index k) const {
    const Element e = element(k, v.rows);
    return static_cast<double>(v(e.i, e.j));
  }
};

/// Square of element k, for squared norms.
template <class S>
struct SquareOf {
  ConstView<S> v;
  VAE_HOST_DEVICE double operator()(Index k) const {
    const Element e = element(k, v.rows);
    const double x = static_cast<double>(v(e.i, e.j));
    return x * x;
  }
};

/// 1 when element k is NaN or infinite, else 0 (x - x is 0 only for finite x).
template <class S>
struct NonFinite {
  ConstView<S> v;
  VAE_HOST_DEVICE double operator()(Index k) const {
    const Element e = element(k, v.rows);
    const S x = v(e.i, e.j);
    return x - x == S(0) ? 0.0 : 1.0;
  }
};

}  // namespace vae::detail::gpu
