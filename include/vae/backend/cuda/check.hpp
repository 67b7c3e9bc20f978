#pragma once
// CUDA runtime and cuBLAS status codes turned into vae::DeviceError, and the
// device count that tests and programs use to decide whether to run on a GPU.

#include <string>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "vae/core/error.hpp"

namespace vae {

namespace detail {

/// Throws DeviceError naming `call`, the status code and its description
/// unless `status` is cudaSuccess.
inline void cuda_check(cudaError_t status, const char* call) {
  if (status == cudaSuccess) return;
  throw DeviceError(std::string("vae::Cuda: ") + call + " failed with " + cudaGetErrorName(status) + " (" +
                    std::to_string(static_cast<int>(status)) + "): " + cudaGetErrorString(status));
}

/// The same for a cuBLAS status.
inline void cuda_check(cublasStatus_t status, const char* call) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw DeviceError(std::string("vae::Cuda: ") + call + " failed with " + cublasGetStatusName(status) + " (" +
                    std::to_string(static_cast<int>(status)) + "): " + cublasGetStatusString(status));
}

/// Reports a failed kernel launch (bad configuration, no device image for
/// this GPU, an earlier fault) as DeviceError naming the kernel.
inline void check_launch(const char* kernel) { cuda_check(cudaGetLastError(), kernel); }

}  // namespace detail

/// Number of CUDA devices this process can use: 0 when there is no GPU, no
/// driver, or a driver too old for this CUDA runtime. Never throws.
inline int cuda_device_count() noexcept {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the error so that later calls do not see it
    return 0;
  }
  return count;
}

}  // namespace vae
