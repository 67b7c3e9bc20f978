#pragma once
// Layers<Sizes...>: the sizes of a fully connected network, input first,
// as a type. Layers<784, 400, 200, 2> is 784 -> 400 -> 200 -> 2: three dense
// layers, two hidden ones.

#include <array>
#include <cstddef>
#include <utility>

#include "vae/core/types.hpp"

namespace vae {

/// The sizes of a fully connected network as a type, input first:
/// Layers<784, 400, 2> is two dense layers, 784 -> 400 -> 2.
template <Index... Sizes>
struct Layers {
  /// Number of sizes: one more than the number of layers.
  static constexpr std::size_t count = sizeof...(Sizes);
  /// The sizes in order, input first.
  static constexpr std::array<Index, sizeof...(Sizes)> sizes{Sizes...};
  static_assert(sizeof...(Sizes) >= 2, "vae::Layers<Sizes...>: a network needs at least an input and an output size");
  static_assert(((Sizes > 0) && ...), "vae::Layers<Sizes...>: every layer size must be positive");
  /// Features into the first layer.
  static constexpr Index input = sizes.front();
  /// Features out of the last layer.
  static constexpr Index output = sizes.back();
};

namespace detail {

template <class L, class Seq>
struct reversed_impl;
template <Index... Sz, std::size_t... I>
struct reversed_impl<Layers<Sz...>, std::index_sequence<I...>> {
  using type = Layers<Layers<Sz...>::sizes[sizeof...(Sz) - 1 - I]...>;
};

template <class L, class Seq>
struct last_times_impl;
template <Index... Sz, std::size_t... I>
struct last_times_impl<Layers<Sz...>, std::index_sequence<I...>> {
  template <Index Factor>
  using type = Layers<(I + 1 == sizeof...(Sz) ? Factor * Layers<Sz...>::sizes[I] : Layers<Sz...>::sizes[I])...>;
};

template <class L, class Seq>
struct first_plus_impl;
template <Index... Sz, std::size_t... I>
struct first_plus_impl<Layers<Sz...>, std::index_sequence<I...>> {
  template <Index Extra>
  using type = Layers<(I == 0 ? Layers<Sz...>::sizes[I] + Extra : Layers<Sz...>::sizes[I])...>;
};

template <class L>
struct is_layers : std::false_type {};
template <Index... Sz>
struct is_layers<Layers<Sz...>> : std::true_type {};

}  // namespace detail

/// Layers<a, b, c> -> Layers<c, b, a>: the decoder that mirrors an encoder.
template <class L>
using ReversedLayers = typename detail::reversed_impl<L, std::make_index_sequence<L::count>>::type;

/// The same sizes with the last one multiplied by Factor (a variational
/// encoder's last layer outputs mu and log sigma: 2 x latent).
template <class L, Index Factor>
using LastLayerTimes = typename detail::last_times_impl<L, std::make_index_sequence<L::count>>::template type<Factor>;

/// The same sizes with Extra added to the first one (a conditional VAE's
/// encoder and decoder also take the one-hot label: Layers<784, 512, 2> with
/// 10 classes is an encoder of Layers<794, 512, 2>).
template <class L, Index Extra>
using FirstLayerPlus = typename detail::first_plus_impl<L, std::make_index_sequence<L::count>>::template type<Extra>;

}  // namespace vae
