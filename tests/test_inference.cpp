// Inference is const and thread-safe: many threads calling encode, decode,
// reconstruct, sample and evaluate on one model get exactly the
// single-threaded answers. A call that overlaps another one runs on its own
// thread alone (vae::CallScope), and no result depends on the thread count.
// This program also runs under ThreadSanitizer (scripts/test.sh, OpenMP at
// one thread): the cases that start OpenMP teams are left out there.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <thread>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <vae/vae.hpp>

#if defined(__SANITIZE_THREAD__)
#define VAE_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VAE_TEST_TSAN 1
#endif
#endif

TEST_CASE("concurrent inference on one model matches sequential results") {
  const vae::VariationalAutoencoder<784, 128, 2> model(5);
  const Eigen::MatrixXf x = (Eigen::MatrixXf::Random(784, 32).array() + 1) / 2;
  const Eigen::MatrixXf mean = model.encode(x);
  const Eigen::MatrixXf x_hat = model.reconstruct(x);
  const Eigen::MatrixXf decoded = model.decode(mean);
  const vae::LatentDistribution<float> q = model.encode_distribution(x.leftCols(3));
  vae::Rng ref_rng(8);
  const Eigen::MatrixXf drawn = model.sample(4, ref_rng);
  vae::Rng eval_rng(9);
  const float loss = model.evaluate(x, eval_rng).total;

  constexpr int kThreads = 16;
  std::vector<int> ok(kThreads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t)
    pool.emplace_back([&, t] {
      bool good = true;
      for (int i = 0; i < 5; ++i) {
        vae::Rng rng(8), eval(9);
        const vae::LatentDistribution<float> qt = model.encode_distribution(x.leftCols(3));
        good = good && model.encode(x) == mean && model.reconstruct(x) == x_hat && model.decode(mean) == decoded &&
               model.sample(4, rng) == drawn && qt.mean == q.mean && qt.sigma == q.sigma &&
               model.evaluate(x, eval).total == loss;
      }
      ok[static_cast<std::size_t>(t)] = good;
    });
  for (auto& th : pool) th.join();
  for (int t = 0; t < kThreads; ++t) CHECK(ok[static_cast<std::size_t>(t)] == 1);
}

#if !defined(VAE_TEST_TSAN) && defined(_OPENMP)

namespace {

/// A for_each kernel that records the size of the team running it.
struct TeamSize {
  std::atomic<int>* largest;
  template <class T>
  void apply(vae::Index, vae::Index) const {
    int seen = largest->load();
    const int team = omp_get_num_threads();
    while (team > seen && !largest->compare_exchange_weak(seen, team)) {
    }
  }
};

/// The largest team a 1024 x 64 loop started from this thread ran on.
int loop_team() {
  std::atomic<int> largest{0};
  vae::Ops<vae::Cpu, float>::for_each(vae::Cpu::Context{}, 1024, 64, TeamSize{&largest});
  return largest.load();
}

}  // namespace

TEST_CASE("a call that overlaps another one anywhere in the process runs on one thread") {
  vae::set_num_threads(2);
  CHECK(loop_team() == 2);
  {
    const vae::CallScope<vae::Cpu> alone;
    CHECK(loop_team() == 2);  // the only call in flight uses every thread
    const vae::CallScope<vae::Cpu> nested;
    CHECK(loop_team() == 2);  // a call inside a call on one thread counts once
  }
  // Another thread holds a call while this one starts its own.
  std::atomic<int> stage{0};
  std::thread other([&] {
    const vae::CallScope<vae::Cpu> held;
    stage = 1;
    while (stage != 2) std::this_thread::yield();
  });
  while (stage != 1) std::this_thread::yield();
  {
    const vae::CallScope<vae::Cpu> overlapping;
    CHECK(loop_team() == 1);
  }
  stage = 2;
  other.join();
  const vae::CallScope<vae::Cpu> after;
  CHECK(loop_team() == 2);
}

TEST_CASE("no result depends on the thread count: inference and training, 1 to 3 threads") {
  // Products are cut into blocks of C, each summed over k in the BLAS
  // kernel's order; loops are element-wise or per column. So 1, 2 and 3
  // threads (and a call run alone or beside another) give identical bits.
  using Model = vae::VariationalAutoencoder<784, 512, 2>;
  const Eigen::MatrixXf x = (Eigen::MatrixXf::Random(784, 96).array() + 1) / 2;
  std::vector<Eigen::MatrixXf> encoded, single, reconstructed;
  std::vector<Eigen::VectorXf> trained;
  for (const int threads : {1, 2, 3}) {
    vae::set_num_threads(threads);
    const Model model(3);
    encoded.push_back(model.encode(x));
    single.push_back(model.encode(x.col(7)));
    reconstructed.push_back(model.reconstruct(x));
    Model student(4);
    vae::Adam<float> opt;
    vae::Rng rng(5);
    for (int step = 0; step < 3; ++step) student.train_step(x, opt, rng);
    trained.push_back(student.parameters_host());
  }
  vae::set_num_threads(2);
  for (std::size_t i = 1; i < encoded.size(); ++i) {
    CAPTURE(i);
    CHECK(encoded[i] == encoded[0]);
    CHECK(single[i] == single[0]);
    CHECK(reconstructed[i] == reconstructed[0]);
    CHECK(trained[i] == trained[0]);
  }
}

#endif
