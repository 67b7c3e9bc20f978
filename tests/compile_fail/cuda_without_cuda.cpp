// Must not compile: the CUDA backend in a translation unit that nvcc does not
// compile (or in a build without VAE_WITH_CUDA), where only the tag vae::Cuda
// is declared.
#include <vae/vae.hpp>
int main() {
  vae::Ops<vae::Cuda, float> ops;
  (void)ops;
}
