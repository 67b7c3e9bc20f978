#pragma once
// Networks of any layers written as types, every shape known to the
// compiler: a layer that does not take what the one before it gives, a
// padding the kernel cannot hold, or a decoder that does not fit its encoder
// fails to compile with a sentence. The networks compute with the same code
// as the run-time ones (models/sequential.hpp), so a StackVae and the
// SequentialVae built from the same layers give bit-identical results.
//
//   namespace n = vae::net;
//   using Enc = vae::Stack<n::Conv2d<1, 28, 28, 32, 3, 2, 1, vae::Relu>,     // -> 32 x 14 x 14
//                          n::Conv2d<32, 14, 14, 64, 3, 2, 1, vae::Relu>,    // -> 64 x 7 x 7
//                          n::Flatten<64, 7, 7>, n::Dense<3136, 16, vae::Relu>, n::Dense<16, 2 * Latent>>;
//   vae::StackVae<Enc, Dec> model(seed);
//
// vae::KerasConvVae<Latent> is the Keras example's network (keras_conv_networks).

#include <cstdint>
#include <string>
#include <vector>

#include "vae/layers/activations.hpp"
#include "vae/models/architecture.hpp"
#include "vae/models/sequential.hpp"

namespace vae {

/// Layers as types, each with its shapes: `in` and `out` ({features, 1, 1}
/// for a vector, {channels, height, width} for an image), `in_dims` and
/// `out_dims` (1 or 3), `parameters`, and `spec()`, its LayerSpec.
namespace net {

namespace detail {
inline LayerSpec spec_of(const char* kind, const Index (&in)[3], int in_dims, const Index (&out)[3], int out_dims,
                         const char* activation, std::vector<std::int64_t> settings) {
  LayerSpec l;
  l.kind = kind;
  for (int i = 0; i < in_dims; ++i) l.input.push_back(std::uint64_t(in[i]));
  for (int i = 0; i < out_dims; ++i) l.output.push_back(std::uint64_t(out[i]));
  l.activation = activation;
  l.settings = std::move(settings);
  return l;
}
}  // namespace detail

/// nn.Linear(In, Out) then Act.
template <Index In, Index Out, class Act = Identity>
struct Dense {
  static_assert(In > 0 && Out > 0, "vae::net::Dense<In, Out>: both sizes must be positive");
  static_assert(is_activation_v<Act>, "vae::net::Dense<In, Out, Act>: Act must be one of vae's activations");
  /// @{
  /// The shapes taken and given ({features, 1, 1} or {channels, height, width}) and their dimensions (1 or 3).
  static constexpr Index in[3] = {In, 1, 1}, out[3] = {Out, 1, 1};
  static constexpr int in_dims = 1, out_dims = 1;
  /// @}
  /// Weights and biases.
  static constexpr Index parameters = Out * In + Out;
  /// The layer as data.
  static LayerSpec spec() { return detail::spec_of("dense", in, 1, out, 1, Act::name, {}); }
};

/// nn.Conv2d(C, OutC, Kernel, Stride, Padding) on C x H x W images, then Act.
template <Index C, Index H, Index W, Index OutC, Index Kernel, Index Stride = 1, Index Padding = 0, class Act = Identity>
struct Conv2d {
  static_assert(C > 0 && H > 0 && W > 0 && OutC > 0, "vae::net::Conv2d: the channels and the image size must be positive");
  static_assert(Kernel > 0 && Stride > 0, "vae::net::Conv2d: the kernel and the stride must be at least 1");
  static_assert(Padding >= 0 && Padding < Kernel, "vae::net::Conv2d: the padding must be at least 0 and less than the kernel");
  static_assert(H + 2 * Padding >= Kernel && W + 2 * Padding >= Kernel,
                "vae::net::Conv2d: the kernel is larger than the padded image");
  static_assert(is_activation_v<Act>, "vae::net::Conv2d: Act must be one of vae's activations");
  /// @{
  /// The shapes taken and given ({features, 1, 1} or {channels, height, width}) and their dimensions (1 or 3).
  static constexpr Index in[3] = {C, H, W},
                         out[3] = {OutC, (H + 2 * Padding - Kernel) / Stride + 1, (W + 2 * Padding - Kernel) / Stride + 1};
  static constexpr int in_dims = 3, out_dims = 3;
  /// @}
  /// Weights and biases.
  static constexpr Index parameters = OutC * C * Kernel * Kernel + OutC;
  /// The layer as data.
  static LayerSpec spec() { return detail::spec_of("conv2d", in, 3, out, 3, Act::name, {Kernel, Stride, Padding}); }
};

/// nn.ConvTranspose2d(C, OutC, Kernel, Stride, Padding, OutputPadding) on
/// C x H x W images, then Act: (H - 1) Stride - 2 Padding + Kernel + OutputPadding high.
template <Index C, Index H, Index W, Index OutC, Index Kernel, Index Stride = 1, Index Padding = 0,
          Index OutputPadding = 0, class Act = Identity>
struct ConvTranspose2d {
  static_assert(C > 0 && H > 0 && W > 0 && OutC > 0,
                "vae::net::ConvTranspose2d: the channels and the image size must be positive");
  static_assert(Kernel > 0 && Stride > 0, "vae::net::ConvTranspose2d: the kernel and the stride must be at least 1");
  static_assert(Padding >= 0 && Padding < Kernel,
                "vae::net::ConvTranspose2d: the padding must be at least 0 and less than the kernel");
  static_assert(OutputPadding >= 0 && OutputPadding < Stride,
                "vae::net::ConvTranspose2d: the output padding must be at least 0 and less than the stride");
  static_assert((H - 1) * Stride - 2 * Padding + Kernel + OutputPadding > 0 &&
                    (W - 1) * Stride - 2 * Padding + Kernel + OutputPadding > 0,
                "vae::net::ConvTranspose2d: the padding leaves no output");
  static_assert(is_activation_v<Act>, "vae::net::ConvTranspose2d: Act must be one of vae's activations");
  /// @{
  /// The shapes taken and given ({features, 1, 1} or {channels, height, width}) and their dimensions (1 or 3).
  static constexpr Index in[3] = {C, H, W}, out[3] = {OutC, (H - 1) * Stride - 2 * Padding + Kernel + OutputPadding,
                                                      (W - 1) * Stride - 2 * Padding + Kernel + OutputPadding};
  static constexpr int in_dims = 3, out_dims = 3;
  /// @}
  /// Weights and biases.
  static constexpr Index parameters = C * OutC * Kernel * Kernel + OutC;
  /// The layer as data.
  static LayerSpec spec() {
    return detail::spec_of("conv_transpose2d", in, 3, out, 3, Act::name, {Kernel, Stride, Padding, OutputPadding});
  }
};

/// nn.Flatten(): C x H x W images to C H W features.
template <Index C, Index H, Index W>
struct Flatten {
  static_assert(C > 0 && H > 0 && W > 0, "vae::net::Flatten: the image size must be positive");
  /// @{
  /// The shapes taken and given ({features, 1, 1} or {channels, height, width}) and their dimensions (1 or 3).
  static constexpr Index in[3] = {C, H, W}, out[3] = {C * H * W, 1, 1};
  static constexpr int in_dims = 3, out_dims = 1;
  /// @}
  /// Weights and biases.
  static constexpr Index parameters = 0;
  /// The layer as data.
  static LayerSpec spec() { return detail::spec_of("flatten", in, 3, out, 1, Identity::name, {}); }
};

/// nn.Unflatten(1, (C, H, W)): C H W features to C x H x W images.
template <Index C, Index H, Index W>
struct Reshape {
  static_assert(C > 0 && H > 0 && W > 0, "vae::net::Reshape: the image size must be positive");
  /// @{
  /// The shapes taken and given ({features, 1, 1} or {channels, height, width}) and their dimensions (1 or 3).
  static constexpr Index in[3] = {C * H * W, 1, 1}, out[3] = {C, H, W};
  static constexpr int in_dims = 1, out_dims = 3;
  /// @}
  /// Weights and biases.
  static constexpr Index parameters = 0;
  /// The layer as data.
  static LayerSpec spec() { return detail::spec_of("reshape", in, 1, out, 3, Identity::name, {}); }
};

/// A conditional model's label as Classes constant planes beside the C x H
/// x W image (NetworkBuilder::label_planes): C H W features then Classes
/// label rows to (C + Classes) x H x W images. A network's first layer.
template <Index C, Index H, Index W, Index Classes>
struct LabelPlanes {
  static_assert(C > 0 && H > 0 && W > 0, "vae::net::LabelPlanes: the image size must be positive");
  static_assert(Classes > 0, "vae::net::LabelPlanes: the label needs at least one class");
  /// @{
  /// The shapes taken and given ({features, 1, 1} or {channels, height, width}) and their dimensions (1 or 3).
  static constexpr Index in[3] = {C * H * W + Classes, 1, 1}, out[3] = {C + Classes, H, W};
  static constexpr int in_dims = 1, out_dims = 3;
  /// @}
  /// Weights and biases.
  static constexpr Index parameters = 0;
  /// The layer as data.
  static LayerSpec spec() { return detail::spec_of("label_planes", in, 1, out, 3, Identity::name, {Classes}); }
};

/// True when layer B takes what layer A gives.
template <class A, class B>
inline constexpr bool chains_v = A::out_dims == B::in_dims && A::out[0] == B::in[0] && A::out[1] == B::in[1] &&
                                 A::out[2] == B::in[2];

}  // namespace net

/// The layers of a network as a type list (net::Dense, net::Conv2d, ...).
template <class... Layers>
struct Stack {
  static_assert(sizeof...(Layers) > 0, "vae::Stack: a network needs at least one layer");

 private:
  template <class First, class... Rest>
  struct Ends {
    using first = First;
    using last = typename Ends<Rest...>::last;
    static constexpr bool chained = (sizeof...(Rest) == 0 || net::chains_v<First, typename Ends<Rest...>::first>) &&
                                    Ends<Rest...>::chained;
  };
  template <class Last>
  struct Ends<Last> {
    using first = Last;
    using last = Last;
    static constexpr bool chained = true;
  };

 public:
  static_assert(Ends<Layers...>::chained,
                "vae::Stack: a layer does not take the shape the layer before it gives (compare each layer's "
                "input with the previous one's output: a dense layer after an image needs net::Flatten, an "
                "image layer after a vector net::Reshape)");
  /// @{
  /// Elements of an input and of an output sample.
  static constexpr Index inputs = Ends<Layers...>::first::in[0] * Ends<Layers...>::first::in[1] * Ends<Layers...>::first::in[2];
  static constexpr Index outputs = Ends<Layers...>::last::out[0] * Ends<Layers...>::last::out[1] * Ends<Layers...>::last::out[2];
  /// @}
  /// Parameters of all layers.
  static constexpr Index parameters = (Layers::parameters + ... + 0);
  /// The layers as data.
  static std::vector<LayerSpec> specs() { return {Layers::spec()...}; }
};

/// A VAE's encoder of the layers of Stack (its last layer gives 2 x latent).
template <class Layers, class S = float, class B = Cpu>
class StackVariationalEncoder : public SequentialVariationalEncoder<S, B> {
  static_assert(Layers::outputs % 2 == 0,
                "vae::StackVariationalEncoder: the last layer must give an even count (the means over the log-sigmas)");

 public:
  /// @{
  /// The layers' sizes, known to the compiler (the model sees them as values).
  static constexpr Index inputs = Layers::inputs, latent = Layers::outputs / 2, parameters = Layers::parameters;
  /// @}
  /// The network of Stack's layers.
  StackVariationalEncoder() : SequentialVariationalEncoder<S, B>(Layers::specs()) {}
};

/// An autoencoder's encoder of the layers of Stack.
template <class Layers, class S = float, class B = Cpu>
class StackEncoder : public SequentialEncoder<S, B> {
 public:
  /// @{
  /// The layers' sizes, known to the compiler.
  static constexpr Index inputs = Layers::inputs, latent = Layers::outputs, parameters = Layers::parameters;
  /// @}
  /// The network of Stack's layers.
  StackEncoder() : SequentialEncoder<S, B>(Layers::specs()) {}
};

/// A decoder of the layers of Stack.
template <class Layers, class S = float, class B = Cpu>
class StackDecoder : public SequentialDecoder<S, B> {
 public:
  /// @{
  /// The layers' sizes, known to the compiler.
  static constexpr Index latent = Layers::inputs, outputs = Layers::outputs, parameters = Layers::parameters;
  /// @}
  /// The network of Stack's layers.
  StackDecoder() : SequentialDecoder<S, B>(Layers::specs()) {}
};

/// A VAE of two Stacks, their fit checked by the compiler; the same model
/// as a SequentialVae of the same layers.
template <class EncoderLayers, class DecoderLayers, class S = float, class B = Cpu>
class StackVae : public VariationalAutoencoderOf<StackVariationalEncoder<EncoderLayers, S, B>, StackDecoder<DecoderLayers, S, B>> {
  static_assert(EncoderLayers::outputs / 2 == DecoderLayers::inputs,
                "vae::StackVae: the decoder's first layer must take the encoder's latent size (half its last "
                "layer's outputs)");
  static_assert(EncoderLayers::inputs == DecoderLayers::outputs,
                "vae::StackVae: the decoder must output as many features as the encoder takes");
  using Base = VariationalAutoencoderOf<StackVariationalEncoder<EncoderLayers, S, B>, StackDecoder<DecoderLayers, S, B>>;

 public:
  using Base::Base;
};

/// An autoencoder of two Stacks, their fit checked by the compiler.
template <class EncoderLayers, class DecoderLayers, class S = float, class B = Cpu>
class StackAutoencoder : public AutoencoderOf<StackEncoder<EncoderLayers, S, B>, StackDecoder<DecoderLayers, S, B>> {
  static_assert(EncoderLayers::outputs == DecoderLayers::inputs,
                "vae::StackAutoencoder: the decoder's first layer must take the encoder's code");
  static_assert(EncoderLayers::inputs == DecoderLayers::outputs,
                "vae::StackAutoencoder: the decoder must output as many features as the encoder takes");
  using Base = AutoencoderOf<StackEncoder<EncoderLayers, S, B>, StackDecoder<DecoderLayers, S, B>>;

 public:
  using Base::Base;
};

/// A conditional VAE of two Stacks, their fit checked by the compiler: the
/// encoder takes the features then the Classes label rows (a convolutional
/// one starts with net::LabelPlanes), the decoder the code then the label's
/// rows. The same model as a SequentialCvae of the same layers.
template <class EncoderLayers, class DecoderLayers, Index Classes, class S = float, class B = Cpu>
class StackCvae : public ConditionalVariationalAutoencoderOf<StackVariationalEncoder<EncoderLayers, S, B>,
                                                             StackDecoder<DecoderLayers, S, B>, Classes> {
  static_assert(EncoderLayers::outputs / 2 + Classes == DecoderLayers::inputs,
                "vae::StackCvae: the decoder's first layer must take the encoder's latent size (half its last "
                "layer's outputs) plus the classes");
  static_assert(EncoderLayers::inputs == DecoderLayers::outputs + Classes,
                "vae::StackCvae: the encoder must take the decoder's features plus the classes");
  using Base = ConditionalVariationalAutoencoderOf<StackVariationalEncoder<EncoderLayers, S, B>,
                                                   StackDecoder<DecoderLayers, S, B>, Classes>;

 public:
  using Base::Base;
};

/// The Keras example's encoder (keras_conv_networks) as a Stack.
template <Index Latent>
using KerasConvEncoder =
    Stack<net::Conv2d<1, 28, 28, 32, 3, 2, 1, Relu>, net::Conv2d<32, 14, 14, 64, 3, 2, 1, Relu>, net::Flatten<64, 7, 7>,
          net::Dense<3136, 16, Relu>, net::Dense<16, 2 * Latent>>;
/// The Keras example's decoder (keras_conv_networks) as a Stack.
template <Index Latent>
using KerasConvDecoder =
    Stack<net::Dense<Latent, 3136, Relu>, net::Reshape<64, 7, 7>, net::ConvTranspose2d<64, 7, 7, 64, 3, 2, 1, 1, Relu>,
          net::ConvTranspose2d<64, 14, 14, 32, 3, 2, 1, 1, Relu>, net::ConvTranspose2d<32, 28, 28, 1, 3, 1, 1, 0>>;
/// The Keras example's convolutional VAE with its shapes checked by the
/// compiler: make_conv_vae(Latent) as a type.
template <Index Latent, class S = float, class B = Cpu>
using KerasConvVae = StackVae<KerasConvEncoder<Latent>, KerasConvDecoder<Latent>, S, B>;
/// The conditional VAE of the Keras example's networks as a type:
/// make_conv_cvae<Classes>(Latent).
template <Index Latent, Index Classes, class S = float, class B = Cpu>
using KerasConvCvae = StackCvae<
    Stack<net::LabelPlanes<1, 28, 28, Classes>, net::Conv2d<1 + Classes, 28, 28, 32, 3, 2, 1, Relu>,
          net::Conv2d<32, 14, 14, 64, 3, 2, 1, Relu>, net::Flatten<64, 7, 7>, net::Dense<3136, 16, Relu>,
          net::Dense<16, 2 * Latent>>,
    Stack<net::Dense<Latent + Classes, 3136, Relu>, net::Reshape<64, 7, 7>,
          net::ConvTranspose2d<64, 7, 7, 64, 3, 2, 1, 1, Relu>, net::ConvTranspose2d<64, 14, 14, 32, 3, 2, 1, 1, Relu>,
          net::ConvTranspose2d<32, 28, 28, 1, 3, 1, 1, 0>>,
    Classes, S, B>;

}  // namespace vae
