// Must not compile: train_step given something that is not an optimizer.
#include <vae/vae.hpp>
struct NotAnOptimizer {};
int main() {
  vae::Autoencoder<16, 8, 2> model;
  NotAnOptimizer opt;
  vae::Matrix<float> x = vae::Matrix<float>::Zero(16, 4);
  model.train_step(x, opt);
}
