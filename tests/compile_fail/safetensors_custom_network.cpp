// Must not compile: safetensors names the layers of vae's own networks only;
// an encoder of one's own (here one that wraps vae's, meeting the encoder
// requirements) has no PyTorch names.
#include <vae/io/safetensors.hpp>
#include <vae/vae.hpp>

#include "../wrapped_stack.hpp"

using WrappedEncoder = vae::test::WrappedStack<vae::Encoder<16, 8, 2>>;

int main() {
  const vae::AutoencoderOf<WrappedEncoder, vae::Decoder<2, 8, 16>> model;
  vae::io::save_safetensors(model, "unused.safetensors");
}
