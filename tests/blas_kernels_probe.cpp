// Calls vae::use_native_blas_kernels, then prints what the process runs on:
//   core=<OpenBLAS core> cpu_best=<...> fallback=<0|1> coretype=<OPENBLAS_CORETYPE or unset> arg=<argv[1]>
// (tests/cli/blas_kernels.sh).
#include <cstdio>
#include <cstdlib>

#include <vae/backend/blas_kernels.hpp>

int main(int argc, char** argv) {
  vae::use_native_blas_kernels(argv);
  const vae::BlasKernels k = vae::blas_kernels();
  const char* env = std::getenv("OPENBLAS_CORETYPE");
  std::printf("core=%s cpu_best=%s fallback=%d coretype=%s arg=%s\n", k.core.c_str(), k.cpu_best.c_str(),
              int(k.fallback), env ? env : "unset", argc > 1 ? argv[1] : "");
}
