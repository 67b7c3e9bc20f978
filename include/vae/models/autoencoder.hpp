#pragma once
// A deterministic autoencoder: x -> encoder -> z -> decoder -> x_hat, trained
// on the reconstruction loss alone (summed over the batch).

#include <cstdint>

#include "vae/layers/latent.hpp"
#include "vae/models/decoder.hpp"
#include "vae/models/encoder.hpp"
#include "vae/models/model.hpp"

namespace vae {

/// An autoencoder built from an encoder and a decoder type. Mismatched parts
/// (latent or feature sizes, scalar, backend) fail to compile.
template <class Enc, class Dec>
class AutoencoderOf : public detail::Model<Enc, Dec, DeterministicLatent> {
  static_assert(!detail::is_encoder<Enc>::value || !Enc::is_variational,
                "vae::AutoencoderOf<Encoder, Decoder>: the encoder is a VariationalEncoder; "
                "use vae::VariationalAutoencoderOf for it");
  using Base = detail::Model<Enc, Dec, DeterministicLatent>;
  using typename Base::S;

 public:
  using typename Base::Context;
  using Base::compute_gradients;
  using Base::evaluate;
  using Base::train_step;

  /// Weights drawn like PyTorch's nn.Linear default from `seed`.
  explicit AutoencoderOf(std::uint64_t seed = 0, Objective<S> objective = {}, Context ctx = {})
      : Base(seed, objective, std::move(ctx)) {}
  /// The same with the networks given (a run-time network carries its
  /// sizes, models/dynamic.hpp); throws ShapeError when their sizes do not
  /// fit together.
  AutoencoderOf(Enc encoder, Dec decoder, std::uint64_t seed = 0, Objective<S> objective = {}, Context ctx = {})
      : Base(std::move(encoder), std::move(decoder), seed, objective, std::move(ctx)) {}

  /// The same without a generator: an autoencoder draws no noise.
  LossParts<S> evaluate(const MatrixRef<S>& x) const {
    Rng unused;
    return Base::evaluate(x, unused);
  }
  /// compute_gradients(x, rng) without the generator.
  LossParts<S> compute_gradients(const MatrixRef<S>& x) {
    Rng unused;
    return Base::compute_gradients(x, unused);
  }
  /// train_step(x, optimizer, rng) without the generator.
  template <class Opt>
  LossParts<S> train_step(const MatrixRef<S>& x, Opt& optimizer) {
    Rng unused;
    return Base::train_step(x, optimizer, unused);
  }
};

/// One hidden layer each way, ReLU: In -> Hidden -> Latent -> Hidden -> In.
template <Index In, Index Hidden, Index Latent, class S = float, class B = Cpu>
using Autoencoder = AutoencoderOf<Encoder<In, Hidden, Latent, S, B>, Decoder<Latent, Hidden, In, S, B>>;

/// An autoencoder of any depth whose decoder mirrors its encoder:
/// MlpAutoencoder<Layers<784, 400, 200, 2>, Tanh> is 784-400-200-2-200-400-784.
template <class L, class Act = Relu, class S = float, class B = Cpu>
using MlpAutoencoder = AutoencoderOf<EncoderOf<L, Act, S, B>, DecoderOf<ReversedLayers<L>, Act, S, B>>;

}  // namespace vae
