#pragma once
// The CPU backend: Eigen 3.4 for matrix products and vectorised element-wise
// work, OpenMP for threads. Every function of Ops<Cpu, S> is a primitive the
// model code needs; a GPU backend provides the same list.
//
// Threads: matrix products are parallelised inside the GEMM (Eigen's, or the
// BLAS library's when built with VAE_USE_BLAS); element-wise loops use an
// OpenMP `parallel for` over columns. A GEMM is never called from inside an
// OpenMP region (it would then run on one thread).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include <Eigen/Core>
#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(VAE_USE_BLAS)
#include <cblas.h>
#endif

#include "vae/backend/backend.hpp"
#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"
#include "vae/losses.hpp"

namespace vae {

/// The CPU backend tag (the default everywhere).
struct Cpu {
  /// Nothing to hold: threads are process-wide (see set_num_threads).
  struct Context {};
};

/// Sets the number of threads the CPU backend uses (OpenMP and GEMM).
inline void set_num_threads(int n) {
  if (n < 1) throw ValueError("vae::set_num_threads: thread count is " + std::to_string(n) + ", expected >= 1");
#if defined(_OPENMP)
  omp_set_num_threads(n);
#endif
  Eigen::setNbThreads(n);
#if defined(VAE_USE_BLAS) && defined(VAE_OPENBLAS)
  openblas_set_num_threads(n);
#endif
}

/// The number of threads the CPU backend uses.
inline int num_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/// Host memory, 64-byte aligned through Eigen. Grows on reserve(), never
/// shrinks, so a workspace stops allocating once it has seen its largest batch.
template <class S>
class Buffer<Cpu, S> {
 public:
  Buffer() = default;
  explicit Buffer(Index n) { storage_.setZero(n); }

  /// Makes room for at least n scalars; keeps nothing of the old contents
  /// when it has to grow.
  void reserve(Index n) {
    if (n > storage_.size()) storage_.resize(n);
  }
  Index size() const { return storage_.size(); }
  S* data() { return storage_.data(); }
  const S* data() const { return storage_.data(); }

 private:
  Vector<S> storage_;
};

namespace detail {

template <class S>
using MapC = Eigen::Map<const Matrix<S>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class S>
using MapM = Eigen::Map<Matrix<S>, Eigen::Unaligned, Eigen::OuterStride<>>;

template <class S>
MapC<S> map(ConstView<S> v) {
  return MapC<S>(v.data, v.rows, v.cols, Eigen::OuterStride<>(v.ld));
}
template <class S>
MapM<S> map(View<S> v) {
  return MapM<S>(v.data, v.rows, v.cols, Eigen::OuterStride<>(v.ld));
}

/// Element-wise loops are split over columns only when there is enough work
/// for the thread start-up (about 1-2 microseconds) to pay off.
inline constexpr Index kParallelElements = 1 << 15;

template <class S, class AE, class BE>
void eigen_gemm_assign(S alpha, const AE& a, const BE& b, S beta, MapM<S>& c) {
  if (beta == S(0)) {
    c.noalias() = alpha * a * b;
  } else {
    if (beta != S(1)) c *= beta;
    c.noalias() += alpha * a * b;
  }
}

}  // namespace detail

template <class S>
struct Ops<Cpu, S> {
  static_assert(is_supported_scalar_v<S>, "vae::Ops<Cpu, S>: S must be float or double");
  using Context = Cpu::Context;

  /// C = alpha * op(A) * op(B) + beta * C, all column-major.
  static void gemm(const Context&, Trans ta, Trans tb, S alpha, ConstView<S> a, ConstView<S> b, S beta, View<S> c) {
#if defined(VAE_USE_BLAS)
    const auto m = static_cast<int>(c.rows), n = static_cast<int>(c.cols);
    const auto k = static_cast<int>(ta == Trans::No ? a.cols : a.rows);
    const auto opa = ta == Trans::No ? CblasNoTrans : CblasTrans;
    const auto opb = tb == Trans::No ? CblasNoTrans : CblasTrans;
    if (n == 1 && tb == Trans::No) {
      // One column (single-sample inference): GEMV, which OpenBLAS splits over
      // threads without GEMM's packing; about 3x faster at 512 x 784.
      const int rows = static_cast<int>(a.rows), cols = static_cast<int>(a.cols);
      if constexpr (std::is_same_v<S, float>) {
        cblas_sgemv(CblasColMajor, opa, rows, cols, alpha, a.data, int(a.ld), b.data, 1, beta, c.data, 1);
      } else {
        cblas_dgemv(CblasColMajor, opa, rows, cols, alpha, a.data, int(a.ld), b.data, 1, beta, c.data, 1);
      }
      return;
    }
    if constexpr (std::is_same_v<S, float>) {
      cblas_sgemm(CblasColMajor, opa, opb, m, n, k, alpha, a.data, int(a.ld), b.data, int(b.ld), beta, c.data, int(c.ld));
    } else {
      cblas_dgemm(CblasColMajor, opa, opb, m, n, k, alpha, a.data, int(a.ld), b.data, int(b.ld), beta, c.data, int(c.ld));
    }
#else
    auto ma = detail::map(a);
    auto mb = detail::map(b);
    auto mc = detail::map(c);
    if (ta == Trans::No && tb == Trans::No) detail::eigen_gemm_assign(alpha, ma, mb, beta, mc);
    if (ta == Trans::No && tb == Trans::Yes) detail::eigen_gemm_assign(alpha, ma, mb.transpose(), beta, mc);
    if (ta == Trans::Yes && tb == Trans::No) detail::eigen_gemm_assign(alpha, ma.transpose(), mb, beta, mc);
    if (ta == Trans::Yes && tb == Trans::Yes)
      detail::eigen_gemm_assign(alpha, ma.transpose(), mb.transpose(), beta, mc);
#endif
  }

  /// Y(:, j) += b for every column j; then Y = max(Y, 0) when `relu`.
  static void add_bias(const Context&, View<S> y, ConstView<S> b, bool relu) {
    const auto bias = detail::map(b).col(0);
    const Index n = y.cols;
#pragma omp parallel for schedule(static) if (y.size() >= detail::kParallelElements)
    for (Index j = 0; j < n; ++j) {
      auto col = detail::map(y).col(j);
      if (relu) {
        col = (col + bias).cwiseMax(S(0));
      } else {
        col += bias;
      }
    }
  }

  /// db = sum over columns of dY (the bias gradient), assigned.
  static void bias_grad(const Context&, ConstView<S> dy, View<S> db) {
    auto out = detail::map(db).col(0);
    const auto in = detail::map(dy);
    out.setZero();
    for (Index j = 0; j < in.cols(); ++j) out += in.col(j);
  }

  /// dH = dH * (H > 0): the ReLU derivative applied through its output H.
  static void relu_backward(const Context&, View<S> dh, ConstView<S> h) {
    const Index n = dh.cols;
#pragma omp parallel for schedule(static) if (dh.size() >= detail::kParallelElements)
    for (Index j = 0; j < n; ++j) {
      auto d = detail::map(dh).col(j);
      d = (detail::map(h).col(j).array() > S(0)).select(d, S(0));
    }
  }

  /// X_hat = sigmoid(logits), element-wise.
  static void sigmoid(const Context&, ConstView<S> logits, View<S> out) {
    const Index n = out.cols;
#pragma omp parallel for schedule(static) if (out.size() >= detail::kParallelElements)
    for (Index j = 0; j < n; ++j) {
      detail::map(out).col(j) = S(1) / (S(1) + (-detail::map(logits).col(j).array()).exp());
    }
  }

  /// Reconstruction loss of `logits` against targets `x` (both In x B).
  /// Overwrites `logits` with d loss / d logits and writes each column's loss
  /// into col_loss (1 x B), so the sum is taken in a fixed order whatever the
  /// thread count. Returns the batch sum.
  static S reconstruction(const Context&, Reconstruction kind, View<S> logits, ConstView<S> x, View<S> col_loss) {
    const Index n = logits.cols;
#pragma omp parallel for schedule(static) if (logits.size() >= detail::kParallelElements)
    for (Index j = 0; j < n; ++j) {
      auto t = detail::map(logits).col(j).array();
      const auto xj = detail::map(x).col(j).array();
      if (kind == Reconstruction::SquaredError) {
        // l = (x_hat - x)^2, dl/dt = 2 (x_hat - x) x_hat (1 - x_hat); t holds x_hat in between.
        t = S(1) / (S(1) + (-t).exp());
        col_loss.data[j * col_loss.ld] = (t - xj).square().sum();
        t = S(2) * (t - xj) * t * (S(1) - t);
      } else {
        // l = max(t, 0) - t x + log1p(exp(-|t|)), dl/dt = sigmoid(t) - x
        col_loss.data[j * col_loss.ld] = (t.cwiseMax(S(0)) - t * xj + (-t.abs()).exp().log1p()).sum();
        t = S(1) / (S(1) + (-t).exp()) - xj;
      }
    }
    return sum(col_loss);
  }

  /// One fused pass of Adam over flat buffers (PyTorch's rule, L2 weight
  /// decay added to the gradient, the gradient first scaled by grad_scale,
  /// which gradient-norm clipping sets below 1):
  ///   g' = c g + wd p;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
  ///   p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps),  bc_i = 1 - b_i^t.
  static void adam_step(const Context&, View<S> p, ConstView<S> g, View<S> m, View<S> v, S lr, S beta1, S beta2,
                        S eps, S weight_decay, S bias_correction1, S bias_correction2, S grad_scale = S(1)) {
    const Index n = p.size();
    const S step_size = lr / bias_correction1;
    const S inv_sqrt_bc2 = S(1) / std::sqrt(bias_correction2);
    constexpr Index kChunk = 4096;
    const Index chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (n >= detail::kParallelElements)
    for (Index c = 0; c < chunks; ++c) {
      const Index first = c * kChunk, len = std::min(kChunk, n - first);
      auto pa = Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>>(p.data + first, len);
      auto ma = Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>>(m.data + first, len);
      auto va = Eigen::Map<Eigen::Array<S, Eigen::Dynamic, 1>>(v.data + first, len);
      const auto ga = Eigen::Map<const Eigen::Array<S, Eigen::Dynamic, 1>>(g.data + first, len);
      if (weight_decay != S(0) || grad_scale != S(1)) {
        ma = beta1 * ma + (S(1) - beta1) * (grad_scale * ga + weight_decay * pa);
        va = beta2 * va + (S(1) - beta2) * (grad_scale * ga + weight_decay * pa).square();
      } else {
        ma = beta1 * ma + (S(1) - beta1) * ga;
        va = beta2 * va + (S(1) - beta2) * ga.square();
      }
      pa -= step_size * ma / (va.sqrt() * inv_sqrt_bc2 + eps);
    }
  }

  /// Sum of every element, in column order.
  static S sum(ConstView<S> v) {
    double total = 0;
    for (Index j = 0; j < v.cols; ++j) total += static_cast<double>(detail::map(v).col(j).sum());
    return static_cast<S>(total);
  }

  /// Sum of squares of every element (for gradient norms).
  static S squared_norm(const Context&, ConstView<S> v) {
    double total = 0;
    for (Index j = 0; j < v.cols; ++j) total += static_cast<double>(detail::map(v).col(j).squaredNorm());
    return static_cast<S>(total);
  }

  /// v *= alpha.
  static void scale(const Context&, View<S> v, S alpha) { detail::map(v) *= alpha; }

  /// Fills `out` with standard normals from `rng` (column-major order).
  static void fill_normal(const Context&, Rng& rng, View<S> out) {
    const std::uint64_t first = rng.reserve_normals(out.size());
    const std::uint64_t seed = rng.seed();
    for (Index j = 0; j < out.cols; ++j)
      for (Index i = 0; i < out.rows; ++i) {
        const Index k = i + j * out.rows;
        out(i, j) = detail::philox_normal<S>(seed, first + static_cast<std::uint64_t>(k / 4), int(k % 4));
      }
  }

  /// The reparameterised sample of a Gaussian head. `heads` is 2Z x B: rows
  /// [0, Z) are mu, rows [Z, 2Z) log sigma. z = mu + exp(clamp(ls)) * eps.
  /// Returns the batch sum of the KL term `form`.
  static S gaussian_sample(const Context&, KlForm form, ConstView<S> heads, ConstView<S> eps, View<S> z) {
    const Index latent = z.rows;
    double kl = 0;
    for (Index j = 0; j < z.cols; ++j)
      for (Index i = 0; i < latent; ++i) {
        const S mu = heads(i, j), ls = loss::clamp_log_sigma(heads(i + latent, j));
        S dmu, dls;
        kl += static_cast<double>(loss::kl_term(form, mu, ls, dmu, dls));
        z(i, j) = mu + std::exp(ls) * eps(i, j);
      }
    return static_cast<S>(kl);
  }

  /// Backward of gaussian_sample plus beta * KL: from dz (Z x B) to dheads
  /// (2Z x B). dmu = dz + beta dKL/dmu; dls = (dz sigma eps + beta dKL/dls)
  /// inside the clamp range, 0 outside it.
  static void gaussian_backward(const Context&, KlForm form, S beta, ConstView<S> heads, ConstView<S> eps,
                                ConstView<S> dz, View<S> dheads) {
    const Index latent = dz.rows;
    for (Index j = 0; j < dz.cols; ++j)
      for (Index i = 0; i < latent; ++i) {
        const S mu = heads(i, j), raw = heads(i + latent, j), ls = loss::clamp_log_sigma(raw);
        S dmu, dls;
        loss::kl_term(form, mu, ls, dmu, dls);
        dheads(i, j) = dz(i, j) + beta * dmu;
        const bool inside = raw == ls;
        dheads(i + latent, j) = inside ? dz(i, j) * std::exp(ls) * eps(i, j) + beta * dls : S(0);
      }
  }

  /// sigma = exp(clamp(log sigma)) for a Z x B block of log sigmas.
  static void exp_clamped(const Context&, ConstView<S> log_sigma, View<S> sigma) {
    for (Index j = 0; j < sigma.cols; ++j)
      for (Index i = 0; i < sigma.rows; ++i) sigma(i, j) = std::exp(loss::clamp_log_sigma(log_sigma(i, j)));
  }

  /// dst = src (same shape).
  static void copy(const Context&, ConstView<S> src, View<S> dst) { detail::map(dst) = detail::map(src); }
  /// Copies host memory (column-major, contiguous) into backend memory.
  static void upload(const Context&, const S* host, View<S> dst) {
    detail::map(dst) = detail::MapC<S>(host, dst.rows, dst.cols, Eigen::OuterStride<>(dst.rows));
  }
  /// Copies backend memory into host memory (column-major, contiguous).
  static void download(const Context&, ConstView<S> src, S* host) {
    detail::MapM<S>(host, src.rows, src.cols, Eigen::OuterStride<>(src.rows)) = detail::map(src);
  }
  /// Host input used in place: on the CPU a batch needs no copy.
  static ConstView<S> stage(const Context&, ConstView<S> host, Buffer<Cpu, S>&) { return host; }

  static void set_zero(const Context&, View<S> v) { detail::map(v).setZero(); }

  /// True when every element is finite.
  static bool all_finite(const Context&, ConstView<S> v) { return detail::map(v).allFinite(); }
};

}  // namespace vae
