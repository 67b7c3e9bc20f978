// Must not compile: a dense layer straight after an image (no net::Flatten).
#include <vae/vae.hpp>
int main() {
  namespace n = vae::net;
  using Enc = vae::Stack<n::Conv2d<1, 8, 8, 2, 3, 2, 1, vae::Relu>, n::Dense<32, 4>>;
  vae::StackVariationalEncoder<Enc> encoder;
}
