#pragma once
// Networks given as a list of layers, as PyTorch's nn.Sequential gives them:
// dense layers, 2-D convolutions and transposed convolutions
// (layers/conv.hpp), and flatten and reshape between images and vectors,
// each layer followed by its own activation. The list is data (LayerSpec,
// what checkpoints and safetensors metadata store), so the network a file
// describes is built from it; NetworkBuilder writes one in code:
//
//   auto enc = vae::NetworkBuilder({1, 28, 28})
//                  .conv2d(32, 3, 2, 1, vae::ActivationKind::Relu)   // 32 x 14 x 14
//                  .conv2d(64, 3, 2, 1, vae::ActivationKind::Relu)   // 64 x 7 x 7
//                  .flatten().dense(16, vae::ActivationKind::Relu).dense(2 * latent);
//   vae::SequentialVae<float> model(vae::SequentialVariationalEncoder<float>(enc.layers()),
//                                   vae::SequentialDecoder<float>(dec.layers()), seed);   // see make_conv_vae
//
// A network of dense layers alone computes bit for bit what DynamicMlp (and
// so Mlp) computes: the same calls in the same order over the same layout.

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "vae/backend/backend.hpp"
#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"
#include "vae/layers/activations.hpp"
#include "vae/layers/conv.hpp"
#include "vae/layers/dense.hpp"
#include "vae/models/architecture.hpp"
#include "vae/models/autoencoder.hpp"
#include "vae/models/conditional_variational_autoencoder.hpp"
#include "vae/models/variational_autoencoder.hpp"

namespace vae {

/// Writes a network's layers one after the other, each from the shape the
/// last one gives: {features} for a vector, {channels, height, width} for an
/// image. Throws ShapeError, naming the layer, for a layer that does not fit
/// the shape before it.
class NetworkBuilder {
 public:
  /// A network taking `input`: {features} or {channels, height, width}.
  explicit NetworkBuilder(std::vector<std::uint64_t> input) : shape_(std::move(input)) {
    if (!(shape_.size() == 1 || shape_.size() == 3) || size(shape_) == 0)
      fail("the input shape " + text(shape_) + " is neither {features} nor {channels, height, width} of positive sizes");
  }

  /// A dense layer to `outputs` features (after a flatten when the shape is an image).
  NetworkBuilder& dense(Index outputs, ActivationKind act = ActivationKind::Identity) {
    if (shape_.size() != 1) fail("dense to " + std::to_string(outputs) + " after an image " + text(shape_) + ": flatten() first");
    if (outputs < 1) fail("dense to " + std::to_string(outputs) + " features: expected at least 1");
    return add("dense", {std::uint64_t(outputs)}, act, {});
  }
  /// nn.Conv2d(channels, out_channels, kernel, stride, padding).
  NetworkBuilder& conv2d(Index out_channels, Index kernel, Index stride, Index padding,
                         ActivationKind act = ActivationKind::Identity) {
    const auto [c, h, w] = image("conv2d");
    check_conv_shape(where("conv2d"), c, h, w, kernel, stride, padding);
    if (out_channels < 1) fail("conv2d to " + std::to_string(out_channels) + " channels: expected at least 1");
    const ConvGeometry g = ConvGeometry::of(c, h, w, kernel, stride, padding);
    return add("conv2d", {std::uint64_t(out_channels), std::uint64_t(g.grid_height), std::uint64_t(g.grid_width)}, act,
               {kernel, stride, padding});
  }
  /// nn.ConvTranspose2d(channels, out_channels, kernel, stride, padding,
  /// output_padding): height (h - 1) stride - 2 padding + kernel + output_padding.
  NetworkBuilder& conv_transpose2d(Index out_channels, Index kernel, Index stride, Index padding, Index output_padding,
                                   ActivationKind act = ActivationKind::Identity) {
    const auto [c, h, w] = image("conv_transpose2d");
    (void)c;
    const Index oh = (h - 1) * stride - 2 * padding + kernel + output_padding;
    const Index ow = (w - 1) * stride - 2 * padding + kernel + output_padding;
    if (output_padding < 0 || output_padding >= std::max<Index>(stride, 1))
      fail("conv_transpose2d with output padding " + std::to_string(output_padding) + " and stride " +
           std::to_string(stride) + ": the output padding must be at least 0 and less than the stride");
    if (out_channels < 1) fail("conv_transpose2d to " + std::to_string(out_channels) + " channels: expected at least 1");
    check_conv_shape(where("conv_transpose2d"), out_channels, std::max<Index>(oh, 1), std::max<Index>(ow, 1), kernel,
                     stride, padding);
    if (oh < 1 || ow < 1) fail("conv_transpose2d of " + text(shape_) + " gives " + std::to_string(oh) + "x" + std::to_string(ow));
    return add("conv_transpose2d", {std::uint64_t(out_channels), std::uint64_t(oh), std::uint64_t(ow)}, act,
               {kernel, stride, padding, output_padding});
  }
  /// nn.Flatten(): an image to its channels x height x width features.
  NetworkBuilder& flatten() {
    image("flatten");
    return add("flatten", {size(shape_)}, ActivationKind::Identity, {});
  }
  /// A conditional model's label as constant planes beside the image's
  /// channels (PyTorch's torch.cat of the image and the one-hot label
  /// expanded to its height and width): the network then takes the image's
  /// c h w features followed by the `classes` label rows, as a conditional
  /// VAE's encoder does, and gives a (c + classes) x h x w image. The first
  /// layer only, of an image.
  NetworkBuilder& label_planes(Index classes) {
    const auto [c, h, w] = image("label_planes");
    if (!layers_.empty())
      fail("label_planes after another layer: it must be the first, taking the input's features and label rows");
    if (classes < 1) fail("label_planes of " + std::to_string(classes) + " classes: expected at least 1");
    shape_ = {std::uint64_t(c * h * w + classes)};
    return add("label_planes", {std::uint64_t(c + classes), std::uint64_t(h), std::uint64_t(w)},
               ActivationKind::Identity, {classes});
  }
  /// nn.Unflatten(1, (channels, height, width)): features to an image.
  NetworkBuilder& reshape(Index channels, Index height, Index width) {
    if (shape_.size() != 1 || std::uint64_t(channels * height * width) != shape_[0] || channels < 1 || height < 1 || width < 1)
      fail("reshape " + text(shape_) + " to " + std::to_string(channels) + "x" + std::to_string(height) + "x" +
           std::to_string(width) + ": expected features of the same count");
    return add("reshape", {std::uint64_t(channels), std::uint64_t(height), std::uint64_t(width)}, ActivationKind::Identity, {});
  }

  /// The layers so far.
  const std::vector<LayerSpec>& layers() const { return layers_; }
  /// The shape the last layer gives.
  const std::vector<std::uint64_t>& shape() const { return shape_; }

  /// "1x28x28".
  static std::string text(const std::vector<std::uint64_t>& shape) {
    std::string s;
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "x" : "") + std::to_string(shape[i]);
    return s.empty() ? "{}" : s;
  }
  /// The elements of a shape.
  static std::uint64_t size(const std::vector<std::uint64_t>& shape) {
    std::uint64_t n = shape.empty() ? 0 : 1;
    for (const auto d : shape) n *= d;
    return n;
  }

 private:
  std::string where(const std::string& kind) const {
    return "vae::NetworkBuilder: layer " + std::to_string(layers_.size()) + " (" + kind + ")";
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw ShapeError("vae::NetworkBuilder: layer " + std::to_string(layers_.size()) + ": " + what);
  }
  struct Image {
    Index c, h, w;
  };
  Image image(const std::string& kind) const {
    if (shape_.size() != 3) fail(kind + " of " + text(shape_) + ": expected an image {channels, height, width} (reshape first)");
    return {Index(shape_[0]), Index(shape_[1]), Index(shape_[2])};
  }
  NetworkBuilder& add(const std::string& kind, std::vector<std::uint64_t> out, ActivationKind act,
                      std::vector<std::int64_t> settings) {
    LayerSpec l;
    l.kind = kind;
    l.input = shape_;
    l.output = out;
    l.activation = activation_name(act);
    l.settings = std::move(settings);
    layers_.push_back(std::move(l));
    shape_ = std::move(out);
    return *this;
  }

  std::vector<std::uint64_t> shape_;
  std::vector<LayerSpec> layers_;
};

namespace detail {

/// One layer of a SequentialNet, parsed from its LayerSpec.
struct SequentialLayer {
  enum class Kind { Dense, Conv, ConvTranspose, Flatten, Reshape, LabelPlanes };
  Kind kind = Kind::Dense;
  /// @{
  /// Input and output sizes (channels, height, width; a vector is c x 1 x 1).
  Index in_c = 0, in_h = 1, in_w = 1, out_c = 0, out_h = 1, out_w = 1;
  /// @}
  /// The larger image's im2col geometry (the input's for a convolution, the
  /// output's for a transposed one).
  ConvGeometry geometry;
  ActivationKind act = ActivationKind::Identity;
  /// @{
  /// The layer's first parameter in the network's buffers, and its count.
  Index offset = 0, count = 0;
  /// @}
  /// A label_planes layer's classes (its input's last rows).
  Index classes = 0;
  Index in_size() const { return in_c * in_h * in_w; }
  Index out_size() const { return out_c * out_h * out_w; }
  bool computes() const { return kind != Kind::Flatten && kind != Kind::Reshape; }
  /// The weights before the bias.
  Index weights() const { return count - out_c; }
};

/// Parses and checks `spec` (layer `index` of `who`'s list) as a layer
/// taking `input`; throws ShapeError naming the layer otherwise.
inline SequentialLayer parse_layer(const LayerSpec& spec, std::size_t index, const std::string& who) {
  const std::string where = who + ": layer " + std::to_string(index) + " (" + spec.describe() + ")";
  const auto fail = [&](const std::string& what) { throw ShapeError(where + ": " + what); };
  for (const auto d : spec.input)
    if (d == 0 || d > (std::uint64_t(1) << 31)) fail("a size of " + std::to_string(d) + ", expected 1 to 2^31");
  for (const auto d : spec.output)
    if (d == 0 || d > (std::uint64_t(1) << 31)) fail("a size of " + std::to_string(d) + ", expected 1 to 2^31");
  SequentialLayer l;
  if (!activation_from_name(spec.activation, l.act))
    fail("activation '" + spec.activation + "' is not one of identity, relu, tanh, softplus, elu, sigmoid");
  const auto want_settings = [&](std::size_t n) {
    if (spec.settings.size() != n)
      fail(std::to_string(spec.settings.size()) + " settings, expected " + std::to_string(n));
  };
  const auto want_shape = [&](const std::vector<std::uint64_t>& shape, std::size_t dims, const char* which) {
    if (shape.size() != dims)
      fail(std::string(which) + " " + NetworkBuilder::text(shape) + ", expected " +
           (dims == 1 ? "{features}" : "{channels, height, width}"));
  };
  const auto image = [](const std::vector<std::uint64_t>& s, Index& c, Index& h, Index& w) {
    c = Index(s[0]);
    h = Index(s[1]);
    w = Index(s[2]);
  };
  if (spec.kind == "dense") {
    l.kind = SequentialLayer::Kind::Dense;
    want_shape(spec.input, 1, "input");
    want_shape(spec.output, 1, "output");
    want_settings(0);
    l.in_c = Index(spec.input[0]);
    l.out_c = Index(spec.output[0]);
    l.count = l.out_c * l.in_c + l.out_c;
  } else if (spec.kind == "conv2d" || spec.kind == "conv_transpose2d") {
    const bool transposed = spec.kind == "conv_transpose2d";
    l.kind = transposed ? SequentialLayer::Kind::ConvTranspose : SequentialLayer::Kind::Conv;
    want_shape(spec.input, 3, "input");
    want_shape(spec.output, 3, "output");
    want_settings(transposed ? 4 : 3);
    image(spec.input, l.in_c, l.in_h, l.in_w);
    image(spec.output, l.out_c, l.out_h, l.out_w);
    const Index k = Index(spec.settings[0]), s = Index(spec.settings[1]), p = Index(spec.settings[2]);
    if (transposed) {
      const Index op = Index(spec.settings[3]);
      if (op < 0 || op >= std::max<Index>(s, 1)) fail("the output padding must be at least 0 and less than the stride");
      if (l.out_h != (l.in_h - 1) * s - 2 * p + k + op || l.out_w != (l.in_w - 1) * s - 2 * p + k + op)
        fail("the output should be " + std::to_string(l.out_c) + "x" + std::to_string((l.in_h - 1) * s - 2 * p + k + op) +
             "x" + std::to_string((l.in_w - 1) * s - 2 * p + k + op));
      check_conv_shape(where, l.out_c, l.out_h, l.out_w, k, s, p);
      l.geometry = ConvGeometry::of(l.out_c, l.out_h, l.out_w, k, s, p);
      if (l.geometry.grid_height != l.in_h || l.geometry.grid_width != l.in_w)
        fail("the kernel positions over the output do not match the input");
    } else {
      check_conv_shape(where, l.in_c, l.in_h, l.in_w, k, s, p);
      l.geometry = ConvGeometry::of(l.in_c, l.in_h, l.in_w, k, s, p);
      if (l.geometry.grid_height != l.out_h || l.geometry.grid_width != l.out_w)
        fail("the output should be " + std::to_string(l.out_c) + "x" + std::to_string(l.geometry.grid_height) + "x" +
             std::to_string(l.geometry.grid_width));
    }
    l.count = l.in_c * l.out_c * k * k + l.out_c;
  } else if (spec.kind == "flatten" || spec.kind == "reshape") {
    const bool flatten = spec.kind == "flatten";
    l.kind = flatten ? SequentialLayer::Kind::Flatten : SequentialLayer::Kind::Reshape;
    want_shape(spec.input, flatten ? 3 : 1, "input");
    want_shape(spec.output, flatten ? 1 : 3, "output");
    want_settings(0);
    if (flatten) {
      image(spec.input, l.in_c, l.in_h, l.in_w);
      l.out_c = Index(spec.output[0]);
    } else {
      l.in_c = Index(spec.input[0]);
      image(spec.output, l.out_c, l.out_h, l.out_w);
    }
    if (l.in_size() != l.out_size()) fail("the input and the output must have as many elements");
    if (l.act != ActivationKind::Identity) fail("a " + spec.kind + " layer takes no activation");
  } else if (spec.kind == "label_planes") {
    l.kind = SequentialLayer::Kind::LabelPlanes;
    want_shape(spec.input, 1, "input");
    want_shape(spec.output, 3, "output");
    want_settings(1);
    l.in_c = Index(spec.input[0]);
    image(spec.output, l.out_c, l.out_h, l.out_w);
    l.classes = Index(spec.settings[0]);
    if (l.classes < 1 || l.classes >= l.out_c)
      fail(std::to_string(spec.settings[0]) + " classes, expected at least 1 and fewer than the output's " +
           std::to_string(l.out_c) + " channels");
    if (l.in_c != (l.out_c - l.classes) * l.out_h * l.out_w + l.classes)
      fail("the input should be " + std::to_string((l.out_c - l.classes) * l.out_h * l.out_w + l.classes) +
           " features: the image's " + std::to_string(l.out_c - l.classes) + "x" + std::to_string(l.out_h) + "x" +
           std::to_string(l.out_w) + " then the " + std::to_string(l.classes) + " label rows");
    if (l.act != ActivationKind::Identity) fail("a label_planes layer takes no activation");
  } else {
    fail("kind '" + spec.kind + "' is not one of dense, conv2d, conv_transpose2d, flatten, reshape, label_planes");
  }
  return l;
}

/// The run-time network of any layers (SequentialLayer): each layer's
/// output feeds the next, with its own activation. Parameters live in the
/// model's flat buffers (bind), layer after layer, each layer's weights in
/// PyTorch's order then its bias (a dense layer's W out x in column-major,
/// as DenseOps). The CPU computes a convolution chunk by chunk on its
/// threads (layers/conv.hpp); other backends on the whole batch at once,
/// with the element kernels of layers/conv.hpp and their GEMM.
template <class S, class B>
class SequentialNet {
  static_assert(is_supported_scalar_v<S>, "vae: the scalar type must be float or double");
  using Dense = DenseOps<S, B>;
  using Layer = SequentialLayer;

 public:
  /// The scalar type, float or double.
  using Scalar = S;
  /// The backend tag.
  using Backend = B;
  /// The backend's context.
  using Context = typename B::Context;
  /// Dynamic: the parameter count is a value (num_parameters()).
  static constexpr Index parameter_count = Dynamic;

  /// An empty network (a moved-from model's).
  SequentialNet() = default;
  /// The network of `specs`, in the order data flows; throws ShapeError
  /// naming `who` and the layer that does not fit the one before it, or a
  /// list that is empty or ends in a flatten or reshape.
  SequentialNet(std::vector<LayerSpec> specs, const char* who) : specs_(std::move(specs)) {
    if (specs_.empty()) throw ShapeError(std::string(who) + ": a network needs at least one layer");
    Index offset = 0;
    for (std::size_t i = 0; i < specs_.size(); ++i) {
      Layer l = parse_layer(specs_[i], i, who);
      if (i > 0 && specs_[i].input != specs_[i - 1].output)
        throw ShapeError(std::string(who) + ": layer " + std::to_string(i) + " (" + specs_[i].describe() + ") takes " +
                         NetworkBuilder::text(specs_[i].input) + ", the layer before it gives " +
                         NetworkBuilder::text(specs_[i - 1].output));
      l.offset = offset;
      offset += l.count;
      layers_.push_back(l);
    }
    if (!layers_.back().computes())
      throw ShapeError(std::string(who) + ": the last layer (" + specs_.back().describe() +
                       ") must compute (dense, conv2d or conv_transpose2d), not only change the shape");
    parameters_ = offset;
  }

  /// The layers as data, in the order data flows.
  const std::vector<LayerSpec>& layer_specs() const { return specs_; }
  /// Parameters of all layers.
  Index num_parameters() const { return parameters_; }
  /// Elements of an input sample.
  Index input_elements() const { return layers_.empty() ? 0 : layers_.front().in_size(); }
  /// Elements of an output sample.
  Index output_elements() const { return layers_.empty() ? 0 : layers_.back().out_size(); }
  /// Where layer l's parameters start in the flat buffers.
  Index parameter_offset(std::size_t l) const { return layers_[l].offset; }
  /// Each label_planes layer's index and classes (a conditional model
  /// checks them against its own).
  std::vector<std::pair<std::size_t, Index>> label_plane_layers() const {
    std::vector<std::pair<std::size_t, Index>> out;
    for (std::size_t i = 0; i < layers_.size(); ++i)
      if (layers_[i].kind == Layer::Kind::LabelPlanes) out.emplace_back(i, layers_[i].classes);
    return out;
  }
  /// True when every layer is dense (then sizes() and activation_text()
  /// describe the network as DynamicMlp's do).
  bool all_dense() const {
    for (const Layer& l : layers_)
      if (l.kind != Layer::Kind::Dense) return false;
    return !layers_.empty() && layers_.back().act == ActivationKind::Identity;
  }
  /// A dense network's sizes, input first; else its two ends.
  std::vector<Index> sizes() const {
    std::vector<Index> s;
    if (layers_.empty()) return s;
    if (!all_dense()) return {input_elements(), output_elements()};
    s.push_back(layers_.front().in_size());
    for (const Layer& l : layers_) s.push_back(l.out_size());
    return s;
  }
  /// A dense network's hidden activations as checkpoints record them
  /// ("relu", or "relu,tanh" per layer); "layers" for any other network
  /// (its layer list says each).
  std::string activation_text() const {
    if (!all_dense()) return "layers";
    if (layers_.size() < 2) return activation_name(ActivationKind::Identity);
    bool uniform = true;
    for (std::size_t l = 0; l + 1 < layers_.size(); ++l) uniform = uniform && layers_[l].act == layers_.front().act;
    if (uniform) return activation_name(layers_.front().act);
    std::string s;
    for (std::size_t l = 0; l + 1 < layers_.size(); ++l) s += (l ? "," : "") + std::string(activation_name(layers_[l].act));
    return s;
  }

  /// Every layer's output, the gradients between layers and the convolutions' scratch.
  struct Workspace {
    std::vector<Layer> layers;
    /// A computing layer's output (out_size x B); empty for a shape change.
    std::vector<Buffer<B, S>> out;
    /// A convolution's working memory (chunked_floats on the CPU,
    /// batch_floats elsewhere).
    Buffer<B, S> scratch;
    /// dL/d(a layer's input), alternately.
    Buffer<B, S> grad[2];
    /// Layer l's output as a view: its own buffer, or the input it reshapes.
    std::vector<View<S>> views;
    /// The threads the CPU's convolutions have working memory for.
    Index slots = 0;
    /// Grows the buffers to hold `batch` samples.
    void reserve(Index batch_size) {
      slots = std::max<Index>(slots, std::max(1, num_threads()));
      Index widest = 0, scratch_size = 0;
      for (std::size_t i = 0; i < layers.size(); ++i) {
        const Layer& l = layers[i];
        if (l.computes()) out[i].reserve(l.out_size() * batch_size);
        widest = std::max(widest, l.in_size());
        if (l.kind == Layer::Kind::Conv || l.kind == Layer::Kind::ConvTranspose)
          scratch_size = std::max(scratch_size, std::is_same_v<B, Cpu> ? chunked_floats(l, batch_size, slots, false)
                                                                       : batch_floats(l, batch_size));
      }
      scratch.reserve(scratch_size);
      for (auto& g : grad) g.reserve(widest * batch_size);
    }
    /// The output of the last forward of `batch` samples.
    View<S> out_view(Index b) { return make_view(out.back().data(), layers.back().out_size(), b); }
  };
  /// A workspace for this network (no memory until reserve).
  Workspace workspace() const {
    Workspace ws;
    ws.layers = layers_;
    ws.out.resize(layers_.size());
    ws.views.resize(layers_.size());
    return ws;
  }

  /// Points the network at its slice of the model's buffers.
  void bind(S* params, S* grads) {
    params_ = params;
    grads_ = grads;
  }

  /// PyTorch's default initialisation of every layer (nn.Linear's,
  /// nn.Conv2d's, nn.ConvTranspose2d's), layer after layer, to host memory.
  void initialize(Rng& rng, S* host) const {
    for (const Layer& l : layers_) {
      S* at = host + l.offset;
      switch (l.kind) {
        case Layer::Kind::Dense: Dense::initialize(rng, l.in_c, l.out_c, at); break;
        case Layer::Kind::Conv:
          initialize_conv(rng, l.in_c * l.geometry.kernel * l.geometry.kernel, l.weights(), l.out_c, at);
          break;
        case Layer::Kind::ConvTranspose:
          initialize_conv(rng, l.out_c * l.geometry.kernel * l.geometry.kernel, l.weights(), l.out_c, at);
          break;
        default: break;
      }
    }
  }

  /// x (input x B) -> the last layer's output, keeping what backward needs.
  View<S> forward(const Context& ctx, ConstView<S> x, Workspace& ws) const {
    const Index batch = x.cols;
    ConstView<S> in = x;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const Layer& l = layers_[i];
      if (!l.computes()) {
        ws.views[i] = View<S>{const_cast<S*>(in.data), l.out_size(), batch, in.ld};  // read only: never written through
        continue;
      }
      const View<S> y = make_view(ws.out[i].data(), l.out_size(), batch);
      ws.views[i] = y;
      with_activation(l.act, [&](auto a) {
        using A = decltype(a);
        switch (l.kind) {
          case Layer::Kind::Dense: Dense::template forward<A>(ctx, weight(l), bias(l), in, y); break;
          case Layer::Kind::Conv: conv_forward<A>(ctx, l, in, y, ws); break;
          case Layer::Kind::ConvTranspose: conv_transpose_forward<A>(ctx, l, in, y, ws); break;
          case Layer::Kind::LabelPlanes: label_planes_forward(ctx, l, in, y); break;
          default: break;
        }
      });
      in = y;
    }
    return ws.out_view(batch);
  }

  /// After forward(x): the parameter gradients, and dL/dx into dx unless
  /// its data is null (only its first dx.rows rows); dout may be overwritten.
  void backward(const Context& ctx, ConstView<S> x, Workspace& ws, View<S> dout, View<S> dx) const {
    const Index batch = x.cols;
    View<S> d = dout;
    int holder = -1;  // which grad buffer holds d (-1: dout)
    for (std::size_t i = layers_.size(); i-- > 0;) {
      const Layer& l = layers_[i];
      const ConstView<S> in = i == 0 ? x : ConstView<S>(ws.views[i - 1]);
      const bool want_below = i > 0 || dx.data != nullptr;
      const int next = holder == 0 ? 1 : 0;
      View<S> below = make_view(ws.grad[next].data(), l.in_size(), batch);
      const bool partial = i == 0 && dx.data != nullptr && (dx.rows != l.in_size() || l.kind == Layer::Kind::Dense);
      if (i == 0 && dx.data != nullptr && !partial) below = dx;
      if (!l.computes()) {
        // A shape change: the same numbers.
        if (i == 0) {
          if (dx.data != nullptr) Ops<B, S>::copy(ctx, ConstView<S>(d).row_block(0, dx.rows), dx);
          return;
        }
        d = View<S>{d.data, l.in_size(), batch, d.ld};
        continue;
      }
      const ConstView<S> y = ws.views[i];
      with_activation(l.act, [&](auto a) {
        using A = decltype(a);
        switch (l.kind) {
          case Layer::Kind::Dense: {
            if constexpr (!std::is_same_v<A, Identity>)
              Ops<B, S>::for_each(ctx, d.rows, d.cols, kernels::ActivationGrad<A, S>{d, y});
            // A conditional decoder asks only for the first dx.rows rows.
            const ConstView<S> w = i == 0 && dx.data != nullptr ? weight(l).col_block(0, dx.rows) : weight(l);
            Dense::template backward<Identity>(ctx, w, in, ConstView<S>{}, d, weight_grad(l), bias_grad(l),
                                               i == 0 ? dx : (want_below ? below : View<S>{}));
            break;
          }
          case Layer::Kind::Conv: conv_backward<A>(ctx, l, in, y, d, want_below ? below : View<S>{}, ws); break;
          case Layer::Kind::ConvTranspose:
            conv_transpose_backward<A>(ctx, l, in, y, d, want_below ? below : View<S>{}, ws);
            break;
          case Layer::Kind::LabelPlanes:
            if (want_below) label_planes_backward(ctx, l, d, below);
            break;
          default: break;
        }
      });
      if (i == 0) {
        if (partial && l.kind != Layer::Kind::Dense)
          Ops<B, S>::copy(ctx, ConstView<S>(below).row_block(0, dx.rows), dx);
        return;
      }
      d = below;
      holder = next;
    }
  }

 private:
  ConstView<S> weight(const Layer& l) const { return make_view<S>(params_ + l.offset, l.out_c, l.in_c); }
  ConstView<S> bias(const Layer& l) const { return make_view<S>(params_ + l.offset + l.weights(), l.out_c, 1); }
  View<S> weight_grad(const Layer& l) const { return make_view<S>(grads_ + l.offset, l.out_c, l.in_c); }
  View<S> bias_grad(const Layer& l) const { return make_view<S>(grads_ + l.offset + l.weights(), l.out_c, 1); }
  /// A convolution's weight as a K x out matrix; a transposed one's as K x in.
  ConstView<S> kernel(const Layer& l) const {
    const Index columns = l.kind == Layer::Kind::Conv ? l.out_c : l.in_c;
    return make_view<S>(params_ + l.offset, l.weights() / columns, columns);
  }

  // The convolutions run chunk by chunk: a chunk is as many images as keep
  // its patches within kChunkFloats (in cache while its products run), and
  // at most a kMinChunks-th of the batch, so that a small layer still gives
  // every thread work. The chunks are grouped in blocks of at most
  // kChunksPerBlock, and in at least kMinBlocks blocks where there are as
  // many chunks; the threads share the blocks: a thread runs a block's
  // chunks in order, in its own slot of working memory, and adds their
  // weight and bias gradients into the block's part, and the parts are added
  // in block order at the end. The cut depends on the layer and the batch
  // size alone, so the bits never depend on the thread count; the memory
  // grows with the threads (slots) and, by one gradient's size, with the
  // blocks.
  static constexpr Index kChunkFloats = 1 << 17, kMinChunks = 16, kChunksPerBlock = 8, kMinBlocks = 8;
  /// Images per chunk.
  static Index chunk_images(const Layer& l, Index batch) {
    const Index cached = std::max<Index>(1, kChunkFloats / (l.geometry.positions() * l.geometry.patch_size()));
    return std::max<Index>(1, std::min(cached, (batch + kMinChunks - 1) / kMinChunks));
  }
  static Index chunk_count(const Layer& l, Index batch) {
    return (batch + chunk_images(l, batch) - 1) / chunk_images(l, batch);
  }
  /// Chunks per block.
  static Index block_chunks(const Layer& l, Index batch) {
    return std::min(kChunksPerBlock, (chunk_count(l, batch) + kMinBlocks - 1) / kMinBlocks);
  }
  static Index block_count(const Layer& l, Index batch) {
    return (chunk_count(l, batch) + block_chunks(l, batch) - 1) / block_chunks(l, batch);
  }
  /// The channels of the product's layout: a convolution's output, a transposed one's input.
  static Index product_channels(const Layer& l) { return l.kind == Layer::Kind::Conv ? l.out_c : l.in_c; }
  /// A slot: one chunk's patches (rows x K) and product-layout channels
  /// (rows x product_channels), for a batch of `batch` images.
  /// Each part starts a cache line (16 floats) after the slot's start.
  static Index slot_floats(const Layer& l, Index batch) {
    const Index rows = std::min(chunk_images(l, batch), batch) * l.geometry.positions();
    return whole_lines(rows * l.geometry.patch_size()) + whole_lines(rows * product_channels(l));
  }
  /// n rounded up to whole cache lines of floats.
  static Index whole_lines(Index n) { return (n + 15) / 16 * 16; }
  /// The slots a batch uses: one per thread, at most one per block.
  static Index slot_count(const Layer& l, Index batch, Index slots) { return std::min(slots, block_count(l, batch)); }
  /// The CPU's working memory for `slots` threads and a batch: the slots,
  /// then (for backward) each block's part of the weight and bias gradients.
  static Index chunked_floats(const Layer& l, Index batch, Index slots, bool parts) {
    return slot_count(l, batch, slots) * slot_floats(l, batch) + (parts ? block_count(l, batch) * whole_lines(l.count) : 0);
  }
  /// The working memory of a backend without the CPU's chunks, for a whole
  /// batch: the patches (R x K), the product layout's channels (R x
  /// product_channels) and, for a transposed convolution, its output's
  /// gradient gathered a channel per column (for the bias gradient).
  static Index batch_floats(const Layer& l, Index batch) {
    const Index rows = batch * l.geometry.positions();
    return rows * (l.geometry.patch_size() + product_channels(l)) +
           (l.kind == Layer::Kind::ConvTranspose ? batch * l.out_size() : 0);
  }
  /// The views of one chunk: its slot's patches and channels, its block's
  /// gradient parts, its images, and whether it is its block's first.
  struct Chunk {
    View<S> patches, channels, weight_grad, bias_grad;
    Index first, images;
    bool block_start;
  };
  /// f(chunk) for every chunk of a batch, block by block, the blocks shared among the threads.
  template <class F>
  void each_chunk(const Layer& l, Index batch, Workspace& ws, const F& f) const {
    const Index per = chunk_images(l, batch), chunks = chunk_count(l, batch), blocks = block_count(l, batch);
    const Index per_block = block_chunks(l, batch);
    const Index rows_max = std::min(per, batch) * l.geometry.positions(), k = l.geometry.patch_size();
    const Index wcols = product_channels(l), slots = slot_count(l, batch, ws.slots), slot_size = slot_floats(l, batch);
    const Index threads = std::min<Index>(region_threads(), slots);
#if defined(_OPENMP)
    const int level = omp_get_level();
#endif
    run_blocks(blocks, threads, 1, [&](Index block) {
      Index slot = 0;  // this thread's place in the team run_blocks started, if it started one
#if defined(_OPENMP)
      if (omp_get_level() > level) slot = omp_get_thread_num();
#endif
      S* base = ws.scratch.data() + slot * slot_size;
      S* part = ws.scratch.data() + slots * slot_size + block * whole_lines(l.count);
      for (Index c = block * per_block; c < std::min(chunks, (block + 1) * per_block); ++c) {
        const Index first = c * per, images = std::min(per, batch - first), rows = images * l.geometry.positions();
        f(Chunk{make_view(base, rows, k), make_view(base + whole_lines(rows_max * k), rows, wcols),
                make_view(part, l.weights() / wcols, wcols), make_view(part + l.weights(), l.out_c, 1), first, images,
                c == block * per_block});
      }
    });
  }
  /// Room for the blocks' gradient parts too (backward; inference needs
  /// only the slots): grows the scratch on the first backward of a batch size.
  void reserve_parts(const Layer& l, Index batch, Workspace& ws) const {
    ws.scratch.reserve(chunked_floats(l, batch, ws.slots, true));
  }
  /// The weight and bias gradients: the blocks' parts added in block order.
  void sum_chunk_gradients(const Layer& l, Index batch, Workspace& ws) const {
    using Array = Eigen::Array<S, Eigen::Dynamic, 1>;
    Eigen::Map<Array> out(grads_ + l.offset, l.count);
    const S* parts = ws.scratch.data() + slot_count(l, batch, ws.slots) * slot_floats(l, batch);
    for (Index b = 0; b < block_count(l, batch); ++b) {
      const Eigen::Map<const Array> part(parts + b * whole_lines(l.count), l.count);
      if (b == 0) out = part;
      else out += part;
    }
  }

  /// A whole batch's views of the scratch (backends without the CPU's chunks).
  struct Whole {
    View<S> patches, channels, gathered;
  };
  Whole whole(const Layer& l, Index batch, Workspace& ws) const {
    const Index rows = batch * l.geometry.positions(), k = l.geometry.patch_size(), c = product_channels(l);
    S* base = ws.scratch.data();
    return {make_view(base, rows, k), make_view(base + rows * k, rows, c),
            make_view(base + rows * (k + c), batch * l.out_h * l.out_w, l.out_c)};
  }
  View<S> weight_grad_of(const Layer& l) const {
    const Index columns = product_channels(l);
    return make_view<S>(grads_ + l.offset, l.weights() / columns, columns);
  }
  View<S> bias_grad_row(const Layer& l) const { return View<S>{grads_ + l.offset + l.weights(), 1, l.out_c, 1}; }

  template <class A>
  void conv_forward(const Context& ctx, const Layer& l, ConstView<S> x, View<S> y, Workspace& ws) const {
    if constexpr (!std::is_same_v<B, Cpu>) {
      using O = vae::Ops<B, S>;
      const Whole w = whole(l, x.cols, ws);
      O::for_each(ctx, w.patches.rows, w.patches.cols, kernels::Im2col<S>{l.geometry, x, w.patches});
      O::gemm(ctx, Trans::No, Trans::No, S(1), w.patches, kernel(l), S(0), w.channels);
      O::for_each(ctx, y.rows, y.cols,
                  kernels::ScatterBiasActivation<A, S>{w.channels, bias(l), l.geometry.positions(), y});
      return;
    }
    (void)ctx;
    each_chunk(l, x.cols, ws, [&](const Chunk& c) {
      im2col(l.geometry, x.col_block(c.first, c.images), c.patches);
      gemm_block(Trans::No, Trans::No, S(1), ConstView<S>(c.patches), kernel(l), S(0), c.channels);
      scatter_bias_activation<A>(ConstView<S>(c.channels), bias(l), l.geometry.positions(),
                                 y.col_block(c.first, c.images));
    });
  }

  template <class A>
  void conv_backward(const Context& ctx, const Layer& l, ConstView<S> x, ConstView<S> y, View<S> dy, View<S> dx,
                     Workspace& ws) const {
    if constexpr (!std::is_same_v<B, Cpu>) {
      using O = vae::Ops<B, S>;
      const Whole w = whole(l, dy.cols, ws);
      const Index positions = l.geometry.positions();
      O::for_each(ctx, w.channels.rows, w.channels.cols,
                  kernels::GatherActivationGrad<A, S>{dy, y, positions, w.channels});
      O::column_sums(ctx, w.channels.rows, w.channels.cols, kernels::Element<S>{w.channels}, bias_grad_row(l));
      O::for_each(ctx, w.patches.rows, w.patches.cols, kernels::Im2col<S>{l.geometry, x, w.patches});
      O::gemm(ctx, Trans::Yes, Trans::No, S(1), w.patches, w.channels, S(0), weight_grad_of(l));
      if (dx.data == nullptr) return;
      O::gemm(ctx, Trans::No, Trans::Yes, S(1), w.channels, kernel(l), S(0), w.patches);
      O::for_each(ctx, dx.rows, dx.cols, kernels::Col2im<S>{l.geometry, w.patches, dx});
      return;
    }
    (void)ctx;
    reserve_parts(l, dy.cols, ws);
    each_chunk(l, dy.cols, ws, [&](const Chunk& c) {
      const View<S> gp = c.channels;
      gather_activation_grad<A>(ConstView<S>(dy.col_block(c.first, c.images)), y.col_block(c.first, c.images),
                                l.geometry.positions(), gp);
      for (Index ch = 0; ch < l.out_c; ++ch) {
        const S sum = sum_run(gp.data + ch * gp.ld, gp.rows);
        c.bias_grad.data[ch] = c.block_start ? sum : c.bias_grad.data[ch] + sum;
      }
      im2col(l.geometry, x.col_block(c.first, c.images), c.patches);
      gemm_block(Trans::Yes, Trans::No, S(1), ConstView<S>(c.patches), ConstView<S>(gp), c.block_start ? S(0) : S(1),
                 c.weight_grad);
      if (dx.data == nullptr) return;
      gemm_block(Trans::No, Trans::Yes, S(1), ConstView<S>(gp), kernel(l), S(0), c.patches);  // dL/dP over P
      col2im(l.geometry, ConstView<S>(c.patches), dx.col_block(c.first, c.images));
    });
    sum_chunk_gradients(l, dy.cols, ws);
  }

  template <class A>
  void conv_transpose_forward(const Context& ctx, const Layer& l, ConstView<S> x, View<S> y, Workspace& ws) const {
    if constexpr (!std::is_same_v<B, Cpu>) {
      using O = vae::Ops<B, S>;
      const Whole w = whole(l, x.cols, ws);
      O::for_each(ctx, w.channels.rows, w.channels.cols,
                  kernels::GatherActivationGrad<Identity, S>{x, x, l.geometry.positions(), w.channels});
      O::gemm(ctx, Trans::No, Trans::Yes, S(1), w.channels, kernel(l), S(0), w.patches);
      O::for_each(ctx, y.rows, y.cols, kernels::Col2im<S>{l.geometry, w.patches, y});
      O::for_each(ctx, y.rows, y.cols, kernels::BiasActivationImages<A, S>{y, bias(l), l.out_h * l.out_w});
      return;
    }
    (void)ctx;
    each_chunk(l, x.cols, ws, [&](const Chunk& c) {
      gather_channels(x.col_block(c.first, c.images), l.geometry.positions(), c.channels);
      gemm_block(Trans::No, Trans::Yes, S(1), ConstView<S>(c.channels), kernel(l), S(0), c.patches);
      const View<S> out = y.col_block(c.first, c.images);
      col2im(l.geometry, ConstView<S>(c.patches), out);
      bias_activation_images<A>(out, bias(l), l.out_c, l.out_h * l.out_w);
    });
  }

  template <class A>
  void conv_transpose_backward(const Context& ctx, const Layer& l, ConstView<S> x, ConstView<S> y, View<S> dy,
                               View<S> dx, Workspace& ws) const {
    if constexpr (!std::is_same_v<B, Cpu>) {
      using O = vae::Ops<B, S>;
      const Whole w = whole(l, dy.cols, ws);
      const Index positions = l.geometry.positions(), out_positions = l.out_h * l.out_w;
      if constexpr (!std::is_same_v<A, Identity>) O::for_each(ctx, dy.rows, dy.cols, kernels::ActivationGrad<A, S>{dy, y});
      O::for_each(ctx, w.gathered.rows, w.gathered.cols,
                  kernels::GatherActivationGrad<Identity, S>{dy, dy, out_positions, w.gathered});
      O::column_sums(ctx, w.gathered.rows, w.gathered.cols, kernels::Element<S>{w.gathered}, bias_grad_row(l));
      O::for_each(ctx, w.patches.rows, w.patches.cols, kernels::Im2col<S>{l.geometry, dy, w.patches});
      O::for_each(ctx, w.channels.rows, w.channels.cols,
                  kernels::GatherActivationGrad<Identity, S>{x, x, positions, w.channels});
      O::gemm(ctx, Trans::Yes, Trans::No, S(1), w.patches, w.channels, S(0), weight_grad_of(l));
      if (dx.data == nullptr) return;
      O::gemm(ctx, Trans::No, Trans::No, S(1), w.patches, kernel(l), S(0), w.channels);
      O::for_each(ctx, dx.rows, dx.cols, kernels::ScatterChannels<S>{w.channels, positions, dx});
      return;
    }
    (void)ctx;
    reserve_parts(l, dy.cols, ws);
    each_chunk(l, dy.cols, ws, [&](const Chunk& c) {
      const View<S> g = dy.col_block(c.first, c.images);
      activation_grad_images<A>(g, y.col_block(c.first, c.images));
      channel_sums_images(ConstView<S>(g), l.out_c, l.out_h * l.out_w, c.bias_grad, !c.block_start);
      im2col(l.geometry, ConstView<S>(g), c.patches);
      gather_channels(x.col_block(c.first, c.images), l.geometry.positions(), c.channels);
      gemm_block(Trans::Yes, Trans::No, S(1), ConstView<S>(c.patches), ConstView<S>(c.channels),
                 c.block_start ? S(0) : S(1), c.weight_grad);
      if (dx.data == nullptr) return;
      gemm_block(Trans::No, Trans::No, S(1), ConstView<S>(c.patches), kernel(l), S(0), c.channels);  // dL/dx
      scatter_channels(ConstView<S>(c.channels), l.geometry.positions(), dx.col_block(c.first, c.images));
    });
    sum_chunk_gradients(l, dy.cols, ws);
  }

  /// The image's rows copied, each label row spread over a plane.
  void label_planes_forward(const Context& ctx, const Layer& l, ConstView<S> x, View<S> y) const {
    const Index plane = l.out_h * l.out_w, image = l.in_size() - l.classes;
    if constexpr (std::is_same_v<B, Cpu>) {
      (void)ctx;
      label_planes(x, image, plane, y);
    } else {
      vae::Ops<B, S>::for_each(ctx, y.rows, y.cols, kernels::LabelPlanes<S>{x, image, plane, y});
    }
  }
  /// dL/dx: the image's rows as they are, a label row's plane summed.
  void label_planes_backward(const Context& ctx, const Layer& l, ConstView<S> dy, View<S> dx) const {
    const Index plane = l.out_h * l.out_w, image = l.in_size() - l.classes;
    if constexpr (std::is_same_v<B, Cpu>) {
      (void)ctx;
      label_planes_grad(dy, image, plane, dx);
    } else {
      vae::Ops<B, S>::for_each(ctx, dx.rows, dx.cols, kernels::LabelPlanesGrad<S>{dy, image, plane, dx});
    }
  }

  std::vector<LayerSpec> specs_;
  std::vector<Layer> layers_;
  Index parameters_ = 0;
  S* params_ = nullptr;
  S* grads_ = nullptr;
};

}  // namespace detail

/// An encoder of any layers (its last layer's output is the code).
template <class S = float, class B = Cpu>
class SequentialEncoder : public detail::SequentialNet<S, B> {
 public:
  /// Dynamic: the input's size is a value (input_size_value()).
  static constexpr Index input_size = Dynamic;
  /// Dynamic: the code's size is a value (latent_size_value()).
  static constexpr Index latent_size = Dynamic;
  /// Dynamic: the output's rows are a value (output_size_value()).
  static constexpr Index output_size = Dynamic;
  /// False: the output is the code itself.
  static constexpr bool is_variational = false;
  /// An empty encoder (a moved-from model's).
  SequentialEncoder() = default;
  /// The encoder of `layers`, input first.
  explicit SequentialEncoder(std::vector<LayerSpec> layers)
      : detail::SequentialNet<S, B>(std::move(layers), "vae::SequentialEncoder") {}
  /// Features of an input sample.
  Index input_size_value() const { return this->input_elements(); }
  /// Size of the code.
  Index latent_size_value() const { return this->output_elements(); }
  /// Rows of the forward output.
  Index output_size_value() const { return this->output_elements(); }
  /// The sizes a checkpoint records (sizes()).
  std::vector<Index> user_sizes() const { return this->sizes(); }
};

/// A VAE's encoder of any layers: its last layer gives 2 x latent rows,
/// mu over log sigma.
template <class S = float, class B = Cpu>
class SequentialVariationalEncoder : public detail::SequentialNet<S, B> {
 public:
  /// Dynamic: the input's size is a value (input_size_value()).
  static constexpr Index input_size = Dynamic;
  /// Dynamic: the code's size is a value (latent_size_value()).
  static constexpr Index latent_size = Dynamic;
  /// Dynamic: the output's rows are a value (output_size_value()).
  static constexpr Index output_size = Dynamic;
  /// True: the output is (mu, log sigma) of q(z | x).
  static constexpr bool is_variational = true;
  /// An empty encoder (a moved-from model's).
  SequentialVariationalEncoder() = default;
  /// The encoder of `layers`, input first, the last giving 2 x latent
  /// features; throws ShapeError for an odd count.
  explicit SequentialVariationalEncoder(std::vector<LayerSpec> layers)
      : detail::SequentialNet<S, B>(std::move(layers), "vae::SequentialVariationalEncoder") {
    if (this->output_elements() % 2 != 0)
      throw ShapeError("vae::SequentialVariationalEncoder: the last layer gives " +
                       std::to_string(this->output_elements()) +
                       " features, expected an even count (the code's means over its log-sigmas)");
  }
  /// Features of an input sample.
  Index input_size_value() const { return this->input_elements(); }
  /// Size of the code.
  Index latent_size_value() const { return this->output_elements() / 2; }
  /// Rows of the forward output: mu over log sigma.
  Index output_size_value() const { return this->output_elements(); }
  /// The sizes a checkpoint records: input first, the latent size last.
  std::vector<Index> user_sizes() const {
    std::vector<Index> s = this->sizes();
    if (!s.empty()) s.back() /= 2;
    return s;
  }
};

/// A decoder of any layers, ending at the logits.
template <class S = float, class B = Cpu>
class SequentialDecoder : public detail::SequentialNet<S, B> {
 public:
  /// Dynamic: the code's size is a value (latent_size_value()).
  static constexpr Index latent_size = Dynamic;
  /// Dynamic: the features' count is a value (output_size_value()).
  static constexpr Index output_size = Dynamic;
  /// An empty decoder (a moved-from model's).
  SequentialDecoder() = default;
  /// The decoder of `layers`, the code first.
  explicit SequentialDecoder(std::vector<LayerSpec> layers)
      : detail::SequentialNet<S, B>(std::move(layers), "vae::SequentialDecoder") {}
  /// Size of the code it takes.
  Index latent_size_value() const { return this->input_elements(); }
  /// Features it outputs.
  Index output_size_value() const { return this->output_elements(); }
  /// The sizes a checkpoint records.
  std::vector<Index> user_sizes() const { return this->sizes(); }
};

/// A VAE of any layers (convolutional ones among them).
template <class S = float, class B = Cpu>
using SequentialVae = VariationalAutoencoderOf<SequentialVariationalEncoder<S, B>, SequentialDecoder<S, B>>;
/// An autoencoder of any layers.
template <class S = float, class B = Cpu>
using SequentialAutoencoder = AutoencoderOf<SequentialEncoder<S, B>, SequentialDecoder<S, B>>;
/// A conditional VAE of any layers: its encoder takes the features then the
/// one-hot label's Classes rows (a convolutional one spreads them over
/// planes first: NetworkBuilder::label_planes), its decoder the code then
/// the label's rows.
template <Index Classes, class S = float, class B = Cpu>
using SequentialCvae = ConditionalVariationalAutoencoderOf<SequentialVariationalEncoder<S, B>, SequentialDecoder<S, B>, Classes>;

namespace detail {
template <class N>
inline constexpr bool is_sequential_network_v = std::is_base_of_v<SequentialNet<typename N::Scalar, typename N::Backend>, N>;
}  // namespace detail

/// An encoder's and a decoder's layers.
struct ConvNetworks {
  /// @{
  /// The layers, input first.
  std::vector<LayerSpec> encoder, decoder;
  /// @}
};
/// The layers of the Keras example's convolutional VAE for 1 x 28 x 28
/// images (keras.io "Variational AutoEncoder"; PyTorch's padding 1 for its
/// "same"): encoder Conv(1->32, 3x3, stride 2) ReLU, Conv(32->64, 3x3,
/// stride 2) ReLU, flatten, Dense(3136->16) ReLU, then the heads
/// Dense(16 -> `heads` x latent); decoder Dense(latent->3136) ReLU, reshape
/// 64x7x7, ConvTranspose(64->64, 3x3, stride 2) ReLU, ConvTranspose(64->32,
/// 3x3, stride 2) ReLU, ConvTranspose(32->`outputs`, 3x3, stride 1) to the
/// logits (`outputs` channels: 2 for a decoded scale). With `classes`, the
/// conditional VAE's networks: the label's planes beside the image
/// (NetworkBuilder::label_planes; the first convolution takes 1 + classes
/// channels) and the label's rows beside the code (the decoder's dense layer
/// takes latent + classes).
inline ConvNetworks keras_conv_networks(Index latent, Index heads = 2, Index outputs = 1, Index classes = 0) {
  const auto relu = ActivationKind::Relu;
  ConvNetworks n;
  NetworkBuilder encoder({1, 28, 28});
  if (classes > 0) encoder.label_planes(classes);
  n.encoder = encoder.conv2d(32, 3, 2, 1, relu)
                  .conv2d(64, 3, 2, 1, relu)
                  .flatten()
                  .dense(16, relu)
                  .dense(heads * latent)
                  .layers();
  n.decoder = NetworkBuilder({std::uint64_t(latent + classes)})
                  .dense(64 * 7 * 7, relu)
                  .reshape(64, 7, 7)
                  .conv_transpose2d(64, 3, 2, 1, 1, relu)
                  .conv_transpose2d(32, 3, 2, 1, 1, relu)
                  .conv_transpose2d(outputs, 3, 1, 1, 0)
                  .layers();
  return n;
}

/// The Keras example's convolutional VAE (keras_conv_networks) with a code
/// of `latent`, weights from Rng(seed) as PyTorch's defaults draw them.
template <class S = float, class B = Cpu>
SequentialVae<S, B> make_conv_vae(Index latent, std::uint64_t seed = 0, Objective<S> objective = {},
                                  typename B::Context ctx = {}) {
  const ConvNetworks n = keras_conv_networks(latent, 2, outputs_per_feature(objective.reconstruction));
  return SequentialVae<S, B>(SequentialVariationalEncoder<S, B>(n.encoder), SequentialDecoder<S, B>(n.decoder), seed,
                             objective, std::move(ctx));
}
/// The Keras example's networks as a conditional VAE of Classes classes
/// (keras_conv_networks(latent, 2, outputs, Classes)).
template <Index Classes, class S = float, class B = Cpu>
SequentialCvae<Classes, S, B> make_conv_cvae(Index latent, std::uint64_t seed = 0, Objective<S> objective = {},
                                             typename B::Context ctx = {}) {
  const ConvNetworks n = keras_conv_networks(latent, 2, outputs_per_feature(objective.reconstruction), Classes);
  return SequentialCvae<Classes, S, B>(SequentialVariationalEncoder<S, B>(n.encoder), SequentialDecoder<S, B>(n.decoder),
                                       seed, objective, std::move(ctx));
}
/// The same networks as an autoencoder (the encoder's last layer gives the code).
template <class S = float, class B = Cpu>
SequentialAutoencoder<S, B> make_conv_autoencoder(Index latent, std::uint64_t seed = 0, Objective<S> objective = {},
                                                  typename B::Context ctx = {}) {
  const ConvNetworks n = keras_conv_networks(latent, 1, outputs_per_feature(objective.reconstruction));
  return SequentialAutoencoder<S, B>(SequentialEncoder<S, B>(n.encoder), SequentialDecoder<S, B>(n.decoder), seed,
                                     objective, std::move(ctx));
}

}  // namespace vae
