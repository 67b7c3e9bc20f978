// Inference is const and thread-safe: many threads calling encode, decode,
// reconstruct and sample on one model get exactly the single-threaded answers.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include <vae/vae.hpp>

TEST_CASE("concurrent inference on one model matches sequential results") {
  const vae::VariationalAutoencoder<784, 128, 2> model(5);
  const Eigen::MatrixXf x = (Eigen::MatrixXf::Random(784, 32).array() + 1) / 2;
  const Eigen::MatrixXf mean = model.encode(x);
  const Eigen::MatrixXf x_hat = model.reconstruct(x);
  vae::Rng ref_rng(8);
  const Eigen::MatrixXf drawn = model.sample(4, ref_rng);

  constexpr int kThreads = 8;
  std::vector<int> ok(kThreads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t)
    pool.emplace_back([&, t] {
      bool good = true;
      for (int i = 0; i < 5; ++i) {
        vae::Rng rng(8);
        good = good && model.encode(x) == mean && model.reconstruct(x) == x_hat && model.sample(4, rng) == drawn;
      }
      ok[t] = good;
    });
  for (auto& th : pool) th.join();
  for (int t = 0; t < kThreads; ++t) CHECK(ok[t] == 1);
}
