// No heap allocation inside a steady-state training step. Two independent
// witnesses: Eigen's runtime malloc check (EIGEN_RUNTIME_NO_MALLOC, which
// asserts on any allocation Eigen makes) and a count of global operator new.
// The counting operator new below frees with std::free, which g++ cannot see
// pairs with its std::malloc.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#define EIGEN_RUNTIME_NO_MALLOC
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include <vae/vae.hpp>

namespace {
std::atomic<long> g_news{0};
}

void* operator new(std::size_t n) {
  ++g_news;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

template <class Model>
void check_steady_state(const char* name) {
  Model model(1);
  vae::Adam<float> opt;
  vae::Rng rng(2);
  Eigen::MatrixXf big = (Eigen::MatrixXf::Random(model.num_inputs(), 128).array() + 1) / 2;
  if constexpr (Model::classes > 0) {  // a conditional model's one-hot label below the pixels
    std::vector<int> labels(128);
    for (int j = 0; j < 128; ++j) labels[std::size_t(j)] = j % int(Model::classes);
    big.bottomRows(Model::classes) = vae::one_hot<float>(labels, Model::classes);
  }
  // Warm up with the largest batch: the workspace and Adam's moments are sized here.
  model.train_step(big, opt, rng);
  model.train_step(big.leftCols(64), opt, rng);

  const long before = g_news.load();
  Eigen::internal::set_is_malloc_allowed(false);
  for (int i = 0; i < 3; ++i) {
    model.train_step(big, opt, rng);
    model.train_step(big.leftCols(100), opt, rng);
  }
  Eigen::internal::set_is_malloc_allowed(true);
  const long after = g_news.load();
  MESSAGE(std::string(name) << ": operator new calls during 6 steady-state steps: " << after - before);
  CHECK(after == before);
  CHECK(opt.steps() == 8);
}

TEST_CASE("steady-state training steps allocate nothing") {
  check_steady_state<vae::VariationalAutoencoder<784, 512, 2>>("VAE 784-512-2");
  check_steady_state<vae::Autoencoder<784, 512, 2>>("autoencoder 784-512-2");
}

TEST_CASE("steady-state training steps allocate nothing, for every depth and activation") {
  check_steady_state<vae::MlpVae<vae::Layers<784, 200, 200, 50>, vae::Tanh>>("VAE 784-200-200-50 tanh");
  check_steady_state<vae::MlpAutoencoder<vae::Layers<784, 400, 200, 100, 2>, vae::Elu>>("autoencoder 784-400-200-100-2 elu");
  check_steady_state<vae::MlpVae<vae::Layers<784, 64, 20>, vae::Softplus>>("VAE 784-64-20 softplus");
  check_steady_state<vae::MlpVae<vae::Layers<784, 10>, vae::Relu>>("VAE 784-10 (no hidden layer)");
}

TEST_CASE("steady-state training steps of a convolutional VAE allocate nothing") {
  check_steady_state<vae::KerasConvVae<2>>("the Keras example's convolutional VAE");
  check_steady_state<vae::KerasConvCvae<2, 10>>("the Keras example's conditional VAE (label planes)");
  check_steady_state<vae::StackAutoencoder<vae::Stack<vae::net::Reshape<1, 28, 28>, vae::net::Conv2d<1, 28, 28, 4, 4, 2, 1, vae::Relu>,
                                                      vae::net::Flatten<4, 14, 14>, vae::net::Dense<784, 3>>,
                                           vae::Stack<vae::net::Dense<3, 196, vae::Tanh>, vae::net::Reshape<1, 14, 14>,
                                                      vae::net::ConvTranspose2d<1, 14, 14, 1, 4, 2, 1, 0>>>>(
      "a convolutional autoencoder with reshape, stride 2 and kernel 4");
}
