// Must not compile: the decoder expects a 3-wide latent, the encoder makes 2.
#include <vae/vae.hpp>
int main() { vae::AutoencoderOf<vae::Encoder<16, 8, 2>, vae::Decoder<3, 8, 16>> model; }
