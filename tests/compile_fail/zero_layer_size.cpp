// Must not compile: a hidden layer of size 0.
#include <vae/vae.hpp>
int main() { vae::MlpAutoencoder<vae::Layers<16, 0, 2>> model; }
