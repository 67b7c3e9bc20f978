#pragma once
// A fully connected layer y = act(W x + b), W stored Out x In (column-major),
// batch along columns. The layer owns no memory: its weights and gradients
// are views into the flat buffers of the model that holds it.

#include <cmath>

#include "vae/backend/backend.hpp"
#include "vae/core/rng.hpp"
#include "vae/layers/activations.hpp"

namespace vae {

template <Index In, Index Out, class Act, class S, class B>
class Dense {
  static_assert(In > 0 && Out > 0, "vae::Dense<In, Out>: both sizes must be positive");

 public:
  using Ops = vae::Ops<B, S>;
  using Context = typename B::Context;
  static constexpr Index inputs = In;
  static constexpr Index outputs = Out;
  /// W (Out x In, column-major) followed by b (Out).
  static constexpr Index parameter_count = Out * In + Out;

  /// Points the layer at its slice of the model's parameter and gradient
  /// buffers (parameter_count scalars each).
  void bind(S* params, S* grads) {
    params_ = params;
    grads_ = grads;
  }

  ConstView<S> weight() const { return make_view<S>(params_, Out, In); }
  ConstView<S> bias() const { return make_view<S>(params_ + Out * In, Out, 1); }
  View<S> weight_grad() const { return make_view<S>(grads_, Out, In); }
  View<S> bias_grad() const { return make_view<S>(grads_ + Out * In, Out, 1); }

  /// PyTorch's nn.Linear default: W and b uniform in (-1/sqrt(In), 1/sqrt(In)).
  /// Writes parameter_count scalars to host memory (the model uploads them).
  static void initialize(Rng& rng, S* host) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(In));
    for (Index i = 0; i < parameter_count; ++i) host[i] = rng.uniform<S>(S(-bound), S(bound));
  }

  /// y (Out x B) = act(W x + b) for x (In x B).
  void forward(const Context& ctx, ConstView<S> x, View<S> y) const {
    Ops::gemm(ctx, Trans::No, Trans::No, S(1), weight(), x, S(0), y);
    Act::template forward<Ops>(ctx, y, bias());
  }

  /// Given the forward's x and y and dL/dy (In x B, Out x B): turns dy into
  /// dL/dt in place (through the activation), then
  ///   dW = dt x^T,  db = sum_j dt(:, j),  and, when dx.data != nullptr,
  ///   dx = W^T dt.
  void backward(const Context& ctx, ConstView<S> x, ConstView<S> y, View<S> dy, View<S> dx) const {
    Act::template backward<Ops>(ctx, dy, y);
    Ops::gemm(ctx, Trans::No, Trans::Yes, S(1), dy, x, S(0), weight_grad());
    Ops::bias_grad(ctx, dy, bias_grad());
    if (dx.data != nullptr) Ops::gemm(ctx, Trans::Yes, Trans::No, S(1), weight(), dy, S(0), dx);
  }

 private:
  S* params_ = nullptr;
  S* grads_ = nullptr;
};

}  // namespace vae
