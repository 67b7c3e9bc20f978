// Must not compile: int is not an activation policy.
#include <vae/vae.hpp>
int main() { vae::MlpAutoencoder<vae::Layers<16, 8, 2>, int> model; }
