// Train a small VAE on random blobs and print the loss: the smallest program
// that uses the library (the README shows it).
#include <iostream>

#include <vae/vae.hpp>

int main() {
  // 784 inputs, 512 hidden units, a 2-d latent space; float on the CPU.
  vae::VariationalAutoencoder<784, 512, 2> model(/*seed=*/42);
  vae::Adam<float> optimizer({/*lr=*/1e-3});
  vae::Rng rng(/*seed=*/1);

  // One sample per column, values in [0, 1].
  const Eigen::MatrixXf batch = (Eigen::MatrixXf::Random(784, 128).array() + 1) / 2;
  for (int step = 0; step < 5; ++step) {
    const vae::LossParts<float> loss = model.train_step(batch, optimizer, rng);
    std::cout << "step " << step << ": loss " << loss.total << " (reconstruction " << loss.reconstruction
              << ", KL " << loss.kl << ")\n";
  }
  const Eigen::MatrixXf codes = model.encode(batch);    // 2 x 128 latent means
  const Eigen::MatrixXf images = model.sample(8, rng);  // 784 x 8 new images
  std::cout << "latent of sample 0: " << codes.col(0).transpose() << ", sampled " << images.cols() << " images\n";
}
