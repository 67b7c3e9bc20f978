#pragma once
// Activation policies: small static structs, each formula written once in
// the vocabulary of core/elementwise.hpp and run by every backend.
//
// An activation type A provides
//   static constexpr const char* name;            // stored in checkpoints
//   VAE_ELEMENTWISE(class T) static T value(const T& t);        // a = f(t)
//   VAE_ELEMENTWISE(class T) static T derivative(const T& a);   // f'(t), from a
// The derivative is taken from the output a = f(t), so a layer keeps only its
// outputs for the backward pass; an activation must therefore be invertible
// wherever its derivative varies (every one below is). is_activation_v checks
// the interface and the layers static_assert it.

#include <type_traits>
#include <utility>

#include "vae/core/elementwise.hpp"

namespace vae {

/// a = t.
struct Identity {
  /// The name checkpoints record.
  static constexpr const char* name = "identity";
  /// The activation a of t, element by element; T is a scalar or an Eigen packet.
  VAE_ELEMENTWISE(class T) static T value(const T& t) { return t; }
  /// da/dt from the output a (not from t).
  VAE_ELEMENTWISE(class T) static T derivative(const T&) { return el::constant<T>(1); }
};

/// a = max(t, 0);  da/dt = [a > 0].
struct Relu {
  /// The name checkpoints record.
  static constexpr const char* name = "relu";
  /// The activation a of t, element by element; T is a scalar or an Eigen packet.
  VAE_ELEMENTWISE(class T) static T value(const T& t) { return el::max(t, el::scalar_t<T>(0)); }
  /// da/dt from the output a (not from t).
  VAE_ELEMENTWISE(class T) static T derivative(const T& a) {
    using S = el::scalar_t<T>;
    return el::select(a > S(0), S(1), S(0));
  }
};

/// a = tanh(t);  da/dt = 1 - a^2.
struct Tanh {
  /// The name checkpoints record.
  static constexpr const char* name = "tanh";
  /// The activation a of t, element by element; T is a scalar or an Eigen packet.
  VAE_ELEMENTWISE(class T) static T value(const T& t) { return el::tanh(t); }
  /// da/dt from the output a (not from t).
  VAE_ELEMENTWISE(class T) static T derivative(const T& a) { return el::scalar_t<T>(1) - a * a; }
};

/// a = log(1 + e^t), computed as max(t, 0) + log1p(e^-|t|) so that it cannot
/// overflow;  da/dt = sigmoid(t) = 1 - e^-a.
struct Softplus {
  /// The name checkpoints record.
  static constexpr const char* name = "softplus";
  /// The activation a of t, element by element; T is a scalar or an Eigen packet.
  VAE_ELEMENTWISE(class T) static T value(const T& t) {
    using S = el::scalar_t<T>;
    return el::max(t, S(0)) + el::log1p(el::exp(-el::abs(t)));
  }
  /// da/dt from the output a (not from t).
  VAE_ELEMENTWISE(class T) static T derivative(const T& a) { return -el::expm1(-a); }
};

/// a = t for t > 0, e^t - 1 otherwise (ELU, alpha = 1);  da/dt = 1 for
/// a > 0, a + 1 otherwise.
struct Elu {
  /// The name checkpoints record.
  static constexpr const char* name = "elu";
  /// The activation a of t, element by element; T is a scalar or an Eigen packet.
  VAE_ELEMENTWISE(class T) static T value(const T& t) {
    using S = el::scalar_t<T>;
    return el::select(t > S(0), t, el::expm1(el::min(t, S(0))));
  }
  /// da/dt from the output a (not from t).
  VAE_ELEMENTWISE(class T) static T derivative(const T& a) {
    using S = el::scalar_t<T>;
    return el::select(a > S(0), S(1), a + S(1));
  }
};

/// a = 1 / (1 + e^-t);  da/dt = a (1 - a).
struct Sigmoid {
  /// The name checkpoints record.
  static constexpr const char* name = "sigmoid";
  /// The activation a of t, element by element; T is a scalar or an Eigen packet.
  VAE_ELEMENTWISE(class T) static T value(const T& t) {
    using S = el::scalar_t<T>;
    return S(1) / (S(1) + el::exp(-t));
  }
  /// da/dt from the output a (not from t).
  VAE_ELEMENTWISE(class T) static T derivative(const T& a) { return a * (el::scalar_t<T>(1) - a); }
};

namespace detail {
template <class A, class = void>
struct is_activation : std::false_type {};
template <class A>
struct is_activation<A, std::void_t<decltype(A::name), decltype(A::template value<float>(std::declval<float>())),
                                    decltype(A::template derivative<float>(std::declval<float>()))>>
    : std::bool_constant<std::is_convertible_v<decltype(A::template value<float>(std::declval<float>())), float> &&
                         std::is_convertible_v<decltype(A::template derivative<float>(std::declval<float>())), float>> {
};
}  // namespace detail

/// Whether A provides name, value<T>(t) and derivative<T>(a) (see above).
template <class A>
inline constexpr bool is_activation_v = detail::is_activation<A>::value;

}  // namespace vae
