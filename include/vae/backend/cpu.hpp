#pragma once
// The CPU backend: Eigen 3.4 (or OpenBLAS) for matrix products, Eigen packets
// for element-wise work, OpenMP for threads. Every function of Ops<Cpu, S> is
// a primitive the model code needs; a GPU backend provides the same list:
// GEMM, the generic loops for_each and column_sums (which run the formulas
// of activations, losses, KL forms and Adam, written once elsewhere), row
// sums, reductions, normal numbers and copies.
//
// Threads belong to the library, not to the BLAS: vae::set_num_threads(n)
// sets one process-wide count, and every parallel loop and every matrix
// product runs on an OpenMP team of at most that many threads, started by the
// calling thread. A product is cut into blocks of rows or columns of C by its
// shape alone, each computed by one single-threaded BLAS (or Eigen) call;
// OpenBLAS's own threading stays at 1, so every element of C has the same
// bits whatever the thread count or the kernels, and two calls never share
// a BLAS buffer. A team whose threads keep finishing late (a core held by
// another process) makes the next regions run on one thread for a while
// (backend/team_watch.hpp).
// A model call that starts while another one runs anywhere in the process
// (a server calling encode from its request threads, or inference during
// training) runs on its calling thread alone (CallScope<Cpu>): the callers
// share the cores instead of each starting a team and oversubscribing them.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <type_traits>

#include <Eigen/Core>
#if defined(_OPENMP)
#include <omp.h>
#endif
#if defined(VAE_USE_BLAS)
#include <cblas.h>
#endif

#include "vae/backend/backend.hpp"
#include "vae/backend/team_watch.hpp"
#include "vae/core/elementwise.hpp"
#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"

namespace vae {

/// The CPU backend tag (the default everywhere).
struct Cpu {
  /// Nothing to hold: threads are process-wide (see set_num_threads).
  struct Context {};
};

namespace detail {

/// The library's thread count; 0 until set_num_threads is called, which
/// means OpenMP's default (OMP_NUM_THREADS, else the cores).
inline std::atomic<int>& thread_setting() {
  static std::atomic<int> n{0};
  return n;
}
/// Model calls running in the process, and this thread's own call depth and
/// whether its outermost call started while another one was running.
inline std::atomic<int>& calls_in_flight() {
  static std::atomic<int> n{0};
  return n;
}
struct ThreadCallState {
  int depth = 0;
  bool alone = true;
  int cap = 0;  // at most this many threads for calls from this thread (0: no cap; see ThreadCap)
};
inline ThreadCallState& this_thread_call() {
  thread_local ThreadCallState state;
  return state;
}

/// Runs f with the calling thread's OpenMP thread count at 1 (restored
/// after). OpenBLAS's OpenMP build and Eigen's GEMM take their thread count
/// from the caller's ICV, and start no team inside a parallel region; this
/// makes every product they compute single-threaded without touching a
/// process-wide setting (OpenBLAS's openblas_set_num_threads reallocates
/// buffers that another thread's product may be using).
template <class F>
void on_one_thread(F&& f) {
#if defined(_OPENMP)
  struct Restore {
    int saved = omp_in_parallel() ? 1 : omp_get_max_threads();
    Restore() {
      if (saved != 1) omp_set_num_threads(1);
    }
    ~Restore() {
      if (saved != 1) omp_set_num_threads(saved);
    }
  } restore;
#endif
  f();
}

}  // namespace detail

/// Sets the number of threads every later call of the CPU backend may use,
/// from any thread of the process (loops and matrix products alike).
inline void set_num_threads(int n) {
  if (n < 1) throw ValueError("vae::set_num_threads: thread count is " + std::to_string(n) + ", expected >= 1");
  detail::thread_setting() = n;
}

/// The number of threads the CPU backend uses: set_num_threads's value, or
/// OpenMP's default before it is called.
inline int num_threads() {
  const int n = detail::thread_setting();
#if defined(_OPENMP)
  return n > 0 ? n : omp_get_max_threads();
#else
  return n > 0 ? n : 1;
#endif
}

namespace detail {

/// Threads for a parallel region started now on this thread: 1 inside a
/// model call that overlaps another one, or inside a parallel region.
inline int region_threads() {
  const ThreadCallState& t = this_thread_call();
#if defined(_OPENMP)
  if (!t.alone || omp_in_parallel()) return 1;
#endif
  const int n = num_threads();
  return t.cap > 0 && t.cap < n ? t.cap : n;
}

/// Caps the threads of every call made from this thread while it lives
/// (0: no cap); the trainer's ThreadTuner uses it.
class ThreadCap {
 public:
  explicit ThreadCap(int cap) : saved_(this_thread_call().cap) { set(cap); }
  ~ThreadCap() { this_thread_call().cap = saved_; }
  void set(int cap) { this_thread_call().cap = cap; }
  ThreadCap(const ThreadCap&) = delete;
  ThreadCap& operator=(const ThreadCap&) = delete;

 private:
  int saved_;
};

}  // namespace detail

/// One model call (encode, decode, train_step, ...) for the scheduling of
/// threads above: it counts the calls in flight, and a call that starts while
/// another one runs anywhere in the process, on any thread, uses one thread.
/// Nested calls on one thread count once. A backend without threads of its
/// own needs nothing (the primary template in backend.hpp).
template <>
class CallScope<Cpu> {
 public:
  CallScope() {
    detail::ThreadCallState& t = detail::this_thread_call();
    if (t.depth++ == 0) t.alone = detail::calls_in_flight().fetch_add(1) == 0;
  }
  ~CallScope() {
    detail::ThreadCallState& t = detail::this_thread_call();
    if (--t.depth == 0) {
      detail::calls_in_flight().fetch_sub(1);
      t.alone = true;
    }
  }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;
};

/// Host memory, 64-byte aligned through Eigen. Grows on reserve(), never
/// shrinks, so a workspace stops allocating once it has seen its largest batch.
template <class S>
class Buffer<Cpu, S> {
 public:
  Buffer() = default;
  /// n scalars, zeroed.
  explicit Buffer(Index n) { storage_.setZero(n); }

  /// Makes room for at least n scalars; keeps nothing of the old contents
  /// when it has to grow.
  void reserve(Index n) {
    if (n > storage_.size()) storage_.resize(n);
  }
  /// Capacity in scalars.
  Index size() const { return storage_.size(); }
  /// The first scalar (null when empty).
  S* data() { return storage_.data(); }
  /// The first scalar, read-only.
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

/// Threads for an element-wise loop over a rows x cols grid.
inline Index loop_threads(Index rows, Index cols) {
  return rows * cols >= kParallelElements ? region_threads() : 1;
}
/// Tasks a thread takes at a time from a loop of `tasks`: about eight
/// turns per thread, so that a thread that starts late finds work shared.
inline Index loop_chunk(Index tasks, Index threads) { return std::max<Index>(1, tasks / (8 * threads)); }

template <class S, class AE, class BE>
void eigen_gemm_assign(S alpha, const AE& a, const BE& b, S beta, MapM<S>& c) {
  if (beta == S(0)) {
    c.noalias() = alpha * a * b;
  } else {
    if (beta != S(1)) c *= beta;
    c.noalias() += alpha * a * b;
  }
}

/// Products below this many multiply-adds run on one thread (OpenBLAS's
/// own threshold, 65536 x 4, below which it never starts threads): a team
/// costs more than it saves there.
inline constexpr double kParallelMultiplyAdds = 262144;
/// OpenBLAS's threshold for GEMV (2304 x 4 elements of A).
inline constexpr double kParallelGemvElements = 9216;

/// C = alpha op(A) op(B) + beta C on the calling thread alone: OpenBLAS (at
/// one thread through on_one_thread wherever it would start threads), or
/// Eigen's GEMM without BLAS.
template <class S>
void gemm_block(Trans ta, Trans tb, S alpha, ConstView<S> a, ConstView<S> b, S beta, View<S> c) {
#if defined(VAE_USE_BLAS)
  const auto m = static_cast<int>(c.rows), n = static_cast<int>(c.cols);
  const auto k = static_cast<int>(ta == Trans::No ? a.cols : a.rows);
  const auto opa = ta == Trans::No ? CblasNoTrans : CblasTrans;
  const auto opb = tb == Trans::No ? CblasNoTrans : CblasTrans;
  if (n == 1 && tb == Trans::No) {
    // One column (single-sample inference): GEMV, without GEMM's packing.
    const int rows = static_cast<int>(a.rows), cols = static_cast<int>(a.cols);
    const auto gemv = [&] {
      if constexpr (std::is_same_v<S, float>) {
        cblas_sgemv(CblasColMajor, opa, rows, cols, alpha, a.data, int(a.ld), b.data, 1, beta, c.data, 1);
      } else {
        cblas_dgemv(CblasColMajor, opa, rows, cols, alpha, a.data, int(a.ld), b.data, 1, beta, c.data, 1);
      }
    };
    double(rows) * double(cols) >= kParallelGemvElements ? on_one_thread(gemv) : gemv();
    return;
  }
  const auto product = [&] {
    if constexpr (std::is_same_v<S, float>) {
      cblas_sgemm(CblasColMajor, opa, opb, m, n, k, alpha, a.data, int(a.ld), b.data, int(b.ld), beta, c.data, int(c.ld));
    } else {
      cblas_dgemm(CblasColMajor, opa, opb, m, n, k, alpha, a.data, int(a.ld), b.data, int(b.ld), beta, c.data, int(c.ld));
    }
  };
  double(m) * double(n) * double(k) >= kParallelMultiplyAdds ? on_one_thread(product) : product();
#else
  on_one_thread([&] {
    auto ma = map(a);
    auto mb = map(b);
    auto mc = map(c);
    if (ta == Trans::No && tb == Trans::No) eigen_gemm_assign(alpha, ma, mb, beta, mc);
    if (ta == Trans::No && tb == Trans::Yes) eigen_gemm_assign(alpha, ma, mb.transpose(), beta, mc);
    if (ta == Trans::Yes && tb == Trans::No) eigen_gemm_assign(alpha, ma.transpose(), mb, beta, mc);
    if (ta == Trans::Yes && tb == Trans::Yes) eigen_gemm_assign(alpha, ma.transpose(), mb.transpose(), beta, mc);
  });
#endif
}

/// How a large product is cut into blocks of C. The cut is a function of the
/// product's shape (m, n, k) alone: never of the thread count, of the kernels
/// the BLAS picked, or of whether the call overlaps another one. Each block
/// is one single-threaded BLAS (or Eigen) call, and a call's result depends
/// only on its arguments, so element (i, j) of C comes out of the same call
/// with the same arguments, and has the same bits, whichever thread runs
/// it and however many there are. Threads only decide who computes a block.
///
/// C is cut along its longer side (rows of C take rows of op(A) and repack
/// op(B) per block; columns take columns of op(B) and repack op(A)), in
/// whole units of 16 rows or 8 columns (whole register tiles of the x86
/// kernels: a matter of speed only), into at most kMaxBlocks blocks of at
/// least kParallelMultiplyAdds each. Every block repacks the shared operand,
/// so more blocks cost time on few threads: on the blog's network at one
/// thread, 12 blocks ran 8% slower than one call and 4 blocks level with it
/// (docs/performance.md). VAE_GEMM_MAX_BLOCKS (default 4, which 1, 2 and 4
/// threads share evenly) raises the limit for machines with more cores; a
/// product's bits depend on it, as they do on the BLAS kernels.
#ifndef VAE_GEMM_MAX_BLOCKS
#define VAE_GEMM_MAX_BLOCKS 4
#endif
struct GemmBlocks {
  static constexpr Index kRowUnit = 16, kColUnit = 8, kMaxBlocks = VAE_GEMM_MAX_BLOCKS;
  static_assert(kMaxBlocks >= 1, "VAE_GEMM_MAX_BLOCKS must be at least 1");
  bool by_rows = true;
  Index extent = 0, unit = 1, units = 0, count = 1;

  GemmBlocks(Index m, Index n, Index k) : by_rows(m >= n), extent(by_rows ? m : n), unit(by_rows ? kRowUnit : kColUnit) {
    units = (extent + unit - 1) / unit;
    const double work = double(m) * double(n) * double(k);
    const auto by_work = static_cast<Index>(std::min(work / kParallelMultiplyAdds, double(kMaxBlocks)));
    count = std::max<Index>(1, std::min({kMaxBlocks, units, by_work}));
  }
  /// The first row (or column) of block b, for b in [0, count]; the units
  /// are shared out as evenly as whole units allow.
  Index first(Index b) const { return std::min(extent, b * units / count * unit); }
};

/// op(A) rows [first, first + n) and op(B) columns [first, first + n).
template <class S>
ConstView<S> op_rows(ConstView<S> a, Trans ta, Index first, Index n) {
  return ta == Trans::No ? a.row_block(first, n) : a.col_block(first, n);
}
template <class S>
ConstView<S> op_cols(ConstView<S> b, Trans tb, Index first, Index n) {
  return tb == Trans::No ? b.col_block(first, n) : b.row_block(first, n);
}

}  // namespace detail

/// The CPU backend's primitives, the contract every backend provides: GEMM,
/// the generic loops for_each and column_sums that run the library's kernels,
/// reductions, normal numbers and copies. Views point to host memory.
template <class S>
struct Ops<Cpu, S> {
  static_assert(is_supported_scalar_v<S>, "vae::Ops<Cpu, S>: S must be float or double");
  /// The CPU's context (empty).
  using Context = Cpu::Context;

  /// C = alpha * op(A) * op(B) + beta * C, all column-major. A large C is
  /// cut into blocks by its shape alone (detail::GemmBlocks), each one
  /// single-threaded product; the threads take blocks as they come free, so
  /// a thread slowed by another process on its core holds up at most the
  /// block it is computing. The bits of C never depend on the thread count,
  /// the BLAS kernels or concurrent calls.
  static void gemm(const Context&, Trans ta, Trans tb, S alpha, ConstView<S> a, ConstView<S> b, S beta, View<S> c) {
    const Index m = c.rows, n = c.cols, k = ta == Trans::No ? a.cols : a.rows;
    detail::check_gemm_sizes(a, b, c, k, "vae::Cpu gemm: ");
    if (double(m) * double(n) * double(k) < detail::kParallelMultiplyAdds) {
      detail::gemm_block(ta, tb, alpha, a, b, beta, c);
      return;
    }
    const detail::GemmBlocks blocks(m, n, k);
    const Index threads = std::min<Index>(detail::region_threads(), blocks.count);
    detail::run_blocks(blocks.count, threads, 1, [&](Index block) {
      const Index first = blocks.first(block), count = blocks.first(block + 1) - first;
      if (blocks.by_rows) {
        detail::gemm_block(ta, tb, alpha, detail::op_rows(a, ta, first, count), b, beta, c.row_block(first, count));
      } else {
        detail::gemm_block(ta, tb, alpha, a, detail::op_cols(b, tb, first, count), beta, c.col_block(first, count));
      }
    });
  }

  /// f.apply<T>(i, j) for every element (i, j) of a rows x cols grid, where
  /// T = `Packet<S>` stands for rows [i, i + kPacketSize) of column j and
  /// T = S for the ragged tail of a column. Columns (and, for tall grids,
  /// blocks of rows) are shared among the threads (detail::region_threads).
  template <class F>
  static void for_each(const Context&, Index rows, Index cols, const F& f) {
    const Index row_blocks = (rows + detail::kRowBlock - 1) / detail::kRowBlock;
    const Index tasks = row_blocks * cols, threads = detail::loop_threads(rows, cols);
    detail::run_blocks(tasks, threads, detail::loop_chunk(tasks, threads), [&](Index task) {
      const Index j = task / row_blocks, first = (task % row_blocks) * detail::kRowBlock;
      const Index last = std::min(rows, first + detail::kRowBlock);
      Index i = first;
      for (; i + kPacketSize<S> <= last; i += kPacketSize<S>) f.template apply<Packet<S>>(i, j);
      for (; i < last; ++i) f.template apply<S>(i, j);
    });
  }

  /// out(0, j) = sum over i of f.apply<T>(i, j), which returns the terms of
  /// element (i, j) as a T (see for_each). Each column is added by one thread
  /// in a fixed order, so the sums do not depend on the thread count.
  template <class F>
  static void column_sums(const Context&, Index rows, Index cols, const F& f, View<S> out) {
    const Index threads = detail::loop_threads(rows, cols);
    detail::run_blocks(cols, threads, detail::loop_chunk(cols, threads), [&](Index j) {
      Packet<S> packets = Packet<S>::Zero();
      Index i = 0;
      for (; i + kPacketSize<S> <= rows; i += kPacketSize<S>) packets += f.template apply<Packet<S>>(i, j);
      S total = packets.sum();
      for (; i < rows; ++i) total += f.template apply<S>(i, j);
      out(0, j) = total;
    });
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
  /// The same without a context.
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

  /// v = 0.
  static void set_zero(const Context&, View<S> v) { detail::map(v).setZero(); }

  /// True when every element is finite.
  static bool all_finite(const Context&, ConstView<S> v) { return detail::map(v).allFinite(); }
};

}  // namespace vae
