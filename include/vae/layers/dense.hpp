#pragma once
// A fully connected layer y = act(W x + b), W stored Out x In (column-major),
// batch along columns. The layer owns no memory: its weights and gradients
// are views into the flat buffers of the model that holds it.
//
// The element-wise steps are kernels: small structs whose apply<T>(i, j)
// runs an activation's formula at element (i, j) (T = one scalar or a CPU
// packet, core/elementwise.hpp); Ops<B, S>::for_each runs them on any
// backend.

#include <cmath>

#include "vae/backend/backend.hpp"
#include "vae/core/elementwise.hpp"
#include "vae/core/rng.hpp"
#include "vae/layers/activations.hpp"

namespace vae {

namespace kernels {

/// y(:, j) = act(y(:, j) + b).
template <class Act, class S>
struct BiasActivation {
  View<S> y;
  ConstView<S> b;
  VAE_ELEMENTWISE(class T) void apply(Index i, Index j) const {
    el::store(&y(i, j), Act::value(T(el::load<T>(&y(i, j)) + el::load<T>(&b(i, 0)))));
  }
};

/// out = act(in); in and out may be the same view.
template <class Act, class S>
struct Activation {
  ConstView<S> in;
  View<S> out;
  VAE_ELEMENTWISE(class T) void apply(Index i, Index j) const {
    el::store(&out(i, j), Act::value(el::load<T>(&in(i, j))));
  }
};

/// dy *= act'(t), read from the activation's output y: dL/da becomes dL/dt.
template <class Act, class S>
struct ActivationGrad {
  View<S> dy;
  ConstView<S> y;
  VAE_ELEMENTWISE(class T) void apply(Index i, Index j) const {
    el::store(&dy(i, j), T(el::load<T>(&dy(i, j)) * Act::derivative(el::load<T>(&y(i, j)))));
  }
};

}  // namespace kernels

namespace detail {

/// A dense layer's forward and backward on views, sizes taken from the views.
template <class S, class B>
struct DenseOps {
  using Ops = vae::Ops<B, S>;
  using Context = typename B::Context;

  /// y (Out x B) = act(W x + b) for x (In x B).
  template <class Act>
  static void forward(const Context& ctx, ConstView<S> w, ConstView<S> b, ConstView<S> x, View<S> y) {
    Ops::gemm(ctx, Trans::No, Trans::No, S(1), w, x, S(0), y);
    Ops::for_each(ctx, y.rows, y.cols, kernels::BiasActivation<Act, S>{y, b});
  }

  /// Given the forward's x and y and dL/dy: turns dy into dL/dt in place
  /// (through the activation), then
  ///   dW = dt x^T,  db = sum_j dt(:, j),  and, when dx.data != nullptr,
  ///   dx = W^T dt.
  template <class Act>
  static void backward(const Context& ctx, ConstView<S> w, ConstView<S> x, ConstView<S> y, View<S> dy, View<S> dw,
                       View<S> db, View<S> dx) {
    if constexpr (!std::is_same_v<Act, Identity>)
      Ops::for_each(ctx, dy.rows, dy.cols, kernels::ActivationGrad<Act, S>{dy, y});
    Ops::gemm(ctx, Trans::No, Trans::Yes, S(1), dy, x, S(0), dw);
    Ops::row_sums(ctx, dy, db);
    if (dx.data != nullptr) Ops::gemm(ctx, Trans::Yes, Trans::No, S(1), w, dy, S(0), dx);
  }

  /// PyTorch's nn.Linear default: W (out x in) then b, uniform in
  /// (-1/sqrt(in), 1/sqrt(in)), written to host memory.
  static void initialize(Rng& rng, Index in, Index out, S* host) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    for (Index i = 0; i < out * in + out; ++i) host[i] = rng.uniform<S>(S(-bound), S(bound));
  }
};

}  // namespace detail

/// A fully connected layer In -> Out with activation Act, y = act(W x + b),
/// its W and b held in buffers it does not own (bind). A layer on its own;
/// the networks of the models run the same code for every layer at once.
template <Index In, Index Out, class Act, class S, class B>
class Dense {
  static_assert(In > 0 && Out > 0, "vae::Dense<In, Out>: both sizes must be positive");
  static_assert(is_activation_v<Act>,
                "vae::Dense<In, Out, Act>: Act must provide name, value<T>(t) and derivative<T>(a) "
                "(see layers/activations.hpp)");
  using Impl = detail::DenseOps<S, B>;

 public:
  /// The backend's primitives for this scalar.
  using Ops = vae::Ops<B, S>;
  /// The backend's context (handles, stream).
  using Context = typename B::Context;
  /// Features in (columns of W).
  static constexpr Index inputs = In;
  /// Features out (rows of W).
  static constexpr Index outputs = Out;
  /// W (Out x In, column-major) followed by b (Out).
  static constexpr Index parameter_count = Out * In + Out;

  /// Points the layer at its slice of the model's parameter and gradient
  /// buffers (parameter_count scalars each).
  void bind(S* params, S* grads) {
    params_ = params;
    grads_ = grads;
  }

  /// W (Out x In, column-major), in the bound parameter buffer.
  ConstView<S> weight() const { return make_view<S>(params_, Out, In); }
  /// b (Out x 1).
  ConstView<S> bias() const { return make_view<S>(params_ + Out * In, Out, 1); }
  /// dL/dW of the last backward (Out x In), in the bound gradient buffer.
  View<S> weight_grad() const { return make_view<S>(grads_, Out, In); }
  /// dL/db of the last backward (Out x 1).
  View<S> bias_grad() const { return make_view<S>(grads_ + Out * In, Out, 1); }

  /// Writes parameter_count initial values to host memory: PyTorch's nn.Linear
  /// default, uniform in (-1/sqrt(In), 1/sqrt(In)), W then b.
  static void initialize(Rng& rng, S* host) { Impl::initialize(rng, In, Out, host); }

  /// y (Out x B) = act(W x + b) for x (In x B).
  void forward(const Context& ctx, ConstView<S> x, View<S> y) const {
    Impl::template forward<Act>(ctx, weight(), bias(), x, y);
  }

  /// Given the forward's x and y and dL/dy: writes dW = dt x^T and
  /// db = sum_j dt(:, j) (dt = dL/dt, which replaces dy in place) and, unless
  /// dx.data is null, dx = W^T dt (In x B).
  void backward(const Context& ctx, ConstView<S> x, ConstView<S> y, View<S> dy, View<S> dx) const {
    Impl::template backward<Act>(ctx, weight(), x, y, dy, weight_grad(), bias_grad(), dx);
  }

 private:
  S* params_ = nullptr;
  S* grads_ = nullptr;
};

}  // namespace vae
