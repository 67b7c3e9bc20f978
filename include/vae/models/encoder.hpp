#pragma once
// The blog's encoder: x (In) -> Linear -> ReLU -> Linear -> z (Latent).

#include "vae/backend/cpu.hpp"
#include "vae/models/two_layer.hpp"

namespace vae {

template <Index In, Index Hidden, Index Latent, class S = float, class B = Cpu>
class Encoder : public detail::TwoLayer<In, Hidden, Latent, S, B> {
  static_assert(In > 0 && Hidden > 0 && Latent > 0, "vae::Encoder<In, Hidden, Latent>: every size must be positive");

 public:
  static constexpr Index input_size = In;
  static constexpr Index hidden_size = Hidden;
  static constexpr Index latent_size = Latent;
  /// Rows of the forward output: the latent code itself.
  static constexpr Index output_size = Latent;
  static constexpr bool is_variational = false;
};

}  // namespace vae
