// Data-parallel training over MPI, run by ctest as `mpirun -np 2`: 2 ranks at
// batch 64 step like 1 process at batch 128 (the autoencoder and the VAE;
// the importance-weighted bound for every k),
// broadcast_state makes every rank hold rank 0's model, objective and
// optimizer, the reported losses are those of the whole epoch on every rank,
// a rank that throws inside together() stops every rank with its message,
// and counts too large for one MPI call are refused by name.
//
// With --leave-by-exception, rank 1 throws out of the Session's scope while
// rank 0 waits in a barrier: the job must end (MPI_Abort), not hang.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <utility>
#include <vector>

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

/// Whether every rank holds the same values of v (min and max across ranks
/// of its sum and of its sum of squares agree).
template <class V>
bool same_on_every_rank(const V& v) {
  double mine[2] = {v.template cast<double>().sum(), v.template cast<double>().squaredNorm()}, low[2], high[2];
  MPI_Allreduce(mine, low, 2, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(mine, high, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return low[0] == high[0] && low[1] == high[1];
}

template <class S>
vae::Objective<S> bce_objective() {
  return {vae::Reconstruction::BinaryCrossEntropy, vae::KlForm::Exact, S(1)};
}

/// Trains `Model` for 2 epochs of 640 samples (10 steps): alone at batch 128
/// on rank 0, and on every rank at batch 64 with the data-parallel options.
/// Returns rank 0's max relative difference of the parameters (0 elsewhere).
template <class Model>
double ddp_against_single(const char* name, const vae::Objective<typename Model::Scalar>& objective =
                                                bce_objective<typename Model::Scalar>()) {
  using S = typename Model::Scalar;
  const vae::Matrix<S> data = clusters<S>(640);
  vae::TrainOptions o;
  o.epochs = 2;
  o.seed = 5;
  Model ddp(3, objective);
  vae::Adam<S> adam({1e-2});
  vae::mpi::DistributedOptimizer<vae::Adam<S>, S> optimizer(adam);
  o.batch_size = 64;
  const auto stats = vae::fit(ddp, optimizer, data, static_cast<const vae::Matrix<S>*>(nullptr), vae::mpi::distributed_options(o));
  CHECK(adam.steps() == 10);
  CHECK(same_on_every_rank(ddp.parameters_host()));
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

TEST_CASE("the importance-weighted bound: exact like one process for every k") {
  using Vae = vae::MlpVae<vae::Layers<8, 16, 2>, vae::Tanh, double>;
  vae::Objective<double> iwae = bce_objective<double>();
  iwae.bound = vae::Bound::ImportanceWeighted;
  // Each rank draws, for every draw s, its own columns of the draws one
  // process takes for the whole batch (Rng::share, one run per draw).
  for (const vae::Index k : {vae::Index(1), vae::Index(3)}) {
    CAPTURE(k);
    iwae.samples = k;
    const std::string name = "IWAE k = " + std::to_string(k) + " (double)";
    CHECK(ddp_against_single<Vae>(name.c_str(), iwae) <= 1e-10);
  }
}

TEST_CASE("broadcast_state gives every rank rank 0's objective (a resumed checkpoint's)") {
  using Model = vae::MlpVae<vae::Layers<8, 16, 2>, vae::Tanh, double>;
  Model model(3);  // default objective on every rank: squared error, exact KL, ELBO
  if (vae::mpi::rank() == 0) model.set_objective({vae::Reconstruction::BinaryCrossEntropy, vae::KlForm::Blog, 0.25,
                                                  vae::Bound::ImportanceWeighted, 7});
  vae::mpi::broadcast_state(model);
  const vae::Objective<double>& o = model.objective();
  CHECK(o.reconstruction == vae::Reconstruction::BinaryCrossEntropy);
  CHECK(o.kl == vae::KlForm::Blog);
  CHECK(o.beta == 0.25);
  CHECK(o.bound == vae::Bound::ImportanceWeighted);
  CHECK(o.samples == 7);
}

namespace {

using FailVae = vae::MlpVae<vae::Layers<8, 16, 2>, vae::Tanh, double>;

/// Runs `train` (a 2-epoch fit on each rank) in vae::mpi::together and
/// returns this rank's message: its own exception's, or the RankFailure's.
/// Checks that `failing` threw its own exception and every other rank a
/// RankFailure naming it and carrying that message.
template <class Train>
void expect_failure_everywhere(int failing, const std::string& message, const Train& train) {
  std::string what;
  bool rank_failure = false;
  try {
    vae::mpi::together(train);
  } catch (const vae::mpi::RankFailure& e) {
    rank_failure = true;
    what = e.what();
    CHECK(e.failed_rank() == failing);
  } catch (const std::exception& e) {
    what = e.what();
  }
  MESSAGE("rank " << vae::mpi::rank() << ": " << what);
  if (vae::mpi::rank() == failing) {
    CHECK_FALSE(rank_failure);
    CHECK(what.find(message) == 0);
  } else {
    CHECK(rank_failure);
    CHECK(what.find("vae::mpi: rank " + std::to_string(failing) + " of 2 failed: " + message) == 0);
  }
}

}  // namespace

TEST_CASE("a rank that throws inside together() stops every rank with its message") {
  vae::TrainOptions o;
  o.epochs = 2;
  o.batch_size = 64;
  o.seed = 5;
  o = vae::mpi::distributed_options(o);
  const int rank = vae::mpi::rank();
  const auto train = [&](vae::Matrix<double> data, auto&& on_epoch) {
    FailVae model(3);
    vae::Adam<double> adam({1e-2});
    vae::mpi::DistributedOptimizer<vae::Adam<double>, double> ddp(adam);
    vae::mpi::broadcast_state(model, &adam);
    vae::fit(model, ddp, data, static_cast<const vae::Matrix<double>*>(nullptr), o, on_epoch);
  };
  const auto nothing = [](const vae::EpochStats&) {};
  SUBCASE("NumericError on rank 1, after the step's all-reduce") {
    // Rank 1's samples have a squared error of inf (1e200 squared); rank 0's are fine.
    vae::Matrix<double> data = clusters<double>(640);
    if (rank == 1) data.row(0).setConstant(1e200);
    expect_failure_everywhere(1, "vae::fit: the loss became inf at epoch 1, batch 1", [&] { train(data, nothing); });
  }
  SUBCASE("the binariser's range check on rank 0, before the step's all-reduce") {
    vae::Matrix<double> data = clusters<double>(640);
    if (rank == 0) data(3, 5) = 2.0;  // in rank 0's slice of the first batch (no shuffle)
    expect_failure_everywhere(0, "vae::DynamicBinarizer", [&] {
      FailVae model(3);
      vae::Adam<double> adam({1e-2});
      vae::mpi::DistributedOptimizer<vae::Adam<double>, double> ddp(adam);
      vae::MatrixBatcher<double> batches(data, o.batch_size, o.seed, /*shuffle=*/false, o.shard);
      vae::DynamicBinarizer<vae::MatrixBatcher<double>> binary(batches, o.seed, static_cast<std::uint64_t>(rank));
      vae::fit(model, ddp, binary, static_cast<vae::MatrixBatcher<double>*>(nullptr), o);
    });
  }
  SUBCASE("rank 0's epoch callback (a checkpoint that cannot be written) after the last all-reduce") {
    const auto save = [rank](const vae::EpochStats& s) {
      if (rank == 0 && s.epoch == 1) throw vae::IoError("cannot write checkpoint.ckpt");
    };
    expect_failure_everywhere(0, "cannot write checkpoint.ckpt", [&] { train(clusters<double>(640), save); });
  }
  SUBCASE("rank 1 before broadcast_state (a checkpoint that does not fit the model)") {
    expect_failure_everywhere(1, "checkpoint: architecture mismatch", [&] {
      if (rank == 1) throw vae::FormatError("checkpoint: architecture mismatch");
      train(clusters<double>(640), nothing);
    });
  }
  // The communicator is still in step: every rank arrives here and agrees.
  int arrived = 1, all = 0;
  MPI_Allreduce(&arrived, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  CHECK(all == 2);
}

TEST_CASE("a count too large for one MPI call is refused by name, before any call") {
  float one = 1;
  // 2^32 + 1 values, which a cast to int turns into 1: the call would sum
  // one value and return. Only the size is looked at.
  const vae::Index n = (vae::Index(1) << 32) + 1;
  const vae::View<float> huge{&one, n, 1, n};
  std::vector<float> staging;
  CHECK_THROWS_WITH_AS((vae::mpi::sum_in_place<vae::Cpu, float>({}, huge, staging)),
                       "vae::mpi: the gradient buffer has 4294967297 values; one MPI call takes at most 2147483647",
                       vae::Error);
  CHECK(one == 1);
}

TEST_CASE("launched: true under mpirun, false once the launcher's variables are gone") {
  CHECK(vae::mpi::launched());
  const char* names[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
  std::vector<std::pair<std::string, std::string>> saved;
  for (const char* name : names) {
    if (const char* value = std::getenv(name)) saved.emplace_back(name, value);
    ::unsetenv(name);
  }
  CHECK_FALSE(vae::mpi::launched());
  ::setenv("PMI_RANK", "0", 1);  // MPICH's Hydra, or srun with PMI
  CHECK(vae::mpi::launched());
  ::unsetenv("PMI_RANK");
  for (const auto& [name, value] : saved) ::setenv(name.c_str(), value.c_str(), 1);
  CHECK(vae::mpi::launched());
  // MPI runs here already: a when_launched Session neither starts nor ends it.
  const vae::mpi::Session again(nullptr, nullptr, vae::mpi::Session::Start::when_launched);
  CHECK(again.active());
}

/// Rank 1 throws out of the Session's scope while rank 0 waits for it in a
/// barrier: the Session aborts the job (status 1) instead of finalising.
int leave_by_exception(int argc, char** argv) {
  try {
    const vae::mpi::Session mpi(&argc, &argv);
    if (vae::mpi::rank() == 1) throw vae::IoError("rank 1 cannot read its data");
    MPI_Barrier(MPI_COMM_WORLD);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "test_mpi: should not get here: %s\n", e.what());
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--leave-by-exception") == 0) return leave_by_exception(argc, argv);
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
