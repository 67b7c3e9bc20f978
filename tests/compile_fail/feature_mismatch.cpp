// Must not compile: the decoder outputs 15 features, the encoder takes 16.
#include <vae/vae.hpp>
int main() { vae::AutoencoderOf<vae::Encoder<16, 8, 2>, vae::Decoder<2, 8, 15>> model; }
