// Must not compile: safetensors names the layers of vae's own networks only;
// an encoder of one's own (here one that wraps vae's, meeting the encoder
// requirements) has no PyTorch names.
#include <vae/io/safetensors.hpp>
#include <vae/vae.hpp>

struct WrappedEncoder {
  using Inner = vae::Encoder<16, 8, 2>;
  using Scalar = float;
  using Backend = vae::Cpu;
  using Workspace = Inner::Workspace;
  static constexpr vae::Index input_size = 16, latent_size = 2, output_size = 2;
  static constexpr vae::Index parameter_count = Inner::parameter_count;
  static constexpr bool is_variational = false;
  static void initialize(vae::Rng& rng, float* host) { Inner::initialize(rng, host); }
  void bind(float* params, float* grads) { inner.bind(params, grads); }
  vae::View<float> forward(const vae::Cpu::Context& ctx, vae::ConstView<float> x, Workspace& ws) const {
    return inner.forward(ctx, x, ws);
  }
  void backward(const vae::Cpu::Context& ctx, vae::ConstView<float> x, Workspace& ws, vae::View<float> dout,
                vae::View<float> dx) const {
    inner.backward(ctx, x, ws, dout, dx);
  }
  Inner inner;
};

int main() {
  const vae::AutoencoderOf<WrappedEncoder, vae::Decoder<2, 8, 16>> model;
  vae::io::save_safetensors(model, "unused.safetensors");
}
