#pragma once
// Networks and models whose sizes and activations are values, chosen at run
// time: the same models as the fixed-size types (an MlpVae<Layers<784, 512,
// 2>> and a DynamicVae built with sizes {784, 512, 2} give bit-identical
// results), for shapes read from a command line or a file.
//
//   vae::DynamicVae<float> vae = vae::make_mlp_vae<float>({784, 400, 200, 2}, vae::ActivationKind::Tanh, seed);
//   auto model = vae::io::load_checkpoint_model<vae::DynamicVae<float>>("run.ckpt");  // serialization/checkpoint.hpp
//
// A run-time model's static sizes (input_size, parameter_count, ...) are
// vae::Dynamic; num_inputs(), num_parameters() and friends give the values
// for every model, fixed or run-time.

#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "vae/models/architecture.hpp"
#include "vae/models/autoencoder.hpp"
#include "vae/models/conditional_variational_autoencoder.hpp"
#include "vae/models/dynamic_mlp.hpp"
#include "vae/models/sequential.hpp"
#include "vae/models/variational_autoencoder.hpp"
#include "vae/serialization/printable.hpp"

namespace vae {

/// An encoder whose sizes {input, hidden..., latent} and hidden activations
/// are values (EncoderOf's run-time twin).
template <class S = float, class B = Cpu>
class DynamicEncoder : public detail::DynamicMlp<S, B> {
 public:
  /// @{
  /// Dynamic: the sizes are values (input_size_value(), ...).
  static constexpr Index input_size = Dynamic, latent_size = Dynamic, output_size = Dynamic;
  /// @}
  /// False: the output is the code itself.
  static constexpr bool is_variational = false;
  /// An empty encoder (a moved-from model's).
  DynamicEncoder() = default;
  /// sizes {input, hidden..., latent}; one activation per hidden layer, or one for all.
  DynamicEncoder(std::vector<Index> sizes, std::vector<ActivationKind> hidden)
      : detail::DynamicMlp<S, B>(std::move(sizes), std::move(hidden), "vae::DynamicEncoder") {}
  /// Features of an input sample.
  Index input_size_value() const { return this->sizes().front(); }
  /// Size of the code.
  Index latent_size_value() const { return this->sizes().back(); }
  /// Rows of the forward output: the code.
  Index output_size_value() const { return this->sizes().back(); }
  /// The sizes a checkpoint records: input first, the latent size last.
  std::vector<Index> user_sizes() const { return this->sizes(); }
};

/// A VAE's encoder whose sizes {input, hidden..., latent} and hidden
/// activations are values; its last layer is 2 latent wide (mu over log
/// sigma), as VariationalEncoderOf's.
template <class S = float, class B = Cpu>
class DynamicVariationalEncoder : public detail::DynamicMlp<S, B> {
 public:
  /// @{
  /// Dynamic: the sizes are values (input_size_value(), ...).
  static constexpr Index input_size = Dynamic, latent_size = Dynamic, output_size = Dynamic;
  /// @}
  /// True: the output is (mu, log sigma) of q(z | x).
  static constexpr bool is_variational = true;
  /// An empty encoder (a moved-from model's).
  DynamicVariationalEncoder() = default;
  /// sizes {input, hidden..., latent}; one activation per hidden layer, or one for all.
  DynamicVariationalEncoder(std::vector<Index> sizes, std::vector<ActivationKind> hidden)
      : detail::DynamicMlp<S, B>(doubled(std::move(sizes)), std::move(hidden), "vae::DynamicVariationalEncoder") {}
  /// Features of an input sample.
  Index input_size_value() const { return this->sizes().front(); }
  /// Size of the code.
  Index latent_size_value() const { return this->sizes().back() / 2; }
  /// Rows of the forward output: mu stacked on log sigma.
  Index output_size_value() const { return this->sizes().back(); }
  /// The sizes a checkpoint records: input first, the latent size last.
  std::vector<Index> user_sizes() const {
    std::vector<Index> s = this->sizes();
    if (!s.empty()) s.back() /= 2;
    return s;
  }

 private:
  static std::vector<Index> doubled(std::vector<Index> sizes) {
    if (!sizes.empty() && sizes.back() > 0) sizes.back() *= 2;
    return sizes;
  }
};

/// A decoder whose sizes {latent, hidden..., features} and hidden
/// activations are values (DecoderOf's run-time twin), ending at the logits.
template <class S = float, class B = Cpu>
class DynamicDecoder : public detail::DynamicMlp<S, B> {
 public:
  /// @{
  /// Dynamic: the sizes are values (latent_size_value(), ...).
  static constexpr Index latent_size = Dynamic, output_size = Dynamic;
  /// @}
  /// An empty decoder (a moved-from model's).
  DynamicDecoder() = default;
  /// sizes {latent, hidden..., features}; one activation per hidden layer, or one for all.
  DynamicDecoder(std::vector<Index> sizes, std::vector<ActivationKind> hidden)
      : detail::DynamicMlp<S, B>(std::move(sizes), std::move(hidden), "vae::DynamicDecoder") {}
  /// Size of the code it takes.
  Index latent_size_value() const { return this->sizes().front(); }
  /// Features it outputs (logits).
  Index output_size_value() const { return this->sizes().back(); }
  /// The sizes a checkpoint records: latent first, features last.
  std::vector<Index> user_sizes() const { return this->sizes(); }
};

/// A VAE whose networks are shaped at run time.
template <class S = float, class B = Cpu>
using DynamicVae = VariationalAutoencoderOf<DynamicVariationalEncoder<S, B>, DynamicDecoder<S, B>>;
/// An autoencoder whose networks are shaped at run time.
template <class S = float, class B = Cpu>
using DynamicAutoencoder = AutoencoderOf<DynamicEncoder<S, B>, DynamicDecoder<S, B>>;
/// A conditional VAE of Classes classes whose networks are shaped at run time.
template <Index Classes, class S = float, class B = Cpu>
using DynamicCvae = ConditionalVariationalAutoencoderOf<DynamicVariationalEncoder<S, B>, DynamicDecoder<S, B>, Classes>;

namespace detail {
template <class T>
std::vector<T> reversed(std::vector<T> v) {
  return {v.rbegin(), v.rend()};
}
/// The decoder's sizes mirroring the encoder's `sizes`, its output rows
/// the loss's outputs per feature (two for HeteroscedasticGaussian).
inline std::vector<Index> decoder_sizes(const std::vector<Index>& sizes, Reconstruction loss) {
  std::vector<Index> d = reversed(sizes);
  if (!d.empty()) d.back() *= outputs_per_feature(loss);
  return d;
}
}  // namespace detail

/// The VAE MlpVae<Layers<sizes...>, act> is, shaped at run time: encoder
/// `sizes` (input, hidden..., latent), the decoder its mirror, `hidden` one
/// activation per hidden layer of the encoder (the decoder's mirrored) or
/// one for all. Weights drawn from Rng(seed) as the fixed types draw them.
template <class S = float, class B = Cpu>
DynamicVae<S, B> make_mlp_vae(const std::vector<Index>& sizes, const std::vector<ActivationKind>& hidden,
                              std::uint64_t seed = 0, Objective<S> objective = {}, typename B::Context ctx = {}) {
  return DynamicVae<S, B>(DynamicVariationalEncoder<S, B>(sizes, hidden),
                          DynamicDecoder<S, B>(detail::decoder_sizes(sizes, objective.reconstruction),
                                               detail::reversed(hidden)),
                          seed, objective, std::move(ctx));
}
/// make_mlp_vae with one activation for every hidden layer.
template <class S = float, class B = Cpu>
DynamicVae<S, B> make_mlp_vae(const std::vector<Index>& sizes, ActivationKind hidden, std::uint64_t seed = 0,
                              Objective<S> objective = {}, typename B::Context ctx = {}) {
  return make_mlp_vae<S, B>(sizes, std::vector<ActivationKind>{hidden}, seed, objective, std::move(ctx));
}

/// The autoencoder MlpAutoencoder<Layers<sizes...>, act> is, shaped at run time.
template <class S = float, class B = Cpu>
DynamicAutoencoder<S, B> make_mlp_autoencoder(const std::vector<Index>& sizes, const std::vector<ActivationKind>& hidden,
                                              std::uint64_t seed = 0, Objective<S> objective = {},
                                              typename B::Context ctx = {}) {
  return DynamicAutoencoder<S, B>(DynamicEncoder<S, B>(sizes, hidden),
                                  DynamicDecoder<S, B>(detail::decoder_sizes(sizes, objective.reconstruction),
                                                       detail::reversed(hidden)),
                                  seed, objective, std::move(ctx));
}
/// make_mlp_autoencoder with one activation for every hidden layer.
template <class S = float, class B = Cpu>
DynamicAutoencoder<S, B> make_mlp_autoencoder(const std::vector<Index>& sizes, ActivationKind hidden,
                                              std::uint64_t seed = 0, Objective<S> objective = {},
                                              typename B::Context ctx = {}) {
  return make_mlp_autoencoder<S, B>(sizes, std::vector<ActivationKind>{hidden}, seed, objective, std::move(ctx));
}

/// The conditional VAE MlpCvae<Layers<sizes...>, Classes, act> is, shaped at
/// run time: `sizes` (features, hidden..., latent) without the classes; the
/// encoder takes features + Classes rows, the decoder latent + Classes.
template <Index Classes, class S = float, class B = Cpu>
DynamicCvae<Classes, S, B> make_mlp_cvae(const std::vector<Index>& sizes, const std::vector<ActivationKind>& hidden,
                                         std::uint64_t seed = 0, Objective<S> objective = {},
                                         typename B::Context ctx = {}) {
  std::vector<Index> enc = sizes, dec = detail::decoder_sizes(sizes, objective.reconstruction);
  if (!enc.empty()) enc.front() += Classes;
  if (!dec.empty()) dec.front() += Classes;
  return DynamicCvae<Classes, S, B>(DynamicVariationalEncoder<S, B>(enc, hidden),
                                    DynamicDecoder<S, B>(dec, detail::reversed(hidden)), seed, objective, std::move(ctx));
}
/// make_mlp_cvae with one activation for every hidden layer.
template <Index Classes, class S = float, class B = Cpu>
DynamicCvae<Classes, S, B> make_mlp_cvae(const std::vector<Index>& sizes, ActivationKind hidden, std::uint64_t seed = 0,
                                         Objective<S> objective = {}, typename B::Context ctx = {}) {
  return make_mlp_cvae<Classes, S, B>(sizes, std::vector<ActivationKind>{hidden}, seed, objective, std::move(ctx));
}

namespace detail {
/// The activations an Architecture names ("relu", or "relu,tanh" per hidden
/// layer); throws FormatError naming `what` for a name vae does not know.
inline std::vector<ActivationKind> activations_named(const std::string& text, const std::string& what) {
  std::vector<ActivationKind> out;
  for (const std::string& name : split_commas(text)) {
    ActivationKind k{};
    if (!activation_from_name(name, k))
      throw FormatError(what + " is " + io::detail::quote_name(text) +
                        ": not one of vae's activations (identity, relu, tanh, softplus, elu, sigmoid), "
                        "so no model can be built for it");
    out.push_back(k);
  }
  return out;
}
inline std::vector<Index> sizes_of(const std::vector<std::uint64_t>& sizes, const std::string& what) {
  std::vector<Index> out;
  for (const auto s : sizes) {
    if (s == 0 || s > std::uint64_t(1) << 31)
      throw FormatError(what + " has a layer size of " + std::to_string(s) + ", expected 1 to 2^31");
    out.push_back(static_cast<Index>(s));
  }
  return out;
}
}  // namespace detail

/// The number of parameters the networks `a` describes hold (a VAE's encoder
/// ends in two heads), or -1 when it would not fit in an Index: what a reader
/// compares with a file's size before it builds the model.
inline Index parameter_count_of(const Architecture& a) {
  const auto count = [](const std::vector<std::uint64_t>& sizes, bool heads) -> long double {
    long double n = 0;
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
      const long double out = static_cast<long double>(sizes[l + 1]) * (heads && l + 2 == sizes.size() ? 2 : 1);
      n += out * static_cast<long double>(sizes[l]) + out;
    }
    return n;
  };
  // Layers of other kinds than dense: counted from the list.
  const auto from_layers = [](const std::vector<LayerSpec>& layers, long double& n) {
    bool other = false;
    for (const LayerSpec& l : layers) other = other || (l.kind != "dense" && l.kind != "custom");
    if (!other) return false;
    for (const LayerSpec& l : layers) {
      const auto dim = [](const std::vector<std::uint64_t>& d, std::size_t i) {
        return i < d.size() ? static_cast<long double>(d[i]) : 0.0L;
      };
      const long double k = l.settings.empty() ? 0.0L : static_cast<long double>(l.settings[0]);
      if (l.kind == "dense") n += dim(l.output, 0) * dim(l.input, 0) + dim(l.output, 0);
      if (l.kind == "conv2d" || l.kind == "conv_transpose2d") n += dim(l.input, 0) * dim(l.output, 0) * k * k + dim(l.output, 0);
    }
    return true;
  };
  long double n = 0, e = 0, d = 0;
  n += from_layers(a.encoder_layers, e) ? e : count(a.encoder, a.variational);
  n += from_layers(a.decoder_layers, d) ? d : count(a.decoder, false);
  return n > static_cast<long double>(std::numeric_limits<Index>::max() / 8) ? Index(-1) : static_cast<Index>(n);
}

/// The run-time model an Architecture describes (what a checkpoint or a
/// safetensors file records): Model is DynamicVae<S, B>,
/// DynamicAutoencoder<S, B> or DynamicCvae<Classes, S, B>. Throws FormatError
/// when the architecture is of another kind, scalar or number of classes, or
/// a network vae cannot build, naming what it holds.
template <class Model>
Model make_model(const Architecture& a, std::uint64_t seed = 0,
                 Objective<typename Model::Scalar> objective = {}, typename Model::Context ctx = {}) {
  using S = typename Model::Scalar;
  using Enc = typename Model::EncoderType;
  using Dec = typename Model::DecoderType;
  // The names come from a file: escaped for the message.
  const std::string d = io::detail::printable_architecture(a).describe(), held = (d[0] == 'a' ? "an " : "a ") + d;
  if (a.classes != std::uint64_t(Model::classes) || a.variational != Model::is_variational)
    throw FormatError("vae::make_model: the architecture is " + held + "; this builds " +
                      (Model::classes > 0 ? "a conditional VAE of " + std::to_string(Model::classes) + " classes"
                       : Model::is_variational ? std::string("a VAE") : std::string("an autoencoder")) +
                      (Model::classes > 0 ? "" : " without classes"));
  if (a.scalar_bytes != sizeof(S))
    throw FormatError("vae::make_model: the architecture is " + held + ", of " +
                      std::to_string(a.scalar_bytes) + "-byte scalars; this model computes in " +
                      (sizeof(S) == 4 ? "float" : "double"));
  constexpr bool sequential = detail::is_sequential_network_v<Enc> && detail::is_sequential_network_v<Dec>;
  if constexpr (!sequential)
    for (const auto* layers : {&a.encoder_layers, &a.decoder_layers})
      for (const auto& l : *layers)
        if (l.kind != "dense")
          throw FormatError("vae::make_model: the architecture is " + held + ", with a layer of kind " +
                            io::detail::quote_name(l.kind) +
                            "; this model's networks are dense (build it as a vae::SequentialVae or "
                            "vae::SequentialAutoencoder, whose layers may be of any kind)");
  if (a.output != "sigmoid")
    throw FormatError("vae::make_model: the architecture is " + held + ", whose output is " +
                      io::detail::quote_name(a.output) + "; vae builds sigmoid outputs");
  if (a.latent.kind != (Model::is_variational ? "gaussian" : "deterministic") && !a.latent.input.empty())
    throw FormatError("vae::make_model: the architecture is " + held + ", whose latent stage is " +
                      io::detail::quote_name(a.latent.kind) + "; this model's is " +
                      (Model::is_variational ? "'gaussian'" : "'deterministic'"));
  Architecture want = a;
  want.with_layers();  // a description without layers: the dense ones its sizes say
  const auto build = [&] {
    if constexpr (sequential) {
      // Any layers: the networks the list says (ShapeError, naming the layer, for one that does not fit).
      try {
        return Model(Enc(want.encoder_layers), Dec(want.decoder_layers), seed, objective, std::move(ctx));
      } catch (const ShapeError& e) {
        throw FormatError("vae::make_model: the architecture is " + held + ", which vae cannot build: " + e.what());
      }
    } else {
      return Model(Enc(detail::sizes_of(a.encoder, "the encoder"),
                       detail::activations_named(a.encoder_activation, "the encoder's activation")),
                   Dec(detail::sizes_of(a.decoder, "the decoder"),
                       detail::activations_named(a.decoder_activation, "the decoder's activation")),
                   seed, objective, std::move(ctx));
    }
  };
  Model model = build();
  // What was built must be what was described, layer by layer.
  const Architecture built = model.architecture();
  if (built != want)
    throw FormatError("vae::make_model: the architecture is " + held + "; its sizes and activations build " +
                      (built.describe()[0] == 'a' ? "an " : "a ") + built.describe_layers() + ", which differs");
  return model;
}

}  // namespace vae
