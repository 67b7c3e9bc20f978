#pragma once
// A multilayer perceptron whose sizes and activations are values: the
// run-time twin of Mlp (models/mlp.hpp). It runs the same DenseOps calls in
// the same order with the same parameter layout, so a network built with
// sizes {784, 512, 2} and ReLU computes bit for bit what
// Mlp<Layers<784, 512, 2>, Relu> computes; only the activation is chosen
// once per layer at run time (with_activation) instead of in the type.
//
// Also here: the network sizes any encoder or decoder reports, fixed or
// run-time (net_input_size and friends), which the model skeleton uses.

#include <string>
#include <utility>
#include <vector>

#include "vae/backend/backend.hpp"
#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"
#include "vae/layers/activations.hpp"
#include "vae/layers/dense.hpp"
#include "vae/models/mlp.hpp"

namespace vae::detail {

/// The run-time network: one dense layer per pair of sizes, layer l < last
/// followed by activations[l], the last one linear. Its parameters live in
/// the model's flat buffers (bind); it owns none.
template <class S, class B>
class DynamicMlp {
  static_assert(is_supported_scalar_v<S>, "vae: the scalar type must be float or double");
  using Dense = DenseOps<S, B>;

 public:
  /// The scalar type, float or double.
  using Scalar = S;
  /// The backend tag (Cpu, Cuda).
  using Backend = B;
  /// The backend's context.
  using Context = typename B::Context;
  /// Dynamic: the parameter count is a value (num_parameters()).
  static constexpr Index parameter_count = Dynamic;

  /// An empty network (what a moved-from model holds); build one with sizes.
  DynamicMlp() = default;
  /// sizes: input first, at least two, each positive; hidden: one activation
  /// for every hidden layer (sizes.size() - 2 of them), or one for all.
  /// Throws ShapeError naming `who` otherwise.
  DynamicMlp(std::vector<Index> sizes, std::vector<ActivationKind> hidden, const char* who)
      : sizes_(std::move(sizes)) {
    if (sizes_.size() < 2)
      throw ShapeError(std::string(who) + ": a network needs at least an input and an output size, got " +
                       std::to_string(sizes_.size()) + " size" + (sizes_.size() == 1 ? "" : "s"));
    for (std::size_t i = 0; i < sizes_.size(); ++i)
      if (sizes_[i] <= 0)
        throw ShapeError(std::string(who) + ": layer size " + std::to_string(i) + " is " + std::to_string(sizes_[i]) +
                         ", expected a positive size");
    const std::size_t hidden_layers = sizes_.size() - 2;
    if (hidden.size() == 1 && hidden_layers != 1) {
      declared_ = hidden.front();
      hidden.assign(hidden_layers, hidden.front());
    } else if (hidden.size() == hidden_layers && hidden_layers > 0) {
      declared_ = hidden.front();
    } else if (!(hidden.empty() && hidden_layers == 0)) {
      throw ShapeError(std::string(who) + ": " + std::to_string(hidden.size()) + " activations for " +
                       std::to_string(hidden_layers) + " hidden layers; give one for every hidden layer, or one for all");
    }
    activations_ = std::move(hidden);
    offsets_.assign(sizes_.size(), 0);
    for (std::size_t k = 0; k + 1 < sizes_.size(); ++k)
      offsets_[k + 1] = offsets_[k] + sizes_[k + 1] * sizes_[k] + sizes_[k + 1];
  }

  /// Number of dense layers.
  std::size_t layer_count() const { return sizes_.empty() ? 0 : sizes_.size() - 1; }
  /// Every layer size, input first.
  const std::vector<Index>& sizes() const { return sizes_; }
  /// The activation after each hidden layer.
  const std::vector<ActivationKind>& activations() const { return activations_; }
  /// Where layer l's W starts in the flat buffers.
  Index parameter_offset(std::size_t l) const { return offsets_[l]; }
  /// Parameters of all layers (out x in + out each).
  Index num_parameters() const { return offsets_.empty() ? 0 : offsets_.back(); }
  /// The hidden activations' name as checkpoints record it: the one name
  /// when every hidden layer has the same activation ("relu"), else the
  /// names joined by commas ("relu,tanh").
  std::string activation_text() const {
    std::string s;
    bool uniform = true;
    for (const auto a : activations_) uniform = uniform && a == activations_.front();
    if (activations_.empty() || uniform) return activation_name(activations_.empty() ? declared_ : activations_.front());
    for (std::size_t i = 0; i < activations_.size(); ++i) s += (i ? "," : "") + std::string(activation_name(activations_[i]));
    return s;
  }
  /// The widest hidden layer (0 without hidden layers).
  Index widest_hidden() const {
    Index w = 0;
    for (std::size_t k = 1; k + 1 < sizes_.size(); ++k) w = sizes_[k] > w ? sizes_[k] : w;
    return w;
  }

  /// Every layer's output and two gradient buffers, as Mlp's; it carries the
  /// network's sizes (workspace() makes one).
  struct Workspace {
    /// The network's sizes, input first.
    std::vector<Index> sizes;
    /// Layer l's output (size l+1 x B).
    std::vector<Buffer<B, S>> out;
    /// dL/d(hidden output), alternately (widest hidden x B).
    Buffer<B, S> grad[2];
    /// Grows the buffers to hold `batch` samples.
    void reserve(Index batch) {
      Index widest = 0;
      for (std::size_t l = 0; l < out.size(); ++l) {
        out[l].reserve(sizes[l + 1] * batch);
        if (l + 1 < out.size()) widest = sizes[l + 1] > widest ? sizes[l + 1] : widest;
      }
      if (out.size() > 1)
        for (auto& g : grad) g.reserve(widest * batch);
    }
    /// The network's output for a batch of `batch` samples.
    View<S> out_view(Index batch) { return output(out.size() - 1, batch); }
    /// Layer l's output for a batch of `batch` samples.
    View<S> output(std::size_t l, Index batch) { return make_view(out[l].data(), sizes[l + 1], batch); }
  };
  /// A workspace for this network's sizes (no memory until reserve).
  Workspace workspace() const {
    Workspace ws;
    ws.sizes = sizes_;
    ws.out.resize(layer_count());
    return ws;
  }

  /// Points the network at its slice of the model's parameter and gradient
  /// buffers (num_parameters() scalars each).
  void bind(S* params, S* grads) {
    params_ = params;
    grads_ = grads;
  }

  /// Writes num_parameters() initial values to host memory, layer after
  /// layer, as Mlp::initialize (PyTorch's nn.Linear default).
  void initialize(Rng& rng, S* host) const {
    for (std::size_t l = 0; l < layer_count(); ++l)
      Dense::initialize(rng, sizes_[l], sizes_[l + 1], host + parameter_offset(l));
  }

  /// Layer l's W (size l+1 x size l, column-major).
  ConstView<S> weight(std::size_t l) const { return make_view<S>(params_ + offsets_[l], sizes_[l + 1], sizes_[l]); }
  /// Layer l's b (size l+1 x 1).
  ConstView<S> bias(std::size_t l) const {
    return make_view<S>(params_ + offsets_[l] + sizes_[l + 1] * sizes_[l], sizes_[l + 1], 1);
  }

  /// x (input x B) -> ws's last output, keeping every layer's output.
  View<S> forward(const Context& ctx, ConstView<S> x, Workspace& ws) const {
    const Index batch = x.cols;
    ConstView<S> in = x;
    for (std::size_t l = 0; l < layer_count(); ++l) {
      const View<S> y = ws.output(l, batch);
      const ActivationKind act = l + 1 < layer_count() ? activations_[l] : ActivationKind::Identity;
      with_activation(act, [&](auto a) { Dense::template forward<decltype(a)>(ctx, weight(l), bias(l), in, y); });
      in = y;
    }
    return ws.out_view(batch);
  }

  /// Mlp::backward with the activations chosen per layer.
  void backward(const Context& ctx, ConstView<S> x, Workspace& ws, View<S> dout, View<S> dx) const {
    const Index batch = x.cols;
    View<S> d = dout;
    for (std::size_t l = layer_count(); l-- > 0;) {
      const ConstView<S> in = l == 0 ? x : ConstView<S>(ws.output(l - 1, batch));
      const View<S> below = l == 0 ? dx : make_view(ws.grad[l % 2].data(), sizes_[l], batch);
      const ConstView<S> w = l == 0 && dx.data != nullptr ? weight(l).col_block(0, dx.rows) : weight(l);
      Dense::template backward<Identity>(ctx, w, in, ConstView<S>{}, d, weight_grad(l), bias_grad(l), below);
      if (l > 0)
        with_activation(activations_[l - 1], [&](auto a) {
          Ops<B, S>::for_each(ctx, below.rows, below.cols, kernels::ActivationGrad<decltype(a), S>{below, in});
        });
      d = below;
    }
  }

 private:
  View<S> weight_grad(std::size_t l) const { return make_view<S>(grads_ + offsets_[l], sizes_[l + 1], sizes_[l]); }
  View<S> bias_grad(std::size_t l) const {
    return make_view<S>(grads_ + offsets_[l] + sizes_[l + 1] * sizes_[l], sizes_[l + 1], 1);
  }

  std::vector<Index> sizes_, offsets_;
  std::vector<ActivationKind> activations_;
  ActivationKind declared_ = ActivationKind::Identity;
  S* params_ = nullptr;
  S* grads_ = nullptr;
};

/// @{
/// A network's sizes, fixed (its static members) or run-time (its values).
template <class N>
Index net_parameters(const N& n) {
  if constexpr (N::parameter_count == Dynamic) return n.num_parameters();
  else return N::parameter_count;
}
template <class N>
Index net_output_size(const N& n) {
  if constexpr (N::output_size == Dynamic) return n.output_size_value();
  else return N::output_size;
}
template <class N>
Index net_latent_size(const N& n) {
  if constexpr (N::latent_size == Dynamic) return n.latent_size_value();
  else return N::latent_size;
}
template <class N>
Index net_input_size(const N& n) {
  if constexpr (N::input_size == Dynamic) return n.input_size_value();
  else return N::input_size;
}
/// @}

/// A workspace for network n: its workspace() when it has one (a run-time
/// network's carries its sizes), else a default one.
template <class N, class = void>
struct has_workspace_factory : std::false_type {};
template <class N>
struct has_workspace_factory<N, std::void_t<decltype(std::declval<const N&>().workspace())>> : std::true_type {};
template <class N>
typename N::Workspace make_workspace(const N& n) {
  if constexpr (has_workspace_factory<N>::value) return n.workspace();
  else return typename N::Workspace{};
}

/// True for vae's dense networks, fixed (Mlp) or shaped at run time (DynamicMlp).
template <class N>
inline constexpr bool is_dense_network_v =
    is_mlp_network<N>::value || std::is_base_of_v<DynamicMlp<typename N::Scalar, typename N::Backend>, N>;

/// A dense network's layer sizes, input first.
template <class Net>
std::vector<Index> dense_sizes(const Net& net) {
  if constexpr (Net::parameter_count == Dynamic) return net.sizes();
  else return std::vector<Index>(Net::sizes.begin(), Net::sizes.end());
}

}  // namespace vae::detail
