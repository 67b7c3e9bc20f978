// Must not compile: a plain autoencoder given a variational encoder.
#include <vae/vae.hpp>
int main() { vae::AutoencoderOf<vae::VariationalEncoder<16, 8, 2>, vae::Decoder<2, 8, 16>> model; }
