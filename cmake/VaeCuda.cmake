# The CUDA backend (include/vae/backend/cuda.hpp): option VAE_WITH_CUDA and
# the INTERFACE target vae_cuda (alias vae::cuda) that a program compiling
# vae::Cuda code in .cu files links. docs/cuda.md describes the backend.
#
# VAE_WITH_CUDA defaults ON when a CUDA compiler and the CUDA toolkit
# (cuBLAS, cudart) are found, OFF otherwise; no GPU is needed to build.
# CMAKE_CUDA_ARCHITECTURES defaults to 90: SASS for sm_90 (H100, H200) plus
# compute_90 PTX, which newer GPUs JIT-compile at load. One architecture keeps
# the CUDA compile time of a CI build low. For other GPUs pass e.g.
# -DCMAKE_CUDA_ARCHITECTURES="80;90" or "native".

include(CheckLanguage)

set(_vae_cuda_default OFF)
set(_vae_cuda_reason "")
if(VAE_SANITIZE)
  # ASan/UBSan flags are added for every language and nvcc rejects them.
  set(_vae_cuda_reason "VAE_SANITIZE is ON")
elseif(NOT DEFINED VAE_WITH_CUDA OR VAE_WITH_CUDA)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    find_package(CUDAToolkit QUIET)
    if(CUDAToolkit_FOUND)
      set(_vae_cuda_default ON)
    else()
      set(_vae_cuda_reason "the CUDA toolkit (cuBLAS, cudart) was not found")
    endif()
  else()
    set(_vae_cuda_reason "no CUDA compiler was found")
  endif()
endif()
option(VAE_WITH_CUDA "Build the CUDA backend (vae::cuda) and its tests" ${_vae_cuda_default})

if(NOT VAE_WITH_CUDA)
  if(NOT _vae_cuda_reason)
    set(_vae_cuda_reason "VAE_WITH_CUDA is OFF")
  endif()
  message(STATUS "vae: CUDA backend off (${_vae_cuda_reason})")
  return()
endif()

if(VAE_SANITIZE)
  message(FATAL_ERROR "vae: VAE_WITH_CUDA and VAE_SANITIZE cannot both be ON "
                      "(nvcc does not accept -fsanitize); configure one of them OFF")
endif()
if(NOT CMAKE_CUDA_COMPILER)
  message(FATAL_ERROR "vae: VAE_WITH_CUDA is ON but no CUDA compiler was found; "
                      "set CMAKE_CUDA_COMPILER (e.g. /usr/local/cuda/bin/nvcc) or VAE_WITH_CUDA=OFF")
endif()
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES 90)
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
message(STATUS "vae: CUDA backend on (nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES})")

add_library(vae_cuda INTERFACE)
add_library(vae::cuda ALIAS vae_cuda)
set_target_properties(vae_cuda PROPERTIES EXPORT_NAME cuda)
target_compile_features(vae_cuda INTERFACE cuda_std_17)
target_link_libraries(vae_cuda INTERFACE vae::vae CUDA::cublas CUDA::cudart)
target_compile_definitions(vae_cuda INTERFACE
  VAE_WITH_CUDA
  # vae's kernels use no Eigen; without this, nvcc marks every Eigen function
  # __host__ __device__ and warns by the hundred.
  $<$<COMPILE_LANGUAGE:CUDA>:EIGEN_NO_CUDA>)
# The CPU backend inside a .cu file keeps its OpenMP loops (OpenMP::OpenMP_CXX
# passes -fopenmp to C++ sources only).
target_compile_options(vae_cuda INTERFACE "$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-fopenmp>")

# vae's own programs compile C++ with -march=native (VAE_NATIVE_ARCH, top-level
# CMakeLists.txt). Give the host half of their .cu files the same instruction
# set: Eigen's alignment and allocation differ between SSE2 and AVX builds,
# and a program whose .cpp and .cu files disagree may crash when they pass
# Eigen objects to each other. Only vae's own targets see this; vae::cuda does
# not carry it.
if(VAE_NATIVE_ARCH)
  add_compile_options("$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-march=native>")
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    add_compile_options("$<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-mno-avx512f>")  # as for C++ (GCC bug 105593)
  endif()
endif()
