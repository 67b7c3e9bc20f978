// A network of one's own for the tests: it meets the encoder requirements by
// forwarding to one of vae's networks, so the library cannot look inside it.
#pragma once

#include <vae/vae.hpp>

namespace vae::test {

/// Wraps Inner (a vae encoder or decoder on the CPU) behind the stack
/// requirements alone: sizes, parameter count, initialize, bind, forward and
/// backward; no layer sizes or activation the library could read.
template <class Inner>
struct WrappedStack {
  using Scalar = typename Inner::Scalar;
  using Backend = vae::Cpu;
  using Workspace = typename Inner::Workspace;
  static constexpr vae::Index input_size = Inner::input_size, latent_size = Inner::latent_size,
                              output_size = Inner::output_size;
  static constexpr vae::Index parameter_count = Inner::parameter_count;
  static constexpr bool is_variational = Inner::is_variational;
  static void initialize(vae::Rng& rng, Scalar* host) { Inner::initialize(rng, host); }
  void bind(Scalar* params, Scalar* grads) { inner.bind(params, grads); }
  vae::View<Scalar> forward(const vae::Cpu::Context& ctx, vae::ConstView<Scalar> x, Workspace& ws) const {
    return inner.forward(ctx, x, ws);
  }
  void backward(const vae::Cpu::Context& ctx, vae::ConstView<Scalar> x, Workspace& ws, vae::View<Scalar> dout,
                vae::View<Scalar> dx) const {
    inner.backward(ctx, x, ws, dout, dx);
  }
  Inner inner;
};

}  // namespace vae::test
