// Must not compile: a float encoder with a double decoder.
#include <vae/vae.hpp>
int main() { vae::AutoencoderOf<vae::Encoder<16, 8, 2, float>, vae::Decoder<2, 8, 16, double>> model; }
