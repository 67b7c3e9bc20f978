// Training behaviour: determinism (same seed, same parameters, bit for bit)
// and a short run on synthetic data whose loss must fall by a stated amount.
#include <doctest/doctest.h>

#include <vae/vae.hpp>

namespace test_training {

namespace {

constexpr vae::Index kIn = 64, kHidden = 32, kLatent = 2;

/// 512 samples from a 2-d manifold: x = sigmoid(A u) for u uniform in a square.
Eigen::MatrixXf manifold_data(vae::Index n) {
  vae::Rng rng(77);
  Eigen::MatrixXf a(kIn, 2), u(2, n);
  for (vae::Index i = 0; i < a.size(); ++i) a.data()[i] = rng.uniform(-3.0f, 3.0f);
  for (vae::Index i = 0; i < u.size(); ++i) u.data()[i] = rng.uniform(-1.0f, 1.0f);
  return (1.0f / (1.0f + (-(a * u)).array().exp())).matrix();
}

template <class Model>
Eigen::VectorXf train(std::uint64_t seed, int steps, vae::Objective<float> objective, float* first = nullptr,
                      float* last = nullptr) {
  const Eigen::MatrixXf data = manifold_data(512);
  Model model(seed, objective);
  vae::Adam<float> opt;
  vae::Rng rng(seed + 1);
  for (int s = 0; s < steps; ++s) {
    const auto parts = model.train_step(data.middleCols((s % 8) * 64, 64), opt, rng);
    if (s == 0 && first) *first = parts.total;
  }
  if (last) *last = model.evaluate(data, rng).total;
  return model.parameters_host();
}

}  // namespace

TEST_CASE("same seed gives the same parameters bit for bit") {
  using Vae = vae::VariationalAutoencoder<kIn, kHidden, kLatent>;
  const auto a = train<Vae>(3, 40, {});
  const auto b = train<Vae>(3, 40, {});
  const auto c = train<Vae>(4, 40, {});
  CHECK(a.size() == Vae::parameter_count);
  CHECK(std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0);
  CHECK(a != c);
}

TEST_CASE("autoencoder loss falls to below a third of its start in 400 steps") {
  float first = 0, last = 0;
  train<vae::Autoencoder<kIn, kHidden, kLatent>>(1, 400, {}, &first, &last);
  MESSAGE("autoencoder squared error per sample: first batch " << first << ", after 400 steps " << last);
  CHECK(last < first / 3);
}

TEST_CASE("VAE loss falls by a stated amount in 400 steps, for each objective") {
  using Vae = vae::VariationalAutoencoder<kIn, kHidden, kLatent>;
  using R = vae::Reconstruction;
  using K = vae::KlForm;
  float first = 0, last = 0;
  train<Vae>(1, 400, {R::SquaredError, K::Blog, 1.0f}, &first, &last);
  MESSAGE("VAE, squared error + blog KL, per sample: first batch " << first << ", after 400 steps " << last);
  CHECK(last < 0.6f * first);

  // BCE against soft targets cannot reach 0: its floor is the targets' own
  // entropy, sum -[x log x + (1 - x) log(1 - x)]. The part above it must halve.
  const Eigen::ArrayXXf x = manifold_data(512).array();
  const float floor = -(x * x.log() + (1 - x) * (1 - x).log()).sum() / 512;
  train<Vae>(1, 400, {R::BinaryCrossEntropy, K::Exact, 1.0f}, &first, &last);
  MESSAGE("VAE, BCE + exact KL, per sample: first batch " << first << ", after 400 steps " << last
                                                           << ", entropy floor " << floor);
  CHECK(last - floor < 0.5f * (first - floor));
}

}  // namespace test_training
