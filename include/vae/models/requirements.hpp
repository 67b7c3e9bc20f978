#pragma once
// What a model needs of its parts, checked with static_assert so that a type
// that does not fit is named in a sentence, not in a page of template errors.
//
// An encoder type E (EncoderOf, VariationalEncoderOf, or your own) provides
//   E::Scalar, E::Backend, E::Workspace (with reserve(batch)),
//   E::input_size, E::latent_size, E::output_size (rows of its output:
//   latent_size, or 2 latent_size for mean and log sigma),
//   E::parameter_count, E::is_variational,
//   static void initialize(Rng&, Scalar* host)      // parameter_count values
//   void bind(Scalar* params, Scalar* grads)
//   View<S> forward(const Context&, ConstView<S> x, Workspace&) const
//   void backward(const Context&, ConstView<S> x, Workspace&, View<S> dout, View<S> dx) const
// A decoder type D provides the same with latent_size and output_size
// (features) in place of input_size, latent_size and is_variational.

#include <type_traits>
#include <utility>

#include "vae/backend/backend.hpp"
#include "vae/core/rng.hpp"

namespace vae::detail {

template <class N, class = void>
struct is_network : std::false_type {};
template <class N>
struct is_network<
    N, std::void_t<typename N::Scalar, typename N::Backend, typename N::Workspace, decltype(N::parameter_count),
                   decltype(N::output_size), decltype(N::latent_size),
                   decltype(N::initialize(std::declval<Rng&>(), std::declval<typename N::Scalar*>())),
                   decltype(std::declval<N&>().bind(std::declval<typename N::Scalar*>(), std::declval<typename N::Scalar*>())),
                   decltype(std::declval<typename N::Workspace&>().reserve(Index{})),
                   decltype(std::declval<const N&>().forward(std::declval<const typename N::Backend::Context&>(),
                                                             std::declval<ConstView<typename N::Scalar>>(),
                                                             std::declval<typename N::Workspace&>())),
                   decltype(std::declval<const N&>().backward(
                       std::declval<const typename N::Backend::Context&>(), std::declval<ConstView<typename N::Scalar>>(),
                       std::declval<typename N::Workspace&>(), std::declval<View<typename N::Scalar>>(),
                       std::declval<View<typename N::Scalar>>()))>> : std::true_type {};

template <class E, class = void>
struct is_encoder : std::false_type {};
template <class E>
struct is_encoder<E, std::void_t<decltype(E::input_size), decltype(E::is_variational)>> : is_network<E> {};

template <class D>
using is_decoder = is_network<D>;

/// Detects `opt.step(View<S>, ConstView<S>)`, the interface train_step needs.
template <class Opt, class S, class = void>
struct is_optimizer : std::false_type {};
template <class Opt, class S>
struct is_optimizer<Opt, S, std::void_t<decltype(std::declval<Opt&>().step(std::declval<View<S>>(), std::declval<ConstView<S>>()))>>
    : std::true_type {};

}  // namespace vae::detail
