#pragma once
// A multilayer perceptron with its sizes in the type: Layers<N0, ..., Nk>
// gives k dense layers N0 -> N1 -> ... -> Nk, each hidden layer followed by
// the activation Act, the last one linear. Encoders and decoders are MLPs.
//
// Parameters, flat: layer 0's W (N1 x N0, column-major) then b (N1), then
// layer 1's, and so on (PyTorch's nn.Sequential order).

#include <array>
#include <type_traits>

#include "vae/backend/backend.hpp"
#include "vae/core/rng.hpp"
#include "vae/layers/activations.hpp"
#include "vae/layers/dense.hpp"
#include "vae/layers/layer_sizes.hpp"

namespace vae::detail {

/// The network of EncoderOf, VariationalEncoderOf and DecoderOf: one dense
/// layer per pair of sizes in L, each followed by Act except the last (linear).
/// Its parameters live in the model's flat buffers (bind); it owns none.
template <class L, class Act, class S, class B>
class Mlp {
  static_assert(is_layers<L>::value, "vae: the layer sizes must be given as vae::Layers<Input, Hidden..., Output>");
  static_assert(is_supported_scalar_v<S>, "vae: the scalar type must be float or double");
  static_assert(is_activation_v<Act>,
                "vae: the activation must provide name, value<T>(t) and derivative<T>(a) (see layers/activations.hpp)");
  using Dense = DenseOps<S, B>;

 public:
  /// The scalar type, float or double.
  using Scalar = S;
  /// The backend tag (Cpu, Cuda).
  using Backend = B;
  /// The backend's context.
  using Context = typename B::Context;
  /// The hidden layers' activation.
  using Activation = Act;
  /// The layer sizes, a Layers<...>.
  using Sizes = L;
  /// Number of dense layers.
  static constexpr std::size_t layer_count = L::count - 1;
  /// Every layer size, input first.
  static constexpr std::array<Index, L::count> sizes = L::sizes;

  /// offsets[l]: where layer l's W (then b) starts; offsets[layer_count]
  /// is the parameter count.
  static constexpr std::array<Index, layer_count + 1> offsets = [] {
    std::array<Index, layer_count + 1> o{};
    for (std::size_t k = 0; k < layer_count; ++k) o[k + 1] = o[k] + sizes[k + 1] * sizes[k] + sizes[k + 1];
    return o;
  }();
  /// Where layer l's W starts in the flat buffers.
  static constexpr Index parameter_offset(std::size_t l) { return offsets[l]; }
  /// Parameters of all layers (out x in + out each).
  static constexpr Index parameter_count = offsets[layer_count];
  /// The widest hidden layer (0 without hidden layers).
  static constexpr Index widest_hidden() {
    Index w = 0;
    for (std::size_t k = 1; k + 1 < L::count; ++k) w = sizes[k] > w ? sizes[k] : w;
    return w;
  }

  /// Activations of one batch, kept for the backward pass: every layer's
  /// output, and two gradient buffers used in turn. Sized for the largest
  /// batch seen; smaller batches use the first columns.
  struct Workspace {
    /// Layer l's output (N(l+1) x B).
    std::array<Buffer<B, S>, layer_count> out;
    /// dL/d(hidden output), alternately (widest hidden x B).
    Buffer<B, S> grad[2];
    /// Grows the buffers to hold `batch` samples.
    void reserve(Index batch) {
      for (std::size_t l = 0; l < layer_count; ++l) out[l].reserve(sizes[l + 1] * batch);
      if (layer_count > 1)
        for (auto& g : grad) g.reserve(widest_hidden() * batch);
    }
    /// The network's output for a batch of `batch` samples (Nk x B).
    View<S> out_view(Index batch) { return output(layer_count - 1, batch); }
    /// Layer l's output for a batch of `batch` samples.
    View<S> output(std::size_t l, Index batch) { return make_view(out[l].data(), sizes[l + 1], batch); }
  };

  /// Points the network at its slice of the model's parameter and gradient
  /// buffers (parameter_count scalars each, layout as offsets).
  void bind(S* params, S* grads) {
    params_ = params;
    grads_ = grads;
  }

  /// Writes parameter_count initial values to host memory, layer after layer:
  /// PyTorch's nn.Linear default, uniform in (-1/sqrt(in), 1/sqrt(in)).
  static void initialize(Rng& rng, S* host) {
    for (std::size_t l = 0; l < layer_count; ++l)
      Dense::initialize(rng, sizes[l], sizes[l + 1], host + parameter_offset(l));
  }

  /// Layer l's W (N(l+1) x Nl, column-major).
  ConstView<S> weight(std::size_t l) const { return make_view<S>(params_ + parameter_offset(l), sizes[l + 1], sizes[l]); }
  /// Layer l's b (N(l+1) x 1).
  ConstView<S> bias(std::size_t l) const {
    return make_view<S>(params_ + parameter_offset(l) + sizes[l + 1] * sizes[l], sizes[l + 1], 1);
  }

  /// x (N0 x B) -> ws's last output (Nk x B), keeping every layer's output.
  /// ws must hold B columns.
  View<S> forward(const Context& ctx, ConstView<S> x, Workspace& ws) const {
    const Index batch = x.cols;
    ConstView<S> in = x;
    for (std::size_t l = 0; l < layer_count; ++l) {
      const View<S> y = ws.output(l, batch);
      if (l + 1 < layer_count) {
        Dense::template forward<Act>(ctx, weight(l), bias(l), in, y);
      } else {
        Dense::template forward<Identity>(ctx, weight(l), bias(l), in, y);
      }
      in = y;
    }
    return ws.out_view(batch);
  }

  /// From dL/dout (Nk x B, overwritten) to the parameter gradients and, when
  /// dx.data != nullptr, dL/dx: N0 x B, or only its first dx.rows rows (a
  /// conditional decoder needs dL/dz, not dL/d(label)). Needs the forward's
  /// x and ws.
  void backward(const Context& ctx, ConstView<S> x, Workspace& ws, View<S> dout, View<S> dx) const {
    const Index batch = x.cols;
    View<S> d = dout;  // dL/dt of layer l (its pre-activation)
    for (std::size_t l = layer_count; l-- > 0;) {
      const ConstView<S> in = l == 0 ? x : ConstView<S>(ws.output(l - 1, batch));
      const View<S> below = l == 0 ? dx : make_view(ws.grad[l % 2].data(), sizes[l], batch);
      // dL/d(the first rows of the input) takes the first columns of W.
      const ConstView<S> w = l == 0 && dx.data != nullptr ? weight(l).col_block(0, dx.rows) : weight(l);
      // Layer l is linear here; the activation of layer l - 1 is applied
      // through its output when dL/d(its output) is known.
      Dense::template backward<Identity>(ctx, w, in, ConstView<S>{}, d, weight_grad(l), bias_grad(l), below);
      if (l > 0) Ops<B, S>::for_each(ctx, below.rows, below.cols, kernels::ActivationGrad<Act, S>{below, in});
      d = below;
    }
  }

 private:
  View<S> weight_grad(std::size_t l) const { return make_view<S>(grads_ + parameter_offset(l), sizes[l + 1], sizes[l]); }
  View<S> bias_grad(std::size_t l) const {
    return make_view<S>(grads_ + parameter_offset(l) + sizes[l + 1] * sizes[l], sizes[l + 1], 1);
  }

  S* params_ = nullptr;
  S* grads_ = nullptr;
};

/// True for vae's own networks (EncoderOf, VariationalEncoderOf, DecoderOf),
/// whose parameters have the layout of Mlp.
template <class N, class = void>
struct is_mlp_network : std::false_type {};
template <class N>
struct is_mlp_network<N, std::void_t<typename N::Sizes, typename N::Activation, typename N::Scalar, typename N::Backend>>
    : std::is_base_of<Mlp<typename N::Sizes, typename N::Activation, typename N::Scalar, typename N::Backend>, N> {};

}  // namespace vae::detail
