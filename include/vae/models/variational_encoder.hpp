#pragma once
// The blog's variational encoder: a shared hidden layer and two heads, the
// mean mu and log sigma (sigma = exp(log sigma)), each Latent wide.
//
// The heads are stored as one (2 Latent) x Hidden matrix so that both are one
// GEMM: rows [0, Latent) of its output are mu, rows [Latent, 2 Latent) are
// log sigma. Its parameters are the blog's linear2 (mu) stacked on linear3.

#include "vae/backend/cpu.hpp"
#include "vae/models/two_layer.hpp"

namespace vae {

template <Index In, Index Hidden, Index Latent, class S = float, class B = Cpu>
class VariationalEncoder : public detail::TwoLayer<In, Hidden, 2 * Latent, S, B> {
  static_assert(In > 0 && Hidden > 0 && Latent > 0,
                "vae::VariationalEncoder<In, Hidden, Latent>: every size must be positive");

 public:
  static constexpr Index input_size = In;
  static constexpr Index hidden_size = Hidden;
  static constexpr Index latent_size = Latent;
  /// Rows of the forward output: mu stacked on log sigma.
  static constexpr Index output_size = 2 * Latent;
  static constexpr bool is_variational = true;
};

}  // namespace vae
