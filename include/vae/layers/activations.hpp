#pragma once
// Activation policies for Dense layers. Each is a small static struct: the
// forward pass is fused with the bias add, the backward pass works from the
// layer's output (so no pre-activation has to be kept).

#include "vae/backend/backend.hpp"

namespace vae {

/// a = t.
struct Identity {
  template <class Ops, class Ctx, class S>
  static void forward(const Ctx& ctx, View<S> y, ConstView<S> bias) {
    Ops::add_bias(ctx, y, bias, false);
  }
  // da/dt = 1: the gradient passes through unchanged.
  template <class Ops, class Ctx, class S>
  static void backward(const Ctx&, View<S>, ConstView<S>) {}
};

/// a = max(t, 0).
struct Relu {
  template <class Ops, class Ctx, class S>
  static void forward(const Ctx& ctx, View<S> y, ConstView<S> bias) {
    Ops::add_bias(ctx, y, bias, true);
  }
  // da/dt = [a > 0], read from the output a.
  template <class Ops, class Ctx, class S>
  static void backward(const Ctx& ctx, View<S> dy, ConstView<S> y) {
    Ops::relu_backward(ctx, dy, y);
  }
};

}  // namespace vae
