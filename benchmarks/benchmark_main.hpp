#pragma once
// The main of vae's Google Benchmark programs: BENCHMARK_MAIN's, started on
// the CPU's own OpenBLAS kernels (vae/backend/blas_kernels.hpp), which the
// report's context names (openblas_core).
#include <benchmark/benchmark.h>

#include <vae/backend/blas_kernels.hpp>

namespace vae_bench {

inline int benchmark_main(int argc, char** argv) {
  vae::use_native_blas_kernels(argv);
  const vae::BlasKernels kernels = vae::blas_kernels();
  benchmark::AddCustomContext("openblas_core", kernels.core.empty() ? "none (Eigen's GEMM)" : kernels.core);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace vae_bench
