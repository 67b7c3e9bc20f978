#pragma once
// An activation that is not in the library, written as a user would: softsign
// a = t / (1 + |t|), da/dt = 1 / (1 + |t|)^2 = (1 - |a|)^2 from the output.
// tests/test_activations.cpp trains it and checks its gradients on the CPU;
// tests/test_cuda.cu compiles it into device code (a named namespace: the
// type becomes a template argument of the backend's __global__ kernels).

#include <vae/core/elementwise.hpp>

namespace vae::test {

struct SoftSign {
  static constexpr const char* name = "softsign";
  VAE_ELEMENTWISE(class T) static T value(const T& t) {
    using S = vae::el::scalar_t<T>;
    return t / (S(1) + vae::el::abs(t));
  }
  VAE_ELEMENTWISE(class T) static T derivative(const T& a) {
    using S = vae::el::scalar_t<T>;
    return vae::el::square(T(S(1) - vae::el::abs(a)));
  }
};

}  // namespace vae::test
