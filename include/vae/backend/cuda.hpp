#pragma once
// The CUDA backend: cuBLAS for matrix products, small kernels for the
// element-wise work, everything queued in order on the stream of a
// Cuda::Context. Ops<Cuda, S> provides every primitive of Ops<Cpu, S> with the
// same signature and meaning; a View passed to it points to device memory,
// except the host pointers of upload/download/stage. Parameters, gradients,
// optimizer moments and workspaces stay on the device; a batch crosses the bus
// once per step (stage), and only losses, sums and requested outputs come back.
//
// Compile the code that uses vae::Cuda with nvcc (a .cu file) and link the
// vae::cuda CMake target. Details, determinism and TF32: docs/cuda.md.

#if !defined(__CUDACC__)
#error "vae/backend/cuda.hpp: the CUDA backend must be compiled by nvcc; put the code that uses vae::Cuda in a .cu file and link the vae::cuda CMake target"
#endif

#include <cmath>
#include <cstdint>
#include <mutex>
#include <type_traits>

#include "vae/backend/backend.hpp"
#include "vae/backend/cuda/buffer.hpp"
#include "vae/backend/cuda/check.hpp"
#include "vae/backend/cuda/context.hpp"
#include "vae/backend/cuda/elementwise.cuh"
#include "vae/backend/cuda/launch.cuh"
#include "vae/core/rng.hpp"

namespace vae {

namespace detail {

inline cublasOperation_t cublas_op(Trans t) { return t == Trans::No ? CUBLAS_OP_N : CUBLAS_OP_T; }

/// cuBLAS wants a leading dimension >= 1 even for an empty matrix.
inline int cublas_ld(Index ld) { return static_cast<int>(ld > 0 ? ld : 1); }

/// Copies a rows x cols column-major matrix of `scalar`-byte elements with
/// leading dimensions dld and sld (in elements), queued on `stream`: one flat
/// copy when both sides are contiguous, a pitched 2D copy otherwise.
inline void copy_matrix(void* dst, Index dld, const void* src, Index sld, Index rows, Index cols, std::size_t scalar,
                        cudaMemcpyKind kind, cudaStream_t stream, const char* what) {
  if (rows == 0 || cols == 0) return;
  const auto bytes = [scalar](Index n) { return static_cast<std::size_t>(n) * scalar; };
  if ((dld == rows && sld == rows) || cols == 1) {
    cuda_check(cudaMemcpyAsync(dst, src, bytes(rows * cols), kind, stream), what);
  } else {
    cuda_check(cudaMemcpy2DAsync(dst, bytes(dld), src, bytes(sld), bytes(rows), static_cast<std::size_t>(cols), kind,
                                 stream),
               what);
  }
}

}  // namespace detail

/// The CUDA backend's primitives: the contract of Ops<Cpu, S>, on device
/// memory, queued in order on the Context's stream.
template <class S>
struct Ops<Cuda, S> {
  static_assert(is_supported_scalar_v<S>, "vae::Ops<Cuda, S>: S must be float or double");
  /// The stream, cuBLAS handle and TF32 setting every call runs with.
  using Context = Cuda::Context;

  /// C = alpha * op(A) * op(B) + beta * C, all column-major, through
  /// cublasSgemm / cublasDgemm with lda = a.ld etc. Single precision uses TF32
  /// tensor cores only when the Context allows it.
  static void gemm(const Context& ctx, Trans ta, Trans tb, S alpha, ConstView<S> a, ConstView<S> b, S beta,
                   View<S> c) {
    if (c.rows == 0 || c.cols == 0) return;
    detail::check_gemm_sizes(a, b, c, ta == Trans::No ? a.cols : a.rows, "vae::Cuda gemm: ");
    const int m = static_cast<int>(c.rows), n = static_cast<int>(c.cols);
    const int k = static_cast<int>(ta == Trans::No ? a.cols : a.rows);
    detail::CudaState& state = ctx.state();
    const std::lock_guard<std::mutex> lock(state.mutex());
    if constexpr (std::is_same_v<S, float>) {
      state.use_tf32(ctx.allow_tf32());
      detail::cuda_check(cublasSgemm(state.cublas(), detail::cublas_op(ta), detail::cublas_op(tb), m, n, k, &alpha,
                                     a.data, detail::cublas_ld(a.ld), b.data, detail::cublas_ld(b.ld), &beta, c.data,
                                     detail::cublas_ld(c.ld)),
                         "cublasSgemm");
    } else {
      detail::cuda_check(cublasDgemm(state.cublas(), detail::cublas_op(ta), detail::cublas_op(tb), m, n, k, &alpha,
                                     a.data, detail::cublas_ld(a.ld), b.data, detail::cublas_ld(b.ld), &beta, c.data,
                                     detail::cublas_ld(c.ld)),
                         "cublasDgemm");
    }
  }

  /// f.apply<S>(i, j) for every element (i, j) of a rows x cols grid, one
  /// thread per element (the formulas of activations, losses, KL forms and
  /// Adam, written once; see Ops<Cpu, S>::for_each), queued on the stream.
  template <class F>
  static void for_each(const Context& ctx, Index rows, Index cols, const F& f) {
    detail::gpu::for_each_element_as<S>(ctx, rows, cols, f, "vae::Cuda for_each kernel");
  }

  /// out(0, j) = sum over i of f.apply<S>(i, j), added in double in a fixed
  /// order (one block per column), queued on the stream.
  template <class F>
  static void column_sums(const Context& ctx, Index rows, Index cols, const F& f, View<S> out) {
    detail::gpu::column_sums(ctx, rows, cols, detail::gpu::ApplyAt<F, S>{f}, out, "vae::Cuda column_sums kernel");
  }

  /// db = sum over columns of dY (the bias gradient), assigned.
  static void row_sums(const Context& ctx, ConstView<S> dy, View<S> db) {
    detail::gpu::for_each(ctx, dy.rows, detail::gpu::BiasGrad<S>{dy, db}, "vae::Cuda row_sums kernel");
  }

  /// Sum of every element, in double, in a fixed order. Waits for the stream.
  static S sum(const Context& ctx, ConstView<S> v) {
    return static_cast<S>(detail::gpu::reduce(ctx, v.size(), detail::gpu::ValueOf<S>{v}, "vae::Cuda sum kernel"));
  }
  /// The same on the default Context of the current device (Ops<Cpu, S>::sum
  /// takes no Context).
  static S sum(ConstView<S> v) { return sum(Context{}, v); }

  /// Sum of squares of every element (for gradient norms). Waits for the stream.
  static S squared_norm(const Context& ctx, ConstView<S> v) {
    return static_cast<S>(
        detail::gpu::reduce(ctx, v.size(), detail::gpu::SquareOf<S>{v}, "vae::Cuda squared_norm kernel"));
  }

  /// v *= alpha.
  static void scale(const Context& ctx, View<S> v, S alpha) {
    detail::gpu::for_each(ctx, v.size(), detail::gpu::Scale<S>{v, alpha}, "vae::Cuda scale kernel");
  }

  /// Fills `out` with standard normals from `rng` (column-major order): the
  /// reservation is made on the host, normal k is computed on the device from
  /// (seed, first + k / 4, k % 4), so the numbers are the CPU's up to the
  /// last bits of log/sin/cos.
  static void fill_normal(const Context& ctx, Rng& rng, View<S> out) {
    const std::uint64_t first = rng.reserve_normals(out.size());
    detail::gpu::for_each(ctx, out.size(), detail::gpu::FillNormal<S>{out, rng.seed(), first},
                          "vae::Cuda fill_normal kernel");
  }

  /// dst = src (same shape), device to device, queued on the stream.
  static void copy(const Context& ctx, ConstView<S> src, View<S> dst) {
    detail::copy_matrix(dst.data, dst.ld, src.data, src.ld, dst.rows, dst.cols, sizeof(S), cudaMemcpyDeviceToDevice,
                        ctx.stream(), "cudaMemcpyAsync (copy)");
  }

  /// Copies host memory (column-major, contiguous) into device memory.
  /// Returns when the copy is complete, so the host memory may be reused at
  /// once, as on the CPU.
  static void upload(const Context& ctx, const S* host, View<S> dst) {
    if (dst.size() == 0) return;
    detail::copy_matrix(dst.data, dst.ld, host, dst.rows, dst.rows, dst.cols, sizeof(S), cudaMemcpyHostToDevice,
                        ctx.stream(), "cudaMemcpyAsync (upload)");
    ctx.synchronize();
  }

  /// Copies device memory into host memory (column-major, contiguous); waits
  /// for the stream, so the host memory holds the data on return.
  static void download(const Context& ctx, ConstView<S> src, S* host) {
    if (src.size() == 0) return;
    detail::copy_matrix(host, src.rows, src.data, src.ld, src.rows, src.cols, sizeof(S), cudaMemcpyDeviceToHost,
                        ctx.stream(), "cudaMemcpyAsync (download)");
    ctx.synchronize();
  }

  /// Uploads a host batch (any leading dimension) into `buffer`, reserving
  /// it, and returns the contiguous device view: a batch crosses the bus once
  /// per step. The host batch may be released on return.
  static ConstView<S> stage(const Context& ctx, ConstView<S> host, Buffer<Cuda, S>& buffer) {
    buffer.reserve(host.size());
    const View<S> dst = make_view(buffer.data(), host.rows, host.cols);
    if (host.size() > 0) {
      detail::copy_matrix(dst.data, dst.ld, host.data, host.ld, host.rows, host.cols, sizeof(S), cudaMemcpyHostToDevice,
                          ctx.stream(), "cudaMemcpyAsync (stage)");
      ctx.synchronize();
    }
    return dst;
  }

  /// v = 0, queued on the stream.
  static void set_zero(const Context& ctx, View<S> v) {
    if (v.size() == 0) return;
    if (v.contiguous() || v.cols == 1) {
      detail::cuda_check(cudaMemsetAsync(v.data, 0, bytes(v.size()), ctx.stream()), "cudaMemsetAsync (set_zero)");
    } else {
      detail::cuda_check(cudaMemset2DAsync(v.data, bytes(v.ld), 0, bytes(v.rows), static_cast<std::size_t>(v.cols),
                                           ctx.stream()),
                         "cudaMemset2DAsync (set_zero)");
    }
  }

  /// True when every element is finite. Waits for the stream.
  static bool all_finite(const Context& ctx, ConstView<S> v) {
    return detail::gpu::reduce(ctx, v.size(), detail::gpu::NonFinite<S>{v}, "vae::Cuda all_finite kernel") == 0.0;
  }

 private:
  static std::size_t bytes(Index n) { return static_cast<std::size_t>(n) * sizeof(S); }
};

}  // namespace vae
