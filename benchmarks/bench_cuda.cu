// Google Benchmark throughput of the blog's models on the CUDA backend:
// training steps and batch encoding, and a training step of Burda et al.'s
// IWAE model (784-200-200-50 tanh, Bernoulli decoder, k = 1 and 5 samples,
// batch 20), as in bench_vae (items are samples). Each benchmark
// reports an error and skips when no CUDA device is present. Run:
//   build/benchmarks/bench_cuda --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <vae/vae.hpp>

namespace {

bool have_device(benchmark::State& state) {
  if (vae::cuda_device_count() > 0) return true;
  state.SkipWithError("no CUDA device: skipping");
  return false;
}

Eigen::MatrixXf random_batch(vae::Index n) { return (Eigen::MatrixXf::Random(784, n).array() + 1) / 2; }

template <class Model>
void BM_cuda_train_step(benchmark::State& state) {
  if (!have_device(state)) {
    for (auto _ : state) {
    }
    return;
  }
  Model model(1, {vae::Reconstruction::SquaredError, vae::KlForm::Blog, 1.0f});
  vae::Adam<float, vae::Cuda> opt({}, model.context());
  vae::Rng rng(2);
  const Eigen::MatrixXf x = random_batch(state.range(0));
  model.train_step(x, opt, rng);
  for (auto _ : state) benchmark::DoNotOptimize(model.train_step(x, opt, rng).total);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

template <class Model>
void BM_cuda_encode(benchmark::State& state) {
  if (!have_device(state)) {
    for (auto _ : state) {
    }
    return;
  }
  const Model model(1);
  const Eigen::MatrixXf x = random_batch(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(model.encode(x).data());
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// bench_vae's BM_iwae_train_step on the GPU: batch 20, k = state.range(0).
void BM_cuda_iwae_train_step(benchmark::State& state) {
  if (!have_device(state)) {
    for (auto _ : state) {
    }
    return;
  }
  constexpr vae::Index batch = 20;
  vae::Objective<float> objective;
  objective.reconstruction = vae::Reconstruction::BinaryCrossEntropy;
  objective.bound = vae::Bound::ImportanceWeighted;
  objective.samples = state.range(0);
  vae::MlpVae<vae::Layers<784, 200, 200, 50>, vae::Tanh, float, vae::Cuda> model(1, objective);
  vae::AdamOptions adam;
  adam.eps = 1e-4;
  vae::Adam<float, vae::Cuda> opt(adam, model.context());
  vae::Rng rng(2);
  const Eigen::MatrixXf x = (random_batch(batch).array() < 0.5f).cast<float>();
  model.train_step(x, opt, rng);
  for (auto _ : state) benchmark::DoNotOptimize(model.train_step(x, opt, rng).total);
  state.SetItemsProcessed(state.iterations() * batch);
}

using Vae2 = vae::VariationalAutoencoder<784, 512, 2, float, vae::Cuda>;
using Vae20 = vae::VariationalAutoencoder<784, 512, 20, float, vae::Cuda>;
using Ae2 = vae::Autoencoder<784, 512, 2, float, vae::Cuda>;

}  // namespace

BENCHMARK(BM_cuda_train_step<Vae2>)->Arg(128)->Arg(512)->Arg(4096)->UseRealTime();
BENCHMARK(BM_cuda_train_step<Vae20>)->Arg(128)->Arg(512)->UseRealTime();
BENCHMARK(BM_cuda_train_step<Ae2>)->Arg(128)->Arg(512)->UseRealTime();
BENCHMARK(BM_cuda_iwae_train_step)->ArgName("k")->Arg(1)->Arg(5)->UseRealTime();
BENCHMARK(BM_cuda_encode<Vae2>)->Arg(1024)->Arg(1)->UseRealTime();

BENCHMARK_MAIN();
