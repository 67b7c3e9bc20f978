#pragma once
// A model's architecture as plain data: what checkpoints store and compare,
// and what error messages print ("VAE 784-512-2 relu (float)"). Each network
// is a list of layers (LayerSpec: kind, shapes, activation, settings), open
// to kinds other than dense; the sizes and activation names beside them
// summarise a dense stack.

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace vae {

/// One layer of a network as data: what checkpoints (format 3) and
/// safetensors metadata record and what messages print.
struct LayerSpec {
  /// "dense" for vae's own layers; a stack vae cannot look into is one layer
  /// of kind "custom" unless its type describes its layers (layer_specs()).
  std::string kind = "dense";
  /// @{
  /// What the layer takes and gives: {features} for a vector, {channels,
  /// height, width} for an image.
  std::vector<std::uint64_t> input, output;
  /// @}
  /// The activation after the layer: "relu", ..., "identity" for none,
  /// "custom" when a custom stack's is unknown.
  std::string activation = "identity";
  /// The kind's own settings (a convolution's kernel, stride, padding, ...);
  /// none for dense.
  std::vector<std::int64_t> settings;

  /// Equal when every field is.
  bool operator==(const LayerSpec& o) const {
    return kind == o.kind && input == o.input && output == o.output && activation == o.activation &&
           settings == o.settings;
  }
  /// Unequal when any field differs.
  bool operator!=(const LayerSpec& o) const { return !(*this == o); }

  /// "dense 784->512 relu", "conv2d 1x28x28->32x14x14 relu [3,2,1]".
  std::string describe() const {
    const auto shape = [](const std::vector<std::uint64_t>& d) {
      std::string s;
      for (std::size_t i = 0; i < d.size(); ++i) s += (i ? "x" : "") + std::to_string(d[i]);
      return s.empty() ? std::string("?") : s;
    };
    std::string s = kind + " " + shape(input) + "->" + shape(output) + " " + activation;
    if (!settings.empty()) {
      s += " [";
      for (std::size_t i = 0; i < settings.size(); ++i) s += (i ? "," : "") + std::to_string(settings[i]);
      s += "]";
    }
    return s;
  }
};

namespace detail {

/// The comma-separated parts of `text` ("relu,tanh": relu, tanh; "": one
/// empty part).
inline std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    parts.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return parts;
}

/// The activation names of "relu" or "relu,tanh" for `hidden` hidden layers
/// (one name for all, or one each); empty when the count does not fit.
inline std::vector<std::string> split_activations(const std::string& text, std::size_t hidden) {
  std::vector<std::string> names = split_commas(text);
  if (names.size() == 1) names.assign(hidden, names.front());
  if (names.size() != hidden) names.clear();
  return names;
}

/// The layers of a dense stack of `sizes` (its last layer giving
/// `last_multiplier` x the last size: 2 for a variational encoder's two
/// heads) with the hidden activations `activation` ("relu" or "relu,tanh");
/// a stack recorded as "custom" is one custom layer between its ends.
inline std::vector<LayerSpec> dense_layers(const std::vector<std::uint64_t>& sizes, const std::string& activation,
                                           std::uint64_t last_multiplier) {
  std::vector<LayerSpec> layers;
  if (sizes.size() < 2) return layers;
  if (activation == "custom") {
    LayerSpec l;
    l.kind = "custom";
    l.input = {sizes.front()};
    l.output = {sizes.back() * last_multiplier};
    l.activation = "custom";
    return {l};
  }
  const std::vector<std::string> names = split_activations(activation, sizes.size() - 2);
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    LayerSpec l;
    const bool last = i + 2 == sizes.size();
    l.input = {sizes[i]};
    l.output = {sizes[i + 1] * (last ? last_multiplier : 1)};
    l.activation = last ? "identity" : names.empty() ? activation : names[i];
    layers.push_back(l);
  }
  return layers;
}

}  // namespace detail

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
  /// @{
  /// Every layer of the encoder (its last one gives the latent stage's
  /// input) and of the decoder (its last one gives the output's logits).
  std::vector<LayerSpec> encoder_layers, decoder_layers;
  /// @}
  /// The latent stage: kind "gaussian" (input the means then the log-sigmas,
  /// 2 x latent; output latent) or "deterministic" (the code itself).
  LayerSpec latent;
  /// What turns the decoder's last layer into outputs: "sigmoid" (logits,
  /// outputs in [0, 1]).
  std::string output = "sigmoid";

  /// Equal when every field is: the two models can share parameters.
  bool operator==(const Architecture& o) const {
    return variational == o.variational && scalar_bytes == o.scalar_bytes && encoder == o.encoder &&
           decoder == o.decoder && encoder_activation == o.encoder_activation &&
           decoder_activation == o.decoder_activation && classes == o.classes &&
           encoder_layers == o.encoder_layers && decoder_layers == o.decoder_layers && latent == o.latent &&
           output == o.output;
  }
  /// Unequal when any field differs.
  bool operator!=(const Architecture& o) const { return !(*this == o); }

  /// "VAE 784-512-2 relu (float)" when the decoder mirrors the encoder, else
  /// "VAE encoder 784-512-2 relu, decoder 2-256-784 tanh (float)"; a
  /// conditional VAE's sizes are shown without its classes:
  /// "conditional VAE 784-512-2 relu, 10 classes (float)".
  std::string describe() const {
    if (!dense()) return describe_layers();
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
    return s + scalar_words();
  }

  /// Whether the sizes and activation names say every layer (both networks
  /// are dense stacks with a sigmoid output, or their layers are not
  /// recorded): then describe() shows the short form.
  bool dense() const {
    const auto said = [](const std::vector<LayerSpec>& layers, const std::vector<std::uint64_t>& sizes,
                         const std::string& activation, std::uint64_t last) {
      return layers.empty() || (activation != "custom" && layers == detail::dense_layers(sizes, activation, last));
    };
    return said(encoder_layers, encoder, encoder_activation, variational ? 2 : 1) &&
           said(decoder_layers, decoder, decoder_activation, 1) && output == "sigmoid";
  }

  /// Every layer in words: "VAE encoder [dense 784->512 relu, dense 512->4
  /// identity], gaussian 4->2, decoder [...], sigmoid output (float)".
  std::string describe_layers() const {
    const auto list = [](const std::vector<LayerSpec>& layers) {
      std::string s = "[";
      for (std::size_t i = 0; i < layers.size(); ++i) s += (i ? ", " : "") + layers[i].describe();
      return s + "]";
    };
    std::string s = classes > 0 ? "conditional VAE " : variational ? "VAE " : "autoencoder ";
    s += "encoder " + list(encoder_layers) + ", " + latent.kind + " latent " +
         (latent.output.empty() ? std::string("?") : std::to_string(latent.output.front())) + ", decoder " +
         list(decoder_layers) + ", " + output + " output";
    if (classes > 0) s += ", " + std::to_string(classes) + " classes";
    return s + scalar_words();
  }

  /// " (float)", " (double)" or " (scalar of N bytes)".
  std::string scalar_words() const {
    return scalar_bytes == 4   ? " (float)"
           : scalar_bytes == 8 ? " (double)"
                               : " (scalar of " + std::to_string(scalar_bytes) + " bytes)";
  }

  /// Fills the layer lists, the latent stage and the output from the sizes
  /// and activation names (what a dense model, or a file of format 1 or 2,
  /// says); lists already set are kept.
  Architecture& with_layers() {
    if (encoder_layers.empty()) encoder_layers = detail::dense_layers(encoder, encoder_activation, variational ? 2 : 1);
    if (decoder_layers.empty()) decoder_layers = detail::dense_layers(decoder, decoder_activation, 1);
    if (latent.input.empty() && !encoder.empty()) {
      latent.kind = variational ? "gaussian" : "deterministic";
      latent.input = {encoder.back() * (variational ? 2 : 1)};
      latent.output = {encoder.back()};
      latent.activation = "identity";
    }
    return *this;
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
/// Whether a network type describes its own layers (`layer_specs()`, a
/// static or const member function returning std::vector<LayerSpec>).
template <class N, class = void>
struct has_layer_specs : std::false_type {};
template <class N>
struct has_layer_specs<N, std::void_t<decltype(std::declval<const N&>().layer_specs())>> : std::true_type {};

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
