#pragma once
// vae::Cuda::Context: the CUDA stream and cuBLAS handle every Ops<Cuda, S>
// call runs on, shared (shared_ptr) by all copies of a Context, so copying a
// Context is cheap and a model, its optimizer and its const inference calls
// all queue their work on one stream, in order.
//
// Threads: a Context may be used from several host threads at once (the
// const inference methods of a model do). Kernels and copies queued from
// different threads onto the shared stream run one after another; cuBLAS calls
// and the scratch memory of reductions are guarded by a mutex in the shared
// state. Concurrent calls are therefore safe but serialised on the device;
// give each thread its own Context (Cuda::Context::with_own_stream) and its
// own model copy for parallel streams.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vae/backend/backend.hpp"
#include "vae/backend/cuda/check.hpp"

namespace vae {

namespace detail {

/// Blocks in the first pass of a deterministic reduction (cuda/launch.cuh).
/// The scratch memory holds one partial sum per block and the result.
inline constexpr int kReduceBlocks = 256;

/// Makes `device` current for the calling thread and restores the previous
/// device on scope exit.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    cuda_check(cudaGetDevice(&saved_), "cudaGetDevice");
    if (saved_ != device) cuda_check(cudaSetDevice(device), "cudaSetDevice");
  }
  ~DeviceScope() { cudaSetDevice(saved_); }
  DeviceScope(const DeviceScope&) = delete;
  DeviceScope& operator=(const DeviceScope&) = delete;

 private:
  int saved_ = 0;
};

/// What all copies of one Cuda::Context share: a stream, a cuBLAS handle
/// bound to it, the scratch memory of reductions, and the mutex that guards
/// the handle and the scratch.
class CudaState {
 public:
  explicit CudaState(int device) : device_(device) {
    DeviceScope scope(device);
    try {
      // A blocking stream: it also waits for (and is waited for by) work on
      // the legacy default stream, which Buffer's copies use.
      cuda_check(cudaStreamCreate(&stream_), "cudaStreamCreate");
      cuda_check(cublasCreate(&cublas_), "cublasCreate");
      cuda_check(cublasSetStream(cublas_, stream_), "cublasSetStream");
      // No TF32 unless a Context asks for it (see Cuda::Context::set_allow_tf32).
      cuda_check(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
      cuda_check(cudaMalloc(reinterpret_cast<void**>(&scratch_), sizeof(double) * (kReduceBlocks + 1)),
                 "cudaMalloc (reduction scratch)");
      cuda_check(cudaMallocHost(reinterpret_cast<void**>(&host_result_), sizeof(double)),
                 "cudaMallocHost (reduction result)");
    } catch (...) {
      release();
      throw;
    }
  }
  ~CudaState() { release(); }
  CudaState(const CudaState&) = delete;
  CudaState& operator=(const CudaState&) = delete;

  int device() const { return device_; }
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t cublas() const { return cublas_; }
  /// kReduceBlocks + 1 doubles of device memory; use only with mutex() held.
  double* scratch() const { return scratch_; }
  /// One double of pinned host memory; use only with mutex() held.
  double* host_result() const { return host_result_; }
  std::mutex& mutex() const { return mutex_; }

  /// Switches the handle between TF32 tensor-op math and the default (full
  /// FP32) math when it is not already in the wanted mode. Call with mutex()
  /// held, right before a GEMM.
  void use_tf32(bool allow) {
    if (allow == tf32_) return;
    cuda_check(cublasSetMathMode(cublas_, allow ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
               "cublasSetMathMode");
    tf32_ = allow;
  }

 private:
  void release() noexcept {
    if (host_result_ != nullptr) cudaFreeHost(host_result_);
    if (scratch_ != nullptr) cudaFree(scratch_);
    if (cublas_ != nullptr) cublasDestroy(cublas_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  int device_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  double* scratch_ = nullptr;
  double* host_result_ = nullptr;
  bool tf32_ = false;
  mutable std::mutex mutex_;
};

/// Throws DeviceError unless at least one CUDA device is usable.
inline void require_device(const char* where) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    throw DeviceError(std::string(where) + ": no usable CUDA device (cudaGetDeviceCount failed with " +
                      cudaGetErrorName(status) + ": " + cudaGetErrorString(status) + ")");
  }
  if (count == 0) throw DeviceError(std::string(where) + ": no CUDA device is present");
}

/// The default state of the calling thread's current device, created on
/// first use and shared by every default-constructed Cuda::Context on it.
inline std::shared_ptr<CudaState> default_cuda_state() {
  require_device("vae::Cuda::Context");
  int device = 0;
  cuda_check(cudaGetDevice(&device), "cudaGetDevice");
  // Deliberately never destroyed: at process exit the CUDA runtime may already
  // be torn down when static destructors run, and the driver frees it all.
  static auto* states = new std::vector<std::shared_ptr<CudaState>>();
  static std::mutex mutex;
  const std::lock_guard<std::mutex> lock(mutex);
  if (states->size() <= static_cast<std::size_t>(device)) states->resize(static_cast<std::size_t>(device) + 1);
  auto& state = (*states)[static_cast<std::size_t>(device)];
  if (!state) state = std::make_shared<CudaState>(device);
  return state;
}

}  // namespace detail

/// The CUDA backend's context: a stream and a cuBLAS handle (shared by its
/// copies) plus this copy's TF32 setting.
///
/// A default-constructed Context is the default context of the calling
/// thread's current device: every default-constructed Context on that device
/// shares one stream, so a model and an optimizer built with the defaults
/// (`Model m; Adam<float, Cuda> opt;`) run in order on one stream. A context
/// from with_own_stream() has a stream of its own; pass that same Context to
/// the model and to its optimizer. Buffers are allocated on the current
/// device; use a Context with the device that is current when it is used.
/// Throws DeviceError when no device is present.
class Cuda::Context {
 public:
  Context() : state_(detail::default_cuda_state()) {}

  /// A context with a new stream and cuBLAS handle on `device` (-1: the
  /// current device), independent of the default context.
  static Context with_own_stream(int device = -1) {
    detail::require_device("vae::Cuda::Context::with_own_stream");
    if (device < 0) detail::cuda_check(cudaGetDevice(&device), "cudaGetDevice");
    return Context(std::make_shared<detail::CudaState>(device));
  }

  /// Whether single-precision GEMMs may use TF32 tensor cores (10-bit
  /// mantissa inputs, about 1e-3 relative error per product): off by default,
  /// so results match the CPU to float rounding. Only this copy of the
  /// Context is affected; set it before handing the Context to a model.
  void set_allow_tf32(bool allow) { tf32_ = allow; }
  /// Whether this copy lets single-precision GEMMs use TF32.
  bool allow_tf32() const { return tf32_; }

  /// The device the stream belongs to.
  int device() const { return state().device(); }
  /// The stream all of this context's work is queued on.
  cudaStream_t stream() const { return state().stream(); }
  /// The cuBLAS handle bound to that stream.
  cublasHandle_t cublas_handle() const { return state().cublas(); }

  /// Blocks until all work queued on this context's stream has finished.
  void synchronize() const { detail::cuda_check(cudaStreamSynchronize(stream()), "cudaStreamSynchronize"); }

  /// The shared state (stream, handle, scratch, mutex).
  detail::CudaState& state() const {
    if (!state_) throw DeviceError("vae::Cuda::Context: this context was moved from");
    return *state_;
  }

 private:
  explicit Context(std::shared_ptr<detail::CudaState> state) : state_(std::move(state)) {}

  std::shared_ptr<detail::CudaState> state_;
  bool tf32_ = false;
};

}  // namespace vae
