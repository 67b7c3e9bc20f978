#pragma once
// Encoders: x (In) -> hidden layers -> z (Latent), the sizes a
// vae::Layers<In, Hidden..., Latent> and the hidden activation a policy.

#include "vae/backend/cpu.hpp"
#include "vae/models/mlp.hpp"

namespace vae {

/// An encoder that is an MLP: Layers<In, Hidden..., Latent> with the hidden
/// activation Act (the last layer linear), scalar S, backend B.
template <class L, class Act = Relu, class S = float, class B = Cpu>
class EncoderOf : public detail::Mlp<L, Act, S, B> {
 public:
  /// Features of an input sample.
  static constexpr Index input_size = L::input;
  /// Size of the code.
  static constexpr Index latent_size = L::output;
  /// Rows of the forward output: the latent code itself.
  static constexpr Index output_size = L::output;
  /// False: the output is the code itself, not a Gaussian's parameters.
  static constexpr bool is_variational = false;
};

/// One hidden layer, ReLU: In -> Hidden -> Latent.
template <Index In, Index Hidden, Index Latent, class S = float, class B = Cpu>
using Encoder = EncoderOf<Layers<In, Hidden, Latent>, Relu, S, B>;

}  // namespace vae
