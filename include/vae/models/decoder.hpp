#pragma once
// Decoders: z (Latent) -> hidden layers -> logits (Out), for
// Layers<Latent, Hidden..., Out>. The forward pass stops at the logits; the
// sigmoid x_hat = sigmoid(logits) is applied by the loss (fused with its
// gradient) or by inference.

#include "vae/backend/cpu.hpp"
#include "vae/models/mlp.hpp"

namespace vae {

/// A decoder that is an MLP: Layers<Latent, Hidden..., Out> with the hidden
/// activation Act, ending at the logits (no sigmoid), scalar S, backend B.
template <class L, class Act = Relu, class S = float, class B = Cpu>
class DecoderOf : public detail::Mlp<L, Act, S, B> {
 public:
  /// Size of the code it takes.
  static constexpr Index latent_size = L::input;
  /// Features it outputs (logits).
  static constexpr Index output_size = L::output;
};

/// One hidden layer, ReLU: Latent -> Hidden -> Out.
template <Index Latent, Index Hidden, Index Out, class S = float, class B = Cpu>
using Decoder = DecoderOf<Layers<Latent, Hidden, Out>, Relu, S, B>;

}  // namespace vae
