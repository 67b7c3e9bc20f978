#pragma once
// Variational encoders: x (In) -> hidden layers -> (mu, log sigma), each
// Latent wide, for Layers<In, Hidden..., Latent>.
//
// The two heads are one (2 Latent) x Hidden matrix, so both are one GEMM:
// rows [0, Latent) of the output are mu, rows [Latent, 2 Latent) log sigma.
// With one hidden layer these are two nn.Linear heads (mu, log sigma) stacked.

#include "vae/backend/cpu.hpp"
#include "vae/models/mlp.hpp"

namespace vae {

/// A VAE's encoder that is an MLP: Layers<In, Hidden..., Latent> with the hidden
/// activation Act, its last layer 2 Latent wide (mu over log sigma).
template <class L, class Act = Relu, class S = float, class B = Cpu>
class VariationalEncoderOf : public detail::Mlp<LastLayerTimes<L, 2>, Act, S, B> {
 public:
  /// Features of an input sample.
  static constexpr Index input_size = L::input;
  /// Size of the code: the Gaussian's dimension.
  static constexpr Index latent_size = L::output;
  /// Rows of the forward output: mu stacked on log sigma.
  static constexpr Index output_size = 2 * L::output;
  /// True: the output is (mu, log sigma) of q(z | x).
  static constexpr bool is_variational = true;
};

/// One hidden layer, ReLU: In -> Hidden -> (mu, log sigma).
template <Index In, Index Hidden, Index Latent, class S = float, class B = Cpu>
using VariationalEncoder = VariationalEncoderOf<Layers<In, Hidden, Latent>, Relu, S, B>;

}  // namespace vae
