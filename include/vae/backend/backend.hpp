#pragma once
// The backend policy. A backend is an empty tag type (vae::Cpu, vae::Cuda)
// with a nested Context (handles, streams); the model code calls only
// Ops<Backend, S> and stores only Buffer<Backend, S>, so the same model code
// runs on every backend. No runtime enum, no virtual calls.

#include <type_traits>

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

/// True for the scalar types the library computes in: float and double.
template <class S>
inline constexpr bool is_supported_scalar_v = std::is_same_v<S, float> || std::is_same_v<S, double>;

}  // namespace vae
