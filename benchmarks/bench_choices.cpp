// Micro-benchmarks of two design choices, each against the alternative it
// replaced (docs/performance.md):
//   - Adam in one fused pass over the flat buffers, against the same update
//     as separate whole-buffer passes (PyTorch's unfused for-each Adam);
//   - the mean and log-sigma heads as one (2 Latent) x Hidden GEMM, against
//     two Latent x Hidden GEMMs.
// Run: build/benchmarks/bench_choices --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <cmath>

#include <vae/vae.hpp>

namespace {

constexpr vae::Index kParams = vae::VariationalAutoencoder<784, 512, 2>::parameter_count;

void BM_adam_fused(benchmark::State& state) {
  Eigen::VectorXf p = Eigen::VectorXf::Random(kParams), g = Eigen::VectorXf::Random(kParams);
  vae::Adam<float> opt;
  for (auto _ : state) opt.step(vae::make_view(p.data(), kParams, 1), vae::make_view<float>(g.data(), kParams, 1));
  state.SetItemsProcessed(state.iterations() * kParams);
}

/// The same rule as separate passes, each reading and writing whole buffers:
/// m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; denom = sqrt(v)/sqrt(bc2) + eps;
/// p -= step * m / denom.
void BM_adam_unfused(benchmark::State& state) {
  Eigen::ArrayXf p = Eigen::ArrayXf::Random(kParams), g = Eigen::ArrayXf::Random(kParams);
  Eigen::ArrayXf m = Eigen::ArrayXf::Zero(kParams), v = Eigen::ArrayXf::Zero(kParams), denom(kParams);
  const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, lr = 1e-3f;
  long t = 0;
  for (auto _ : state) {
    ++t;
    const float bc1 = 1 - std::pow(b1, float(t)), bc2 = 1 - std::pow(b2, float(t));
    m *= b1;
    m += (1 - b1) * g;
    v *= b2;
    v += (1 - b2) * g * g;
    denom = v.sqrt();
    denom /= std::sqrt(bc2);
    denom += eps;
    p -= (lr / bc1) * m / denom;
    benchmark::DoNotOptimize(p.data());
  }
  state.SetItemsProcessed(state.iterations() * kParams);
}

template <int Gemms>
void BM_heads(benchmark::State& state) {
  const vae::Index batch = 128, hidden = 512, latent = 2;
  const Eigen::MatrixXf w = Eigen::MatrixXf::Random(2 * latent, hidden), h = Eigen::MatrixXf::Random(hidden, batch);
  Eigen::MatrixXf out(2 * latent, batch);
  const vae::Cpu::Context ctx;
  using Ops = vae::Ops<vae::Cpu, float>;
  for (auto _ : state) {
    if (Gemms == 1) {
      Ops::gemm(ctx, vae::Trans::No, vae::Trans::No, 1.0f, vae::view_of<float>(w), vae::view_of<float>(h), 0.0f,
                vae::make_view(out.data(), 2 * latent, batch));
    } else {
      const vae::ConstView<float> wv = vae::view_of<float>(w);
      const vae::View<float> ov = vae::make_view(out.data(), 2 * latent, batch);
      Ops::gemm(ctx, vae::Trans::No, vae::Trans::No, 1.0f, wv.row_block(0, latent), vae::view_of<float>(h), 0.0f,
                ov.row_block(0, latent));
      Ops::gemm(ctx, vae::Trans::No, vae::Trans::No, 1.0f, wv.row_block(latent, latent), vae::view_of<float>(h), 0.0f,
                ov.row_block(latent, latent));
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

}  // namespace

BENCHMARK(BM_adam_fused)->UseRealTime();
BENCHMARK(BM_adam_unfused)->UseRealTime();
BENCHMARK(BM_heads<1>)->Name("BM_heads_one_gemm")->UseRealTime();
BENCHMARK(BM_heads<2>)->Name("BM_heads_two_gemms")->UseRealTime();

BENCHMARK_MAIN();
