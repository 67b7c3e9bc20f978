// vae::blas_kernels: which of OpenBLAS's kernel sets count as a fallback from
// what the CPU runs (the re-execution itself: tests/cli/blas_kernels.sh).
#include <doctest/doctest.h>

#include <vae/backend/blas_kernels.hpp>

namespace test_blas_kernels {

using vae::detail::blas_core_is_fallback;
using vae::detail::blas_core_rank;

TEST_CASE("OpenBLAS's Intel kernel sets rank by AVX generation, case aside") {
  CHECK(blas_core_rank("Prescott") == 0);
  CHECK(blas_core_rank("prescott") == 0);
  CHECK(blas_core_rank("Nehalem") == 0);
  CHECK(blas_core_rank("Sandybridge") == 1);
  CHECK(blas_core_rank("Haswell") == 2);
  CHECK(blas_core_rank("SKYLAKEX") == 3);
  CHECK(blas_core_rank("Cooperlake") == 3);
  CHECK(blas_core_rank("Zen") == -1);
  CHECK(blas_core_rank("") == -1);
}

TEST_CASE("a fallback is a pre-AVX or Sandybridge core on a CPU that runs newer kernels") {
  CHECK(blas_core_is_fallback("Prescott", "SkylakeX"));
  CHECK(blas_core_is_fallback("Prescott", "Haswell"));
  CHECK(blas_core_is_fallback("Core2", "Sandybridge"));
  CHECK(blas_core_is_fallback("Sandybridge", "SkylakeX"));
  // OpenBLAS's own choices for a CPU it knows are kept.
  CHECK_FALSE(blas_core_is_fallback("SkylakeX", "SkylakeX"));
  CHECK_FALSE(blas_core_is_fallback("Haswell", "SkylakeX"));
  CHECK_FALSE(blas_core_is_fallback("Zen", "SkylakeX"));
  CHECK_FALSE(blas_core_is_fallback("Sandybridge", "Sandybridge"));
  // A CPU with nothing newer, or no OpenBLAS at all.
  CHECK_FALSE(blas_core_is_fallback("Prescott", ""));
  CHECK_FALSE(blas_core_is_fallback("", "SkylakeX"));
}

TEST_CASE("blas_kernels describes this process") {
  const vae::BlasKernels k = vae::blas_kernels();
  MESSAGE("OpenBLAS core '" << k.core << "', CPU's best '" << k.cpu_best << "', fallback " << k.fallback);
#if defined(VAE_OPENBLAS)
  CHECK_FALSE(k.core.empty());
#else
  CHECK(k.core.empty());
#endif
  CHECK(k.fallback == blas_core_is_fallback(k.core, k.cpu_best));
#if defined(__x86_64__)
  // Every x86-64 CPU this library's builds run on has at least AVX.
  CHECK(blas_core_rank(k.cpu_best) >= 1);
#endif
}

}  // namespace test_blas_kernels
