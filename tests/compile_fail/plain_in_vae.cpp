// Must not compile: a VAE given a plain encoder.
#include <vae/vae.hpp>
int main() { vae::VariationalAutoencoderOf<vae::Encoder<16, 8, 2>, vae::Decoder<2, 8, 16>> model; }
