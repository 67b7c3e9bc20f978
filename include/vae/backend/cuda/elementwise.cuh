#pragma once
// The CUDA backend's own element-wise work (bias gradients, normal numbers,
// reductions) as small __host__ __device__ function objects; the formulas of
// the models (activations, losses, KL forms, Adam) are the library's kernels
// (layers/, losses/, optim/), run through for_each_element_as and
// column_sums. Each functor here is applied at a linear index k (element k of
// a column-major rows x cols view: row k mod rows, column k / rows) by the
// generic kernels of cuda/launch.cuh. Normal numbers use core/rng.hpp's
// Philox, shared with the CPU backend; no Eigen here. Being __host__ __device__, every functor can
// also be run on the host, which tests/test_cuda.cu does to compare them
// with Ops<Cpu, S> on machines without a GPU.

#include <cmath>
#include <cstdint>

#include "vae/core/rng.hpp"
#include "vae/core/types.hpp"

namespace vae::detail::gpu {

/// Runs a kernel of the library (a struct with apply<T>(i, j), see
/// core/elementwise.hpp) at element (i, j) with T = S: for_each_element's
/// and column_sums' functor.
template <class F, class S>
struct ApplyAt {
  F f;
  VAE_HOST_DEVICE double operator()(Index i, Index j) const {
    return static_cast<double>(f.template apply<S>(i, j));
  }
};

/// Row i and column j of linear index k in a view with `rows` rows.
struct Element {
  Index i, j;
};
VAE_HOST_DEVICE inline Element element(Index k, Index rows) {
  const Index j = k / rows;
  return {k - j * rows, j};
}

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
