#pragma once
// Linear-ReLU-Linear, the shape of every network in the blog: the encoder
// (In -> Hidden -> Latent), the variational encoder (In -> Hidden -> 2 Latent,
// the mean and log-sigma heads fused into one matrix) and the decoder
// (Latent -> Hidden -> Out, its sigmoid folded into the loss).

#include "vae/backend/backend.hpp"
#include "vae/layers/dense.hpp"

namespace vae::detail {

template <Index In, Index Hidden, Index Out, class S, class B>
class TwoLayer {
  static_assert(is_supported_scalar_v<S>, "vae: the scalar type must be float or double");

 public:
  using Scalar = S;
  using Backend = B;
  using Context = typename B::Context;
  using First = Dense<In, Hidden, Relu, S, B>;
  using Second = Dense<Hidden, Out, Identity, S, B>;
  static constexpr Index parameter_count = First::parameter_count + Second::parameter_count;

  /// Activations of one batch, kept for the backward pass. Sized for the
  /// largest batch seen; smaller batches use the first columns.
  struct Workspace {
    Buffer<B, S> hidden, out, hidden_grad;
    void reserve(Index batch) {
      hidden.reserve(Hidden * batch);
      out.reserve(Out * batch);
      hidden_grad.reserve(Hidden * batch);
    }
    View<S> hidden_view(Index batch) { return make_view(hidden.data(), Hidden, batch); }
    View<S> out_view(Index batch) { return make_view(out.data(), Out, batch); }
    View<S> hidden_grad_view(Index batch) { return make_view(hidden_grad.data(), Hidden, batch); }
  };

  void bind(S* params, S* grads) {
    first_.bind(params, grads);
    second_.bind(params + First::parameter_count, grads + First::parameter_count);
  }

  static void initialize(Rng& rng, S* host) {
    First::initialize(rng, host);
    Second::initialize(rng, host + First::parameter_count);
  }

  /// x (In x B) -> ws.out (Out x B), keeping ws.hidden. ws must hold B columns.
  View<S> forward(const Context& ctx, ConstView<S> x, Workspace& ws) const {
    const Index batch = x.cols;
    first_.forward(ctx, x, ws.hidden_view(batch));
    second_.forward(ctx, ws.hidden_view(batch), ws.out_view(batch));
    return ws.out_view(batch);
  }

  /// From dL/dout (Out x B, overwritten) to the parameter gradients and, when
  /// dx.data != nullptr, dL/dx (In x B). Needs the forward's x and ws.
  void backward(const Context& ctx, ConstView<S> x, Workspace& ws, View<S> dout, View<S> dx) const {
    const Index batch = x.cols;
    second_.backward(ctx, ws.hidden_view(batch), ws.out_view(batch), dout, ws.hidden_grad_view(batch));
    first_.backward(ctx, x, ws.hidden_view(batch), ws.hidden_grad_view(batch), dx);
  }

  const First& first() const { return first_; }
  const Second& second() const { return second_; }

 private:
  First first_;
  Second second_;
};

}  // namespace vae::detail
