#pragma once
// The CPU backend: Eigen 3.4 (or OpenBLAS) for matrix products, Eigen packets
// for element-wise work, OpenMP for threads. Every function of Ops<Cpu, S> is
// a primitive the model code needs; a GPU backend provides the same list:
// GEMM, the generic loops for_each and column_sums (which run the formulas
// of activations, losses, KL forms and Adam, written once elsewhere), row
// sums, reductions, normal numbers and copies.
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
#include "vae/core/elementwise.hpp"
#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"

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
/// Rows of one task of Ops<Cpu, S>::for_each (a multiple of every packet size).
inline constexpr Index kRowBlock = 4096;

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

  /// f.apply<T>(i, j) for every element (i, j) of a rows x cols grid, where
  /// T = Packet<S> stands for rows [i, i + kPacketSize) of column j and
  /// T = S for the ragged tail of a column. Columns (and, for tall grids,
  /// blocks of rows) are shared among the OpenMP threads.
  template <class F>
  static void for_each(const Context&, Index rows, Index cols, const F& f) {
    const Index row_blocks = (rows + detail::kRowBlock - 1) / detail::kRowBlock;
    const Index tasks = row_blocks * cols;
#pragma omp parallel for schedule(static) if (rows * cols >= detail::kParallelElements)
    for (Index task = 0; task < tasks; ++task) {
      const Index j = task / row_blocks, first = (task % row_blocks) * detail::kRowBlock;
      const Index last = std::min(rows, first + detail::kRowBlock);
      Index i = first;
      for (; i + kPacketSize<S> <= last; i += kPacketSize<S>) f.template apply<Packet<S>>(i, j);
      for (; i < last; ++i) f.template apply<S>(i, j);
    }
  }

  /// out(0, j) = sum over i of f.apply<T>(i, j), which returns the terms of
  /// element (i, j) as a T (see for_each). Each column is added by one thread
  /// in a fixed order, so the sums do not depend on the thread count.
  template <class F>
  static void column_sums(const Context&, Index rows, Index cols, const F& f, View<S> out) {
#pragma omp parallel for schedule(static) if (rows * cols >= detail::kParallelElements)
    for (Index j = 0; j < cols; ++j) {
      Packet<S> packets = Packet<S>::Zero();
      Index i = 0;
      for (; i + kPacketSize<S> <= rows; i += kPacketSize<S>) packets += f.template apply<Packet<S>>(i, j);
      S total = packets.sum();
      for (; i < rows; ++i) total += f.template apply<S>(i, j);
      out(0, j) = total;
    }
  }

  /// db = sum over columns of dY (the bias gradient), assigned.
  static void row_sums(const Context&, ConstView<S> dy, View<S> db) {
    auto out = detail::map(db).col(0);
    const auto in = detail::map(dy);
    out.setZero();
    for (Index j = 0; j < in.cols(); ++j) out += in.col(j);
  }

  /// Sum of every element, in column order.
  static S sum(const Context&, ConstView<S> v) { return sum(v); }
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
