#pragma once
// The generic kernels of the CUDA backend and their launchers: apply a
// functor of cuda/elementwise.cuh to every element, sum a functor over every
// element (to the host), or sum it over each column.
//
// Determinism: every sum is taken in an order fixed by its size alone. A
// thread accumulates its elements in index order (grid-stride), then a block
// adds its threads' partials in a fixed tree, and a single block adds the
// blocks' partials in the same tree. The grid is a function of n only, never
// of the GPU, so the same inputs give the same bits on every run and device
// of one architecture.

#include <algorithm>
#include <mutex>

#include "vae/backend/cuda/check.hpp"
#include "vae/backend/cuda/context.hpp"
#include "vae/core/types.hpp"

namespace vae::detail::gpu {

/// Threads per block of every kernel here (block_sum relies on it).
inline constexpr int kThreads = 256;
/// At most this many blocks for element-wise work; threads then loop.
inline constexpr Index kMaxBlocks = 65535;

inline unsigned blocks_for(Index n, Index cap) {
  return static_cast<unsigned>(std::min<Index>((n + kThreads - 1) / kThreads, cap));
}

/// Sum of `value` over the kThreads threads of the block, added in a fixed
/// tree order through `shared` (kThreads doubles); the result is returned to
/// every thread.
__device__ inline double block_sum(double value, double* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride >>= 1) {
    if (static_cast<int>(threadIdx.x) < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  return shared[0];
}

template <class F>
__global__ void for_each_kernel(Index n, F f) {
  const Index step = static_cast<Index>(gridDim.x) * kThreads;
  for (Index k = static_cast<Index>(blockIdx.x) * kThreads + threadIdx.x; k < n; k += step) f(k);
}

/// f.apply<S>(i, j) for the element at linear index k of a rows x cols grid.
template <class S, class F>
__global__ void for_each_element_kernel(Index rows, Index n, F f) {
  const Index step = static_cast<Index>(gridDim.x) * kThreads;
  for (Index k = static_cast<Index>(blockIdx.x) * kThreads + threadIdx.x; k < n; k += step) {
    const Index j = k / rows;
    f.template apply<S>(k - j * rows, j);
  }
}

/// First pass of a sum: block b writes the sum of its threads' elements to
/// partials[b].
template <class F>
__global__ void reduce_partials_kernel(Index n, F f, double* partials) {
  __shared__ double shared[kThreads];
  const Index step = static_cast<Index>(gridDim.x) * kThreads;
  double total = 0;
  for (Index k = static_cast<Index>(blockIdx.x) * kThreads + threadIdx.x; k < n; k += step) total += f(k);
  total = block_sum(total, shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = total;
}

/// Second pass: one block adds `count` partials into *out. (A template only so
/// that the kernel may be defined in a header included by several files.)
template <class T>
__global__ void reduce_final_kernel(int count, const T* partials, T* out) {
  __shared__ double shared[kThreads];
  double total = 0;
  for (int k = static_cast<int>(threadIdx.x); k < count; k += kThreads) total += static_cast<double>(partials[k]);
  total = block_sum(total, shared);
  if (threadIdx.x == 0) *out = total;
}

/// Block j sums f(i, j) over the rows i and writes it to out(0, j).
template <class F, class S>
__global__ void column_sums_kernel(Index rows, F f, View<S> out) {
  __shared__ double shared[kThreads];
  const Index j = blockIdx.x;
  double total = 0;
  for (Index i = threadIdx.x; i < rows; i += kThreads) total += f(i, j);
  total = block_sum(total, shared);
  if (threadIdx.x == 0) out(0, j) = static_cast<S>(total);
}

/// f(k) for every k in [0, n), queued on the context's stream.
template <class F>
void for_each(const Cuda::Context& ctx, Index n, const F& f, const char* kernel) {
  if (n <= 0) return;
  for_each_kernel<<<blocks_for(n, kMaxBlocks), kThreads, 0, ctx.stream()>>>(n, f);
  check_launch(kernel);
}

/// f.apply<S>(i, j) for every element of a rows x cols grid, queued on the
/// context's stream (S: the scalar of Ops<Cuda, S>).
template <class S, class F>
void for_each_element_as(const Cuda::Context& ctx, Index rows, Index cols, const F& f, const char* kernel) {
  const Index n = rows * cols;
  if (n <= 0) return;
  for_each_element_kernel<S><<<blocks_for(n, kMaxBlocks), kThreads, 0, ctx.stream()>>>(rows, n, f);
  check_launch(kernel);
}

/// The sum of f(k) over k in [0, n), in double, returned to the host (waits
/// for the stream). Holds the context's mutex: the scratch memory is shared.
template <class F>
double reduce(const Cuda::Context& ctx, Index n, const F& f, const char* kernel) {
  if (n <= 0) return 0.0;
  CudaState& state = ctx.state();
  const cudaStream_t stream = state.stream();
  const auto blocks = blocks_for(n, kReduceBlocks);
  const std::lock_guard<std::mutex> lock(state.mutex());
  reduce_partials_kernel<<<blocks, kThreads, 0, stream>>>(n, f, state.scratch());
  check_launch(kernel);
  reduce_final_kernel<<<1, kThreads, 0, stream>>>(static_cast<int>(blocks), state.scratch(),
                                                  state.scratch() + kReduceBlocks);
  check_launch(kernel);
  cuda_check(cudaMemcpyAsync(state.host_result(), state.scratch() + kReduceBlocks, sizeof(double),
                             cudaMemcpyDeviceToHost, stream),
             "cudaMemcpyAsync (reduction result)");
  cuda_check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (reduction result)");
  return *state.host_result();
}

/// out(0, j) = sum over i in [0, rows) of f(i, j), for j in [0, cols) (0 when
/// rows is 0, as on the CPU).
template <class F, class S>
void column_sums(const Cuda::Context& ctx, Index rows, Index cols, const F& f, View<S> out, const char* kernel) {
  if (cols <= 0) return;
  column_sums_kernel<<<static_cast<unsigned>(cols), kThreads, 0, ctx.stream()>>>(rows, f, out);
  check_launch(kernel);
}

}  // namespace vae::detail::gpu
