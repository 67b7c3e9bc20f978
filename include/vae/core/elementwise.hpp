#pragma once
// The vocabulary in which every element-wise formula of the library is
// written once: activations, reconstruction losses, KL forms, the Gaussian
// sampling stage and Adam.
//
// A formula is a function template over T, where T is either the scalar S
// (one element: how a GPU thread runs it, and the CPU for ragged tails) or a
// small fixed-size Eigen array of S (a packet of consecutive elements: how
// the CPU runs it, vectorised by Eigen). Inside a formula, write arithmetic
// with the usual operators and S constants, call the functions of vae::el
// (exp, log1p, tanh, max, select, ...) and store intermediates as `const T`,
// never `auto` (an Eigen expression would refer to temporaries).
//
// VAE_ELEMENTWISE(class T) opens such a template. Under nvcc it makes the
// function __host__ __device__ and tells nvcc that the packet (host-only)
// instantiations are intended.

#include <cmath>
#include <type_traits>

#include <Eigen/Core>

#include "vae/core/types.hpp"

#if defined(__CUDACC__)
#define VAE_ELEMENTWISE(...) _Pragma("nv_exec_check_disable") template <__VA_ARGS__> __host__ __device__
#else
#define VAE_ELEMENTWISE(...) template <__VA_ARGS__>
#endif

namespace vae {

/// Elements of S the CPU processes together (64 bytes: one AVX-512 register,
/// two AVX2 registers, four SSE registers).
template <class S>
inline constexpr int kPacketSize = 64 / static_cast<int>(sizeof(S));

/// A packet of consecutive elements, the T of the CPU's vectorised path.
template <class S>
using Packet = Eigen::Array<S, kPacketSize<S>, 1>;

namespace el {

/// True when T is one element (a floating-point scalar), false for a packet.
template <class T>
inline constexpr bool is_scalar_v = std::is_floating_point_v<T>;

/// Restricts an overload to one element (`enable_scalar<S> = 0`).
template <class T>
using enable_scalar = std::enable_if_t<is_scalar_v<T>, int>;

// --- one element (host and device) -----------------------------------------

/// @{
/// exp, expm1, log, log1p, tanh, sqrt, abs (|x|) and square (x * x) of one
/// element, on the host or a device.
template <class S, enable_scalar<S> = 0>
VAE_HOST_DEVICE inline S exp(S x) { return std::exp(x); }
template <class S, enable_scalar<S> = 0>
VAE_HOST_DEVICE inline S expm1(S x) { return std::expm1(x); }
template <class S, enable_scalar<S> = 0>
VAE_HOST_DEVICE inline S log(S x) { return std::log(x); }
template <class S, enable_scalar<S> = 0>
VAE_HOST_DEVICE inline S log1p(S x) { return std::log1p(x); }
template <class S, enable_scalar<S> = 0>
VAE_HOST_DEVICE inline S tanh(S x) { return std::tanh(x); }
template <class S, enable_scalar<S> = 0>
VAE_HOST_DEVICE inline S sqrt(S x) { return std::sqrt(x); }
template <class S, enable_scalar<S> = 0>
VAE_HOST_DEVICE inline S abs(S x) { return std::fabs(x); }
template <class S, enable_scalar<S> = 0>
VAE_HOST_DEVICE inline S square(S x) { return x * x; }
/// @}
/// @{
/// max(x, c) and min(x, c) for a scalar bound c.
template <class S, enable_scalar<S> = 0>
VAE_HOST_DEVICE inline S max(S x, S c) { return x > c ? x : c; }
template <class S, enable_scalar<S> = 0>
VAE_HOST_DEVICE inline S min(S x, S c) { return x < c ? x : c; }
/// @}
/// c ? a : b.
template <class S, enable_scalar<S> = 0>
VAE_HOST_DEVICE inline S select(bool c, S a, S b) { return c ? a : b; }
/// Sum of the elements (the identity for one element).
template <class S, enable_scalar<S> = 0>
VAE_HOST_DEVICE inline S sum(S x) { return x; }
/// The value c in every element of a T.
template <class T, class S, enable_scalar<T> = 0>
VAE_HOST_DEVICE inline T constant(S c) { return static_cast<T>(c); }
/// T's scalar type.
template <class T, class = void>
struct scalar_of {
  /// A scalar is its own scalar type.
  using type = T;
};
template <class T>
/// An Eigen packet's scalar type is its Scalar.
struct scalar_of<T, std::enable_if_t<!is_scalar_v<T>>> {
  /// The packet's element type.
  using type = typename T::Scalar;
};
/// T's scalar type: T itself for one element, the element type of a packet.
template <class T>
using scalar_t = typename scalar_of<T>::type;

/// @{
/// Reads / writes a T at p (p need not be aligned).
template <class T, class S, enable_scalar<T> = 0>
VAE_HOST_DEVICE inline T load(const S* p) { return *p; }
template <class S, enable_scalar<S> = 0>
VAE_HOST_DEVICE inline void store(S* p, S x) { *p = x; }
/// @}

// --- a packet (host only, vectorised by Eigen) ------------------------------

/// The array type an Eigen array expression D evaluates to.
template <class D>
using Plain = typename D::PlainObject;

/// @{
/// The functions above for a packet (host only), element by element through
/// Eigen's vectorised array functions; sum adds the packet's elements.
template <class D>
inline Plain<D> exp(const Eigen::ArrayBase<D>& x) { return x.exp(); }
template <class D>
inline Plain<D> expm1(const Eigen::ArrayBase<D>& x) { return x.expm1(); }
template <class D>
inline Plain<D> log(const Eigen::ArrayBase<D>& x) { return x.log(); }
template <class D>
inline Plain<D> log1p(const Eigen::ArrayBase<D>& x) { return x.log1p(); }
template <class D>
inline Plain<D> tanh(const Eigen::ArrayBase<D>& x) { return x.tanh(); }
template <class D>
inline Plain<D> sqrt(const Eigen::ArrayBase<D>& x) { return x.sqrt(); }
template <class D>
inline Plain<D> abs(const Eigen::ArrayBase<D>& x) { return x.abs(); }
template <class D>
inline Plain<D> square(const Eigen::ArrayBase<D>& x) { return x.square(); }
template <class D>
inline Plain<D> max(const Eigen::ArrayBase<D>& x, typename D::Scalar c) { return x.max(c); }
template <class D>
inline Plain<D> min(const Eigen::ArrayBase<D>& x, typename D::Scalar c) { return x.min(c); }
template <class D>
inline typename D::Scalar sum(const Eigen::ArrayBase<D>& x) { return x.sum(); }
/// @}
template <class T, class S, std::enable_if_t<!is_scalar_v<T>, int> = 0>
inline T constant(S c) { return T::Constant(static_cast<typename T::Scalar>(c)); }
template <class T, class S, std::enable_if_t<!is_scalar_v<T>, int> = 0>
inline T load(const S* p) { return Eigen::Map<const T>(p); }
/// Writes a packet at p (p need not be aligned).
template <class D, class S>
inline void store(S* p, const Eigen::ArrayBase<D>& x) {
  Eigen::Map<Plain<D>> out(p);
  out = x;
}

namespace detail {
/// A scalar as a packet of `Like`'s shape; an array unchanged.
template <class Like, class X>
inline auto widen(const X& x) {
  if constexpr (is_scalar_v<X>) {
    return Like::Constant(static_cast<typename Like::Scalar>(x));
  } else {
    return Plain<X>(x);
  }
}
/// The packet type of select(c, a, b): a's or b's, or c's shape for two scalars.
template <class C, class A, class B, bool AScalar = is_scalar_v<A>, bool BScalar = is_scalar_v<B>>
struct select_packet {
  using type = Plain<A>;
};
template <class C, class A, class B>
struct select_packet<C, A, B, true, false> {
  using type = Plain<B>;
};
template <class C, class A, class B>
struct select_packet<C, A, B, true, true> {
  using type = Eigen::Array<A, C::RowsAtCompileTime, 1>;
};
}  // namespace detail

/// c ? a : b per element, for a comparison c of packets (`x > S(0)`) and a,
/// b each a packet or a scalar.
template <class C, class A, class B>
inline auto select(const Eigen::ArrayBase<C>& c, const A& a, const B& b) {
  using P = typename detail::select_packet<C, A, B>::type;
  return P(c.derived().select(detail::widen<P>(a), detail::widen<P>(b)));
}

}  // namespace el
}  // namespace vae
