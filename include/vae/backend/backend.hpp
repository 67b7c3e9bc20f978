#pragma once
// The backend policy. A backend is an empty tag type (vae::Cpu, vae::Cuda)
// with a nested Context (handles, streams); the model code calls only
// Ops<Backend, S> and stores only Buffer<Backend, S>, so the same model code
// runs on every backend. No runtime enum, no virtual calls.

#include <limits>
#include <string>
#include <type_traits>

#include "vae/core/error.hpp"
#include "vae/core/types.hpp"

namespace vae {

/// The CUDA backend tag. Its Context, Buffer and Ops are defined in
/// backend/cuda.hpp, which needs nvcc and VAE_WITH_CUDA; the tag itself is
/// declared in every build, so that naming vae::Cuda without CUDA stops at the
/// static_asserts below instead of at "Cuda is not a member of vae".
struct Cuda {
  class Context;
};

/// Whether `op(A)` is A or its transpose in Ops::gemm.
enum class Trans { No, Yes };

/// Memory of `size()` scalars owned by a backend. Specialised per backend.
template <class B, class S>
class Buffer {
  static_assert(!std::is_same_v<B, B>,
                "vae::Buffer<Backend, S>: this backend is not available in this build "
                "(for vae::Cuda, configure with VAE_WITH_CUDA=ON and compile with nvcc)");
};

/// The compute primitives of a backend. Specialised per backend; see
/// backend/cpu.hpp for the list every backend provides.
template <class B, class S>
struct Ops {
  static_assert(!std::is_same_v<B, B>,
                "vae::Ops<Backend, S>: this backend is not available in this build "
                "(for vae::Cuda, configure with VAE_WITH_CUDA=ON and compile with nvcc)");
};

/// One call of a model (encode, train_step, ...), held for its duration, for
/// a backend that schedules threads by the calls in flight (backend/cpu.hpp
/// specialises it); nothing for a backend that does not.
template <class B>
class CallScope {
 public:
  CallScope() {}  // user-provided: a scope held only for its lifetime is not an unused variable
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;
};

namespace detail {

/// A size as the `int` that BLAS, cuBLAS and MPI calls take; throws
/// ShapeError naming `what` (and `where`, when given) when it does not fit:
/// never narrows silently.
inline int checked_int(Index value, const char* what, const char* where = "") {
  if (value < 0 || value > std::numeric_limits<int>::max())
    throw ShapeError(std::string(where) + what + " is " + std::to_string(value) + ", outside the [0, " +
                     std::to_string(std::numeric_limits<int>::max()) + "] that a BLAS call takes");
  return static_cast<int>(value);
}

/// Checks every size of C = op(A) op(B) (m x n, depth k, and the leading
/// dimensions) with checked_int before any of them reaches a BLAS call.
/// `where` names the caller ("vae::Cpu gemm: ").
template <class S>
void check_gemm_sizes(ConstView<S> a, ConstView<S> b, View<S> c, Index k, const char* where) {
  checked_int(c.rows, "the rows of C", where);
  checked_int(c.cols, "the columns of C", where);
  checked_int(k, "the inner dimension", where);
  checked_int(a.ld, "the leading dimension of A", where);
  checked_int(b.ld, "the leading dimension of B", where);
  checked_int(c.ld, "the leading dimension of C", where);
}

}  // namespace detail

/// True for the scalar types the library computes in: float and double.
template <class S>
inline constexpr bool is_supported_scalar_v = std::is_same_v<S, float> || std::is_same_v<S, double>;

}  // namespace vae
