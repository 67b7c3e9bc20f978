#pragma once
// A model's architecture as plain data: what checkpoints store and compare,
// and what error messages print ("VAE 784-512-2 relu (float)").

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace vae {

/// Everything that fixes a model's parameter layout: kind, scalar, layer sizes
/// and activations. Model::architecture() builds it; checkpoints store it.
struct Architecture {
  /// True for a VAE, false for an autoencoder.
  bool variational = false;
  /// sizeof the scalar: 4 (float) or 8 (double).
  std::uint32_t scalar_bytes = 0;
  /// @{
  /// Encoder sizes, input first and latent size last (a variational
  /// encoder's mean and log-sigma heads count once); decoder sizes, latent
  /// first and features last.
  std::vector<std::uint64_t> encoder, decoder;
  /// @}
  /// @{
  /// The hidden activations' names (Relu::name, ...; "custom" for a stack
  /// without one).
  std::string encoder_activation, decoder_activation;
  /// @}
  /// A conditional VAE's number of classes (its encoder's first size and its
  /// decoder's first size each include them); 0 for other models.
  std::uint64_t classes = 0;

  /// Equal when every field is: the two models can share parameters.
  bool operator==(const Architecture& o) const {
    return variational == o.variational && scalar_bytes == o.scalar_bytes && encoder == o.encoder &&
           decoder == o.decoder && encoder_activation == o.encoder_activation &&
           decoder_activation == o.decoder_activation && classes == o.classes;
  }
  /// Unequal when any field differs.
  bool operator!=(const Architecture& o) const { return !(*this == o); }

  /// "VAE 784-512-2 relu (float)" when the decoder mirrors the encoder, else
  /// "VAE encoder 784-512-2 relu, decoder 2-256-784 tanh (float)"; a
  /// conditional VAE's sizes are shown without its classes:
  /// "conditional VAE 784-512-2 relu, 10 classes (float)".
  std::string describe() const {
    const auto join = [](const std::vector<std::uint64_t>& sizes) {
      std::string s;
      for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? "-" : "") + std::to_string(sizes[i]);
      return s;
    };
    std::vector<std::uint64_t> enc = encoder, dec = decoder;
    const bool conditional = classes > 0 && !enc.empty() && !dec.empty() && enc.front() > classes && dec.front() > classes;
    if (conditional) {
      enc.front() -= classes;
      dec.front() -= classes;
    }
    const bool mirrored = std::vector<std::uint64_t>(enc.rbegin(), enc.rend()) == dec &&
                          encoder_activation == decoder_activation;
    std::string s = conditional ? "conditional VAE " : variational ? "VAE " : "autoencoder ";
    s += mirrored ? join(enc) + " " + encoder_activation
                  : "encoder " + join(enc) + " " + encoder_activation + ", decoder " + join(dec) + " " +
                        decoder_activation;
    if (classes > 0) s += ", " + std::to_string(classes) + " classes";
    return s + (scalar_bytes == 4 ? " (float)" : scalar_bytes == 8 ? " (double)" : " (scalar of " +
                                                                         std::to_string(scalar_bytes) + " bytes)");
  }
};

namespace detail {

template <class N, class = void>
struct has_layer_sizes : std::false_type {};
template <class N>
struct has_layer_sizes<N, std::void_t<typename N::Sizes, typename N::Activation>> : std::true_type {};

/// A network's user-facing sizes (a variational encoder's last one halved)
/// and activation name; a custom network without Sizes gives its two ends
/// and "custom".
template <class N>
std::vector<std::uint64_t> layer_sizes_of(bool halve_last) {
  std::vector<std::uint64_t> sizes;
  if constexpr (has_layer_sizes<N>::value) {
    for (const auto s : N::Sizes::sizes) sizes.push_back(static_cast<std::uint64_t>(s));
    if (halve_last) sizes.back() /= 2;
  } else {
    sizes = {0, static_cast<std::uint64_t>(N::output_size / (halve_last ? 2 : 1))};
  }
  return sizes;
}
template <class N>
std::string activation_of() {
  if constexpr (has_layer_sizes<N>::value) {
    return N::Activation::name;
  } else {
    return "custom";
  }
}

}  // namespace detail
}  // namespace vae
