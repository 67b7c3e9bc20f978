// The importance-weighted bound and the log-likelihood estimate on the CUDA
// backend. Compiling this file proves their kernels build for the GPU; with a
// GPU it checks the bound's gradient by finite differences in double (k = 1,
// 2, 5) and CPU/GPU agreement of the bound and of log_likelihood. Without a
// device each case prints "no CUDA device: skipping ..." and returns.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include <vae/vae.hpp>

#include "gradient_check.hpp"

namespace {

constexpr vae::Index kIn = 6, kBatch = 3;
template <class S, class B>
using Model = vae::MlpVae<vae::Layers<kIn, 5, 2>, vae::Tanh, S, B>;

bool skip(const char* what) {
  if (vae::cuda_device_count() > 0) return false;
  std::printf("no CUDA device: skipping %s\n", what);
  return true;
}

Eigen::MatrixXd batch() {
  Eigen::MatrixXd x(kIn, kBatch);
  for (vae::Index j = 0; j < kBatch; ++j)
    for (vae::Index i = 0; i < kIn; ++i) x(i, j) = double((i * 7 + j * 3) % 5) / 4;
  return x;
}

vae::Objective<double> iwae(vae::Index k) {
  vae::Objective<double> o;
  o.reconstruction = vae::Reconstruction::BinaryCrossEntropy;
  o.bound = vae::Bound::ImportanceWeighted;
  o.samples = k;
  return o;
}

}  // namespace

TEST_CASE("GPU: the importance-weighted bound's gradient, k = 1, 2, 5") {
  if (skip("the importance-weighted bound's gradient check")) return;
  for (const vae::Index k : {vae::Index(1), vae::Index(2), vae::Index(5)}) {
    Model<double, vae::Cuda> gpu(11, iwae(k));
    Model<double, vae::Cpu> cpu(11, iwae(k));
    const auto check = vae::test::model_gradient_check(gpu, batch(), vae::Rng(5));
    vae::Rng rng(5);
    cpu.compute_gradients(batch(), rng);
    const double parity = (gpu.gradients_host() - cpu.gradients_host()).cwiseAbs().maxCoeff();
    MESSAGE("k " << k << ": max relative error " << check.max_relative_error << ", GPU - CPU gradient " << parity);
    CHECK(check.max_relative_error <= 1e-6);
    CHECK(parity <= 1e-10);
  }
}

TEST_CASE("GPU: log_likelihood matches the CPU's") {
  if (skip("log_likelihood parity")) return;
  Model<double, vae::Cuda> gpu(3, iwae(1));
  Model<double, vae::Cpu> cpu(3, iwae(1));
  const Eigen::MatrixXd x = batch().replicate(1, 50);
  vae::Rng a(8), b(8);
  const Eigen::VectorXd lg = gpu.log_likelihood(x, 500, a, 4096), lc = cpu.log_likelihood(x, 500, b, 4096);
  MESSAGE("GPU - CPU log-likelihood " << (lg - lc).cwiseAbs().maxCoeff());
  CHECK((lg - lc).cwiseAbs().maxCoeff() <= 1e-9);
}
