#pragma once
// Which kernels OpenBLAS runs on this CPU, and a way for a program to get the
// right ones when OpenBLAS does not know the CPU.
//
// OpenBLAS's x86-64 builds (Debian's among them) pick their kernels when the
// library loads, from the CPU's model number. A release older than the CPU
// does not know the model and falls back to its SSE3 kernels ("Prescott"):
// OpenBLAS 0.3.21 does this on Intel's 5th-generation Xeon (family 6, model
// 207), where training then ran 2 to 4 times slower than on the AVX-512
// ones (docs/performance.md). Setting OPENBLAS_CORETYPE in the
// environment before the library loads chooses the kernels instead; by then
// a program's main is too late to set it for its own process, so
// use_native_blas_kernels re-executes the program with it set.
//
// Not included by vae/vae.hpp: it is about the process, not the models.
// Programs call it first thing in main:
//
//   int main(int argc, char** argv) {
//     vae::use_native_blas_kernels(argv);
//     ...

#include <cstdlib>
#include <string>
#include <strings.h>

#if defined(__linux__)
#include <unistd.h>
#endif
#if defined(VAE_OPENBLAS)
#include <cblas.h>
#endif

namespace vae {

/// What the matrix products of the CPU backend run on.
struct BlasKernels {
  /// OpenBLAS's kernel set ("SkylakeX", "Haswell", "Prescott", ...); empty
  /// when the products use Eigen's own GEMM.
  std::string core;
  /// The newest of OpenBLAS's Intel kernel sets this CPU (and its operating
  /// system) can run: "SkylakeX" (AVX-512), "Haswell" (AVX2 and FMA),
  /// "Sandybridge" (AVX), or empty (older, or not x86-64).
  std::string cpu_best;
  /// True when OpenBLAS fell back to kernels older than the CPU can run:
  /// its core is one of its pre-AVX Intel sets, or Sandybridge, while
  /// cpu_best is newer. A core it chose for the CPU by name (AMD's Zen,
  /// Haswell on an AVX-512 CPU) is taken as meant.
  bool fallback = false;
};

namespace detail {

/// The AVX generation of one of OpenBLAS's Intel kernel sets: 0 for the
/// pre-AVX ones, 1 Sandybridge, 2 Haswell, 3 the AVX-512 ones; -1 for a name
/// this table does not rank (AMD's, other architectures', unknown ones).
inline int blas_core_rank(const std::string& core) {
  static const char* const pre_avx[] = {"Katmai",    "Coppermine", "Northwood", "Prescott", "Banias",
                                        "Core2",     "Penryn",     "Dunnington", "Nehalem", "Atom"};
  for (const char* name : pre_avx)
    if (strcasecmp(core.c_str(), name) == 0) return 0;
  if (strcasecmp(core.c_str(), "Sandybridge") == 0) return 1;
  if (strcasecmp(core.c_str(), "Haswell") == 0) return 2;
  for (const char* name : {"SkylakeX", "Cooperlake", "SapphireRapids"})
    if (strcasecmp(core.c_str(), name) == 0) return 3;
  return -1;
}

/// Whether OpenBLAS's core is a fallback from what the CPU runs (see
/// BlasKernels::fallback): only pre-AVX sets and Sandybridge count, so a
/// deliberate choice below the CPU's best (Haswell on AVX-512) is kept.
inline bool blas_core_is_fallback(const std::string& core, const std::string& cpu_best) {
  const int have = blas_core_rank(core);
  return have >= 0 && have <= 1 && blas_core_rank(cpu_best) > have;
}

inline std::string cpu_best_blas_core() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // __builtin_cpu_supports also asks the operating system (XCR0) whether it
  // saves the AVX and AVX-512 registers.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  if (__builtin_cpu_supports("avx")) return "Sandybridge";
#endif
  return "";
}

}  // namespace detail

/// The kernels the CPU backend's matrix products run on in this process.
inline BlasKernels blas_kernels() {
  BlasKernels k;
#if defined(VAE_OPENBLAS)
  if (const char* core = openblas_get_corename()) k.core = core;
#endif
  k.cpu_best = detail::cpu_best_blas_core();
  k.fallback = detail::blas_core_is_fallback(k.core, k.cpu_best);
  return k;
}

/// For a program's main, before it does anything else: when OpenBLAS fell
/// back to kernels older than the CPU (blas_kernels().fallback), re-executes
/// the program (same arguments, same process id) with OPENBLAS_CORETYPE set
/// to the CPU's best kernels. Returns without doing anything when the
/// kernels fit, when OPENBLAS_CORETYPE is already set (the user's choice, and
/// what the re-executed program finds), without OpenBLAS, off Linux, or when
/// the re-execution fails (the program then runs on OpenBLAS's choice).
inline void use_native_blas_kernels(char** argv) {
#if defined(VAE_OPENBLAS) && defined(__linux__)
  if (argv == nullptr || argv[0] == nullptr || std::getenv("OPENBLAS_CORETYPE") != nullptr) return;
  const BlasKernels k = blas_kernels();
  if (!k.fallback) return;
  if (setenv("OPENBLAS_CORETYPE", k.cpu_best.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  unsetenv("OPENBLAS_CORETYPE");  // execv failed: carry on as loaded
#else
  (void)argv;
#endif
}

}  // namespace vae
