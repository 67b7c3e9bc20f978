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

#include <stdexcept>
#include <string>
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

/// The activations above as a value, for networks whose layers are chosen at
/// run time: each layer holds one and dispatches once per layer (with_activation),
/// so the per-element code is the same as a compile-time network's.
enum class ActivationKind { Identity, Relu, Tanh, Softplus, Elu, Sigmoid };

/// Calls f(A{}) with the activation policy of `kind` (Relu{}, Tanh{}, ...).
template <class F>
decltype(auto) with_activation(ActivationKind kind, F&& f) {
  switch (kind) {
    case ActivationKind::Identity: return f(Identity{});
    case ActivationKind::Relu: return f(Relu{});
    case ActivationKind::Tanh: return f(Tanh{});
    case ActivationKind::Softplus: return f(Softplus{});
    case ActivationKind::Elu: return f(Elu{});
    case ActivationKind::Sigmoid: return f(Sigmoid{});
  }
  throw std::invalid_argument("vae::with_activation: unknown ActivationKind " + std::to_string(static_cast<int>(kind)));
}

/// The name checkpoints record for `kind` ("relu", ...).
inline const char* activation_name(ActivationKind kind) {
  return with_activation(kind, [](auto a) { return decltype(a)::name; });
}

/// The ActivationKind called `name` ("identity", "relu", "tanh", "softplus",
/// "elu", "sigmoid"); false when there is none.
inline bool activation_from_name(const std::string& name, ActivationKind& kind) {
  for (const ActivationKind k : {ActivationKind::Identity, ActivationKind::Relu, ActivationKind::Tanh,
                                 ActivationKind::Softplus, ActivationKind::Elu, ActivationKind::Sigmoid})
    if (name == activation_name(k)) {
      kind = k;
      return true;
    }
  return false;
}

/// The ActivationKind of an activation policy A (a custom A has none: this
/// does not compile for it).
template <class A>
constexpr ActivationKind activation_kind_of() {
  if constexpr (std::is_same_v<A, Identity>) return ActivationKind::Identity;
  else if constexpr (std::is_same_v<A, Relu>) return ActivationKind::Relu;
  else if constexpr (std::is_same_v<A, Tanh>) return ActivationKind::Tanh;
  else if constexpr (std::is_same_v<A, Softplus>) return ActivationKind::Softplus;
  else if constexpr (std::is_same_v<A, Elu>) return ActivationKind::Elu;
  else {
    static_assert(std::is_same_v<A, Sigmoid>, "vae::activation_kind_of<A>: A is not one of vae's activations");
    return ActivationKind::Sigmoid;
  }
}

}  // namespace vae
