// Micro-benchmarks of design choices, each against the alternative it
// replaced (docs/performance.md):
//   - element formulas written once and run by the generic loop on Eigen
//     packets (Ops<Cpu>::for_each / column_sums), against the same formulas
//     one element at a time (what a loop without packets does) and against
//     hand-written Eigen column expressions (the first release's code), for
//     the bias + ReLU of a 512 x 128 hidden layer and the squared-error loss
//     of a 784 x 128 batch, each on one thread (run with OMP_NUM_THREADS=1:
//     the loss's packets go through Ops<Cpu>::column_sums);
//   - Adam in one fused pass over the flat buffers, against the same update
//     as separate whole-buffer passes (PyTorch's unfused for-each Adam);
//   - the mean and log-sigma heads as one (2 Latent) x Hidden GEMM, against
//     two Latent x Hidden GEMMs.
// Run: build/benchmarks/bench_choices --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <cmath>

#include <vae/vae.hpp>

#include "benchmark_main.hpp"

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

enum class Path { Packets, Scalars, HandWritten };

/// Ops<Cpu>::for_each's loop on one thread: packets, then the ragged tail.
template <class F>
void packet_loop(vae::Index rows, vae::Index cols, const F& f) {
  constexpr vae::Index P = vae::kPacketSize<float>;
  for (vae::Index j = 0; j < cols; ++j) {
    vae::Index i = 0;
    for (; i + P <= rows; i += P) f.template apply<vae::Packet<float>>(i, j);
    for (; i < rows; ++i) f.template apply<float>(i, j);
  }
}

/// One element at a time: the kernel's apply<float> over the whole grid.
template <class F>
void scalar_loop(vae::Index rows, vae::Index cols, const F& f) {
  for (vae::Index j = 0; j < cols; ++j)
    for (vae::Index i = 0; i < rows; ++i) f.template apply<float>(i, j);
}

template <Path P>
void BM_bias_relu(benchmark::State& state) {
  const vae::Index rows = 512, cols = 128;
  Eigen::MatrixXf y = Eigen::MatrixXf::Random(rows, cols);
  const Eigen::VectorXf b = Eigen::VectorXf::Random(rows);
  const vae::kernels::BiasActivation<vae::Relu, float> k{vae::make_view(y.data(), rows, cols),
                                                         vae::make_view<float>(b.data(), rows, 1)};
  for (auto _ : state) {
    if (P == Path::Packets) packet_loop(rows, cols, k);
    if (P == Path::Scalars) scalar_loop(rows, cols, k);
    if (P == Path::HandWritten)
      for (vae::Index j = 0; j < cols; ++j) y.col(j) = (y.col(j) + b).cwiseMax(0.0f);
    y.array() -= 0.5f;  // keep values on both sides of 0
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * rows * cols);
}

template <Path P>
void BM_sse_loss(benchmark::State& state) {
  const vae::Index rows = 784, cols = 128;
  const Eigen::MatrixXf logits0 = 3 * Eigen::MatrixXf::Random(rows, cols);
  const Eigen::MatrixXf x = (Eigen::MatrixXf::Random(rows, cols).array() + 1) / 2;
  Eigen::MatrixXf t = logits0;
  Eigen::VectorXf col(cols);
  const vae::Cpu::Context ctx;
  const vae::kernels::ReconstructionLoss<vae::SquaredErrorLoss, float> k{vae::make_view(t.data(), rows, cols),
                                                                         vae::view_of<float>(x)};
  for (auto _ : state) {
    t = logits0;
    if (P == Path::Packets)
      vae::Ops<vae::Cpu, float>::column_sums(ctx, rows, cols, k, vae::make_view(col.data(), 1, cols));
    if (P == Path::Scalars)
      for (vae::Index j = 0; j < cols; ++j) {
        float total = 0;
        for (vae::Index i = 0; i < rows; ++i) total += k.apply<float>(i, j);
        col[j] = total;
      }
    if (P == Path::HandWritten)
      for (vae::Index j = 0; j < cols; ++j) {
        auto a = t.col(j).array();
        const auto xj = x.col(j).array();
        a = 1.0f / (1.0f + (-a).exp());
        col[j] = (a - xj).square().sum();
        a = 2.0f * (a - xj) * a * (1.0f - a);
      }
    benchmark::DoNotOptimize(col.data());
  }
  state.SetItemsProcessed(state.iterations() * rows * cols);
}

}  // namespace

BENCHMARK(BM_bias_relu<Path::Packets>)->Name("BM_bias_relu_packets")->UseRealTime();
BENCHMARK(BM_bias_relu<Path::Scalars>)->Name("BM_bias_relu_scalars")->UseRealTime();
BENCHMARK(BM_bias_relu<Path::HandWritten>)->Name("BM_bias_relu_hand_written")->UseRealTime();
BENCHMARK(BM_sse_loss<Path::Packets>)->Name("BM_sse_loss_packets")->UseRealTime();
BENCHMARK(BM_sse_loss<Path::Scalars>)->Name("BM_sse_loss_scalars")->UseRealTime();
BENCHMARK(BM_sse_loss<Path::HandWritten>)->Name("BM_sse_loss_hand_written")->UseRealTime();
BENCHMARK(BM_adam_fused)->UseRealTime();
BENCHMARK(BM_adam_unfused)->UseRealTime();
BENCHMARK(BM_heads<1>)->Name("BM_heads_one_gemm")->UseRealTime();
BENCHMARK(BM_heads<2>)->Name("BM_heads_two_gemms")->UseRealTime();

int main(int argc, char** argv) { return vae_bench::benchmark_main(argc, argv); }
