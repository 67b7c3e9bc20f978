#pragma once
// What a model needs of its parts, checked with static_assert so that a type
// that does not fit is named in a sentence, not in a page of template errors.
//
// An encoder type E (EncoderOf, VariationalEncoderOf, or your own) provides
//   E::Scalar, E::Backend, E::input_size, E::latent_size, E::output_size
//   (rows of its output: latent_size, or 2 latent_size for mean and log
//   sigma), E::parameter_count, E::is_variational,
//   E::Workspace with
//     void reserve(Index batch)           // room for batch columns; keeps
//                                         // earlier capacity, may reuse memory
//     View<S> out_view(Index batch)       // the output of the last forward of
//                                         // a batch of `batch` columns:
//                                         // output_size x batch, the view
//                                         // forward returned
//   static void initialize(Rng&, Scalar* host)      // parameter_count values
//       (or a const member function, for a network shaped at run time)
//   void bind(Scalar* params, Scalar* grads)        // parameter_count each
//   View<S> forward(const Context&, ConstView<S> x, Workspace&) const
//       // x: input_size x B (B <= the reserved batch); keeps in the
//       // workspace what backward needs; returns out_view(B)
//   void backward(const Context&, ConstView<S> x, Workspace&, View<S> dout, View<S> dx) const
//       // after forward(x): dout (output_size x B, dL/d output) may be
//       // overwritten; adds nothing, assigns the parameter gradients
//       // (parameter_count values at grads); when dx.data is not null,
//       // assigns dL/dx to dx, which may hold only the FIRST dx.rows rows
//       // of the input (dx.rows <= input rows, leading dimension dx.ld):
//       // a conditional model asks its decoder for dL/dz and not for
//       // dL/d(label), so a decoder must write exactly dx.rows rows;
//       // with dx.data null it computes no input gradient.
// A network shaped at run time (models/dynamic.hpp) has Dynamic for its
// sizes and parameter_count, and gives the values from input_size_value(),
// latent_size_value(), output_size_value() and num_parameters(), and a
// workspace() for its sizes.
// A decoder type D provides the same with latent_size (rows of its input:
// the code, and a conditional model's one-hot label after it) and
// output_size (features) in place of input_size and latent_size, and no
// is_variational. The model keeps dL/dz in a buffer sized for D's whole
// input, so even a decoder that breaks the partial-gradient rule writes
// into the model's own memory, but its gradients are then wrong: the
// gradient checks of tests/test_models.cpp are the way to test a network.
// The names are checked below; the rest is the network's promise.

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
                   decltype(std::declval<const N&>().initialize(std::declval<Rng&>(), std::declval<typename N::Scalar*>())),
                   decltype(std::declval<N&>().bind(std::declval<typename N::Scalar*>(), std::declval<typename N::Scalar*>())),
                   decltype(std::declval<typename N::Workspace&>().reserve(Index{})),
                   std::enable_if_t<std::is_convertible_v<decltype(std::declval<typename N::Workspace&>().out_view(Index{})),
                                                          View<typename N::Scalar>>>,
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
