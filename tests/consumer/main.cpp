// Trains a small VAE for a few steps and prints its loss; the consumer tests
// check that this builds and runs against an installed or embedded vae.
#include <cstdio>

#include <vae/vae.hpp>

int main() {
  vae::VariationalAutoencoder<32, 16, 2> model(1);
  vae::Adam<float> opt;
  vae::Rng rng(2);
  const Eigen::MatrixXf x = (Eigen::MatrixXf::Random(32, 8).array() + 1) / 2;
  const float first = model.train_step(x, opt, rng).total;
  float last = first;
  for (int i = 0; i < 50; ++i) last = model.train_step(x, opt, rng).total;
  std::printf("consumer: vae %s, loss %.3f -> %.3f\n", VAE_VERSION_STRING, first, last);
  return last < first ? 0 : 1;
}
