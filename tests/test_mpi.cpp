// Data-parallel training over MPI, run by ctest as `mpirun -np 2`: 2 ranks at
// batch 64 step like 1 process at batch 128 (the autoencoder and the VAE),
// broadcast_state makes every rank hold rank 0's model and optimizer, and the
// reported losses are those of the whole epoch on every rank.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>

#include <vae/parallel/mpi.hpp>
#include <vae/vae.hpp>

namespace {

/// 8-d points of 3 clusters in [0, 1], one per column (the same on every rank).
template <class S>
vae::Matrix<S> clusters(vae::Index n) {
  vae::Rng rng(17);
  vae::Matrix<S> x(8, n);
  for (vae::Index j = 0; j < n; ++j)
    for (vae::Index i = 0; i < 8; ++i)
      x(i, j) = static_cast<S>(std::clamp(0.2 + 0.3 * double((i + j) % 3 == 0) + rng.uniform(0.0, 0.2), 0.0, 1.0));
  return x;
}

/// max |a - b| / max(|b|, 1e-3) over the parameters.
template <class V>
double max_relative_difference(const V& a, const V& b) {
  return ((a - b).array().abs() / b.array().abs().max(1e-3)).maxCoeff();
}

/// Trains `Model` for 2 epochs of 640 samples (10 steps): alone at batch 128
/// on rank 0, and on every rank at batch 64 with the data-parallel options.
/// Returns rank 0's max relative difference of the parameters (0 elsewhere).
template <class Model>
double ddp_against_single(const char* name) {
  using S = typename Model::Scalar;
  const vae::Matrix<S> data = clusters<S>(640);
  const vae::Objective<S> objective{vae::Reconstruction::BinaryCrossEntropy, vae::KlForm::Exact, S(1)};
  vae::TrainOptions o;
  o.epochs = 2;
  o.seed = 5;
  Model ddp(3, objective);
  vae::Adam<S> adam({1e-2});
  vae::mpi::DistributedOptimizer<vae::Adam<S>, S> optimizer(adam);
  o.batch_size = 64;
  const auto stats = vae::fit(ddp, optimizer, data, static_cast<const vae::Matrix<S>*>(nullptr), vae::mpi::distributed_options(o));
  CHECK(adam.steps() == 10);
  if (vae::mpi::rank() != 0) return 0;
  Model single(3, objective);
  vae::Adam<S> single_adam({1e-2});
  o.batch_size = 128;
  const auto single_stats = vae::fit(single, single_adam, data, static_cast<const vae::Matrix<S>*>(nullptr), o);
  const double diff = max_relative_difference(ddp.parameters_host(), single.parameters_host());
  MESSAGE(std::string(name) << ": 2 ranks x 64 against 1 x 128 after 10 steps, max relative parameter difference " << diff
               << "; epoch-2 train loss " << stats.back().train.total << " against " << single_stats.back().train.total);
  CHECK(stats.back().train.total == doctest::Approx(single_stats.back().train.total).epsilon(1e-4));
  return diff;
}

}  // namespace

TEST_CASE("2 ranks x batch 64 step like 1 process x batch 128") {
  REQUIRE(vae::mpi::size() == 2);
  using Ae = vae::MlpAutoencoder<vae::Layers<8, 16, 2>, vae::Tanh, double>;
  using Vae = vae::MlpVae<vae::Layers<8, 16, 2>, vae::Tanh, double>;
  const double ae = ddp_against_single<Ae>("autoencoder (double)");
  const double vae_diff = ddp_against_single<Vae>("VAE (double)");
  const double vae_float = ddp_against_single<vae::MlpVae<vae::Layers<8, 16, 2>, vae::Tanh, float>>("VAE (float)");
  // Only the order of the gradient sums differs: rounding, grown by 10 steps.
  CHECK(ae <= 1e-10);
  CHECK(vae_diff <= 1e-10);
  CHECK(vae_float <= 1e-4);
}

TEST_CASE("broadcast_state gives every rank rank 0's model, optimizer state and position") {
  using Model = vae::VariationalAutoencoder<8, 6, 2>;
  const int rank = vae::mpi::rank();
  Model model(100 + std::uint64_t(rank));  // different weights on each rank
  vae::Adam<float> adam({1e-3 * (rank + 1)});
  vae::Rng rng{static_cast<std::uint64_t>(rank)};
  const Eigen::MatrixXf x = clusters<float>(16);
  model.train_step(x, adam, rng);
  vae::io::TrainingPosition position{rank == 0 ? 7 : 1, rank == 0 ? 99u : 3u};
  vae::mpi::broadcast_state(model, &adam, &position);
  // Every rank now holds rank 0's state: compare a checksum across ranks.
  const Eigen::VectorXf p = model.parameters_host();
  Eigen::VectorXf m(p.size()), v(p.size());
  adam.download_state(m.data(), v.data());
  double mine[4] = {p.cast<double>().sum(), m.cast<double>().sum(), v.cast<double>().sum(), adam.options().lr};
  double low[4], high[4];
  MPI_Allreduce(mine, low, 4, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(mine, high, 4, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  for (int k = 0; k < 4; ++k) CHECK(low[k] == high[k]);
  CHECK(adam.options().lr == doctest::Approx(1e-3));
  CHECK(adam.steps() == 1);
  CHECK(position.next_epoch == 7);
  CHECK(position.seed == 99u);
}

int main(int argc, char** argv) {
  const vae::mpi::Session mpi(&argc, &argv);
  doctest::Context context(argc, argv);
  // Rank 0 reports; the others' failures still count through the reduction below.
  std::ofstream quiet;
  if (vae::mpi::rank() != 0) {
    quiet.open("/dev/null");
    context.setCout(&quiet);
  }
  int failed = context.run() != 0 ? 1 : 0, any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return any;
}
