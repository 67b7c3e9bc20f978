// The counter-based generator: known-answer Philox values, reproducibility,
// and the moments of the normals and uniforms it draws.
#include <doctest/doctest.h>

#include <vector>

#include <vae/vae.hpp>

namespace test_rng {

TEST_CASE("Philox4x32-10 known-answer vectors (Random123)") {
  // From Random123's kat_vectors: counter 0, key 0 and counter all-ones, key all-ones.
  const auto zero = vae::detail::philox4x32(0, 0);
  CHECK(zero.w[0] == 0x6627e8d5u);
  CHECK(zero.w[1] == 0xe169c58du);
  CHECK(zero.w[2] == 0xbc57ac4cu);
  CHECK(zero.w[3] == 0x9b00dbd8u);
}

TEST_CASE("same seed, same stream; copies replay") {
  vae::Rng a(42), b(42), c(43);
  std::vector<double> xa(1001), xb(1001), xc(1001);
  a.fill_normal(xa.data(), 1001);
  b.fill_normal(xb.data(), 1001);
  c.fill_normal(xc.data(), 1001);
  CHECK(xa == xb);
  CHECK(xa != xc);
  CHECK(a.counter() == 251);  // ceil(1001 / 4) blocks
  vae::Rng replay = a;
  CHECK(replay.uniform_index(1000) == a.uniform_index(1000));
}

TEST_CASE("normals have mean 0 and variance 1; uniforms and indices are in range") {
  vae::Rng rng(1);
  const vae::Index n = 200000;
  Eigen::VectorXd x(n);
  rng.fill_normal(x.data(), n);
  const double mean = x.mean();
  const double var = (x.array() - mean).square().mean();
  CHECK(std::abs(mean) < 4 / std::sqrt(double(n)));
  CHECK(var == doctest::Approx(1.0).epsilon(0.02));
  CHECK(x.allFinite());
  for (int i = 0; i < 1000; ++i) {
    const double u = rng.uniform(-2.0, 3.0);
    CHECK((u >= -2.0 && u < 3.0));
    CHECK(rng.uniform_index(7) < 7u);
  }
}

TEST_CASE("shuffle is a seeded permutation") {
  std::vector<int> a(100), b(100);
  for (int i = 0; i < 100; ++i) a[i] = b[i] = i;
  vae::Rng r1(5), r2(5);
  r1.shuffle(a.begin(), a.end());
  r2.shuffle(b.begin(), b.end());
  CHECK(a == b);
  std::vector<int> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 100; ++i) CHECK(sorted[i] == i);
  int fixed_points = 0;
  for (int i = 0; i < 100; ++i) fixed_points += a[i] == i;
  CHECK(fixed_points < 10);
}

}  // namespace test_rng
