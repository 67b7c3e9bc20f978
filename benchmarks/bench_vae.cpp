// Google Benchmark throughput of the blog's models on the CPU backend:
// training steps, encode (batch and single sample), decode, and Adam; and a
// training step of Burda et al.'s IWAE model (784-200-200-50 tanh, Bernoulli
// decoder, importance-weighted bound with k = 1 and 5 samples, batch 20).
// Items are samples (parameters for Adam). Run:
//   build/benchmarks/bench_vae --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <vae/vae.hpp>

#include "benchmark_main.hpp"

namespace {

template <class Model>
Model make_model() {
  return Model(1, {vae::Reconstruction::SquaredError, vae::KlForm::Blog, 1.0f});
}

Eigen::MatrixXf random_batch(vae::Index n) { return (Eigen::MatrixXf::Random(784, n).array() + 1) / 2; }

template <class Model>
void BM_train_step(benchmark::State& state) {
  auto model = make_model<Model>();
  vae::Adam<float> opt;
  vae::Rng rng(2);
  const Eigen::MatrixXf x = random_batch(state.range(0));
  model.train_step(x, opt, rng);
  for (auto _ : state) benchmark::DoNotOptimize(model.train_step(x, opt, rng).total);
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

template <class Model>
void BM_encode(benchmark::State& state) {
  const auto model = make_model<Model>();
  const Eigen::MatrixXf x = random_batch(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(model.encode(x).data());
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

template <class Model>
void BM_decode(benchmark::State& state) {
  const auto model = make_model<Model>();
  const Eigen::MatrixXf z = Eigen::MatrixXf::Random(Model::latent_size, state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(model.decode(z).data());
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_adam_step(benchmark::State& state) {
  using Model = vae::VariationalAutoencoder<784, 512, 2>;
  const vae::Index n = Model::parameter_count;
  Eigen::VectorXf p = Eigen::VectorXf::Random(n), g = Eigen::VectorXf::Random(n);
  vae::Adam<float> opt;
  for (auto _ : state) opt.step(vae::make_view(p.data(), n, 1), vae::make_view<float>(g.data(), n, 1));
  state.SetItemsProcessed(state.iterations() * n);
}

// One training step of the IWAE model of Burda et al. (2015): 784-200-200-50,
// tanh, binary cross-entropy with logits, the importance-weighted bound with
// k = state.range(0) samples per input, batch 20, Adam with eps 1e-4, on
// binary (0/1) input.
void BM_iwae_train_step(benchmark::State& state) {
  constexpr vae::Index batch = 20;
  vae::Objective<float> objective;
  objective.reconstruction = vae::Reconstruction::BinaryCrossEntropy;
  objective.bound = vae::Bound::ImportanceWeighted;
  objective.samples = state.range(0);
  vae::MlpVae<vae::Layers<784, 200, 200, 50>, vae::Tanh> model(1, objective);
  vae::AdamOptions adam;
  adam.eps = 1e-4;
  vae::Adam<float> opt(adam);
  vae::Rng rng(2);
  const Eigen::MatrixXf x = (random_batch(batch).array() < 0.5f).cast<float>();
  model.train_step(x, opt, rng);
  for (auto _ : state) benchmark::DoNotOptimize(model.train_step(x, opt, rng).total);
  state.SetItemsProcessed(state.iterations() * batch);
}

using Vae2 = vae::VariationalAutoencoder<784, 512, 2>;
using Vae20 = vae::VariationalAutoencoder<784, 512, 20>;
using Ae2 = vae::Autoencoder<784, 512, 2>;
using Ae20 = vae::Autoencoder<784, 512, 20>;

}  // namespace

BENCHMARK(BM_train_step<Vae2>)->Arg(32)->Arg(128)->Arg(512)->UseRealTime();
BENCHMARK(BM_train_step<Vae20>)->Arg(32)->Arg(128)->Arg(512)->UseRealTime();
BENCHMARK(BM_train_step<Ae2>)->Arg(32)->Arg(128)->Arg(512)->UseRealTime();
BENCHMARK(BM_train_step<Ae20>)->Arg(32)->Arg(128)->Arg(512)->UseRealTime();
BENCHMARK(BM_encode<Vae2>)->Arg(1024)->Arg(1)->UseRealTime();
BENCHMARK(BM_decode<Vae2>)->Arg(1024)->UseRealTime();
BENCHMARK(BM_iwae_train_step)->ArgName("k")->Arg(1)->Arg(5)->UseRealTime();
BENCHMARK(BM_adam_step)->UseRealTime();

int main(int argc, char** argv) { return vae_bench::benchmark_main(argc, argv); }
