#pragma once
// The blog's decoder: z (Latent) -> Linear -> ReLU -> Linear -> sigmoid ->
// x_hat (Out). The forward pass stops at the logits; the sigmoid is applied
// by the loss (fused with its gradient) or by inference.

#include "vae/backend/cpu.hpp"
#include "vae/models/two_layer.hpp"

namespace vae {

template <Index Latent, Index Hidden, Index Out, class S = float, class B = Cpu>
class Decoder : public detail::TwoLayer<Latent, Hidden, Out, S, B> {
  static_assert(Latent > 0 && Hidden > 0 && Out > 0, "vae::Decoder<Latent, Hidden, Out>: every size must be positive");

 public:
  static constexpr Index latent_size = Latent;
  static constexpr Index hidden_size = Hidden;
  static constexpr Index output_size = Out;
};

}  // namespace vae
