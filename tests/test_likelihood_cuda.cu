// The importance-weighted bound and the log-likelihood estimate on the CUDA
// backend. Compiling this file proves their kernels build for the GPU; with a
// GPU it checks the bound's gradient by finite differences in double (k = 1,
// 2, 5) and CPU/GPU agreement of the bound and of log_likelihood, for the
// VAE and the conditional VAE. Without a
// device each case prints "no CUDA device: skipping ..." and returns.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

#include <vae/vae.hpp>

#include "gradient_check.hpp"

namespace test_likelihood_cuda {

namespace {

constexpr vae::Index kIn = 6, kBatch = 3;
template <class S, class B>
using Model = vae::MlpVae<vae::Layers<kIn, 5, 2>, vae::Tanh, S, B>;
template <class S, class B>
using Cvae = vae::MlpCvae<vae::Layers<kIn, 5, 2>, 3, vae::Tanh, S, B>;

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

Eigen::MatrixXd labelled_batch() { return vae::with_labels<double>(batch(), std::vector<int>{0, 2, 1}, 3); }

vae::Objective<double> iwae(vae::Index k) {
  vae::Objective<double> o;
  o.reconstruction = vae::Reconstruction::BinaryCrossEntropy;
  o.bound = vae::Bound::ImportanceWeighted;
  o.samples = k;
  return o;
}

/// Model M on the GPU against the CPU on batch x with the importance-weighted
/// bound at k: the GPU's gradient by finite differences, and the CPU's.
template <template <class, class> class M>
void gradient_parity(const Eigen::MatrixXd& x, vae::Index k, const char* what) {
  M<double, vae::Cuda> gpu(11, iwae(k));
  M<double, vae::Cpu> cpu(11, iwae(k));
  const auto check = vae::test::model_gradient_check(gpu, x, vae::Rng(5));
  vae::Rng rng(5);
  cpu.compute_gradients(x, rng);
  const double parity = (gpu.gradients_host() - cpu.gradients_host()).cwiseAbs().maxCoeff();
  MESSAGE(what << ", k " << k << ": max relative error " << check.max_relative_error << ", GPU - CPU gradient " << parity);
  CHECK(check.max_relative_error <= 1e-6);
  CHECK(parity <= 1e-10);
}

/// log_likelihood of model M (k = 500) on the GPU and the CPU from the same noise.
template <template <class, class> class M>
void likelihood_parity(const Eigen::MatrixXd& x, const char* what) {
  M<double, vae::Cuda> gpu(3, iwae(1));
  M<double, vae::Cpu> cpu(3, iwae(1));
  vae::Rng a(8), b(8);
  const Eigen::VectorXd lg = gpu.log_likelihood(x, 500, a, 4096), lc = cpu.log_likelihood(x, 500, b, 4096);
  MESSAGE(what << ": GPU - CPU log-likelihood " << (lg - lc).cwiseAbs().maxCoeff());
  CHECK((lg - lc).cwiseAbs().maxCoeff() <= 1e-9);
}

}  // namespace

TEST_CASE("GPU: the importance-weighted bound's gradient, k = 1, 2, 5") {
  if (skip("the importance-weighted bound's gradient check")) return;
  for (const vae::Index k : {vae::Index(1), vae::Index(2), vae::Index(5)}) gradient_parity<Model>(batch(), k, "VAE");
}

TEST_CASE("GPU: log_likelihood matches the CPU's") {
  if (skip("log_likelihood parity")) return;
  likelihood_parity<Model>(batch().replicate(1, 50), "VAE");
}

TEST_CASE("GPU: the conditional VAE's importance-weighted gradient and log_likelihood match") {
  if (skip("the conditional VAE's importance-weighted bound and log_likelihood")) return;
  for (const vae::Index k : {vae::Index(1), vae::Index(3)}) gradient_parity<Cvae>(labelled_batch(), k, "conditional VAE");
  likelihood_parity<Cvae>(labelled_batch().replicate(1, 50), "conditional VAE");
}

}  // namespace test_likelihood_cuda
