// Must not compile: a deep encoder with latent size 2 and a decoder for 3.
#include <vae/vae.hpp>
int main() {
  vae::AutoencoderOf<vae::EncoderOf<vae::Layers<16, 8, 4, 2>, vae::Tanh>, vae::DecoderOf<vae::Layers<3, 4, 8, 16>, vae::Tanh>>
      model;
}
