// Must not compile: fit with a float optimizer on a double model.
#include <vae/vae.hpp>
int main() {
  vae::VariationalAutoencoder<16, 8, 2, double> model;
  vae::Adam<float> optimizer;
  const vae::Matrix<double> data = vae::Matrix<double>::Zero(16, 4);
  vae::fit(model, optimizer, data, nullptr, vae::TrainOptions{});
}
