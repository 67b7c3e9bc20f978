// Must not compile: a batch whose row count is fixed at compile time to
// another number than the model's input size (10 rows for a 16-input model).
#include <vae/vae.hpp>
int main() {
  vae::Autoencoder<16, 8, 2> model;
  const Eigen::Matrix<float, 10, 4> x = Eigen::Matrix<float, 10, 4>::Zero();
  return static_cast<int>(model.encode(x).size());
}
