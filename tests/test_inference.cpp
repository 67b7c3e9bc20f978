// Inference is const and thread-safe: many threads calling encode, decode,
// reconstruct, sample and evaluate on one model get exactly the
// single-threaded answers. A call that overlaps another one runs on its own
// thread alone (vae::CallScope), and no result depends on the thread count.
// This program also runs under ThreadSanitizer (scripts/test.sh, OpenMP at
// one thread): the cases that start OpenMP teams are left out there.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
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

TEST_CASE("a matrix product with a size beyond int is refused, not narrowed") {
  float cell = 1;
  const vae::Index huge = vae::Index(1) << 31;  // 2^31: one more than int holds
  const vae::ConstView<float> a(&cell, huge, 1, huge), b(&cell, 1, 1, 1);
  const vae::View<float> c{&cell, huge, 1, huge};
  using Ops = vae::Ops<vae::Cpu, float>;
  CHECK_THROWS_WITH_AS(Ops::gemm(vae::Cpu::Context{}, vae::Trans::No, vae::Trans::No, 1.0f, a, b,
                                                       0.0f, c),
                       "vae::Cpu gemm: the rows of C is 2147483648, outside the [0, 2147483647] that a BLAS call takes",
                       vae::ShapeError);
  const vae::View<float> wide{&cell, 1, 1, huge + 5};
  CHECK_THROWS_WITH_AS(Ops::gemm(vae::Cpu::Context{}, vae::Trans::No, vae::Trans::No, 1.0f, b, b,
                                                       0.0f, wide),
                       "vae::Cpu gemm: the leading dimension of C is 2147483653, outside the [0, 2147483647] that a "
                       "BLAS call takes",
                       vae::ShapeError);
  CHECK(cell == 1);
}

namespace {

using Watch = vae::detail::TeamWatch;

/// One window of regions of `seconds` each, `lost` of each of them lost.
void window(Watch& w, double lost, double seconds = 1e-3) {
  for (int i = 0; i < Watch::kWindow; ++i) w.record(seconds, lost);
}

/// Runs out a pause, checking that it lasts exactly `regions` regions.
void drain(Watch& w, long regions) {
  CHECK(w.paused() == regions);
  for (long i = 0; i < regions; ++i) CHECK_FALSE(w.team_allowed());
  CHECK(w.team_allowed());
}

}  // namespace

TEST_CASE("the team watch pauses teams after regions that lost their time, longer while they do, and resumes") {
  Watch w;
  window(w, 0.2e-3);                // a fifth of each region lost: no pause
  window(w, 15e-6, 30e-6);          // short regions that lose only a team's start-up
  CHECK(w.paused() == 0);
  CHECK(w.team_allowed());
  window(w, 0.5e-3);                // half of it lost (a helper or the caller off its core)
  drain(w, Watch::kFirstPause);
  window(w, 2e-3, 3e-3);            // still lossy after the pause: twice as long
  drain(w, 2 * Watch::kFirstPause);
  for (long pause = 4 * Watch::kFirstPause; pause <= 2 * Watch::kMaxPause; pause *= 2) {
    window(w, 0.9e-3);
    drain(w, std::min(pause, Watch::kMaxPause));
  }
  window(w, 0);                     // no loss: the next pause is the first one's length
  window(w, 0.6e-3);
  drain(w, Watch::kFirstPause);
  // A window's loss is weighed as a whole: one region that lost a time
  // slice among fifteen quick ones is enough.
  window(w, 0);
  w.record(4e-3, 3e-3);
  for (int i = 1; i < Watch::kWindow; ++i) w.record(0.4e-3, 0);
  drain(w, Watch::kFirstPause);
  w.set_on(false);
  window(w, 0.9e-3);
  CHECK(w.paused() == 0);
  CHECK(w.team_allowed());
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
  vae::detail::team_watch().set_on(false);  // team sizes here must not follow the machine's load
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
  vae::detail::team_watch().set_on(true);
}

namespace {

/// C = op(A) op(B) through the CPU backend for one (m, n, k) and transposes.
template <class S>
struct Product {
  vae::Index m, n, k;
  vae::Trans ta, tb;
  vae::Matrix<S> a, b;

  Product(vae::Index m_, vae::Index n_, vae::Index k_, vae::Trans ta_, vae::Trans tb_)
      : m(m_), n(n_), k(k_), ta(ta_), tb(tb_),
        a(vae::Matrix<S>::Random(ta == vae::Trans::No ? m : k, ta == vae::Trans::No ? k : m)),
        b(vae::Matrix<S>::Random(tb == vae::Trans::No ? k : n, tb == vae::Trans::No ? n : k)) {}

  vae::Matrix<S> operator()() const {
    vae::Matrix<S> c = vae::Matrix<S>::Constant(m, n, S(0.25));
    vae::Ops<vae::Cpu, S>::gemm(vae::Cpu::Context{}, ta, tb, S(0.5), vae::view_of<S>(a), vae::view_of<S>(b), S(2),
                                vae::make_view(c.data(), m, n));
    return c;
  }
};

/// Shapes above and below the size where products are cut into blocks:
/// row and column cuts, one column (GEMV), and sizes that are no multiple of
/// any register tile.
template <class S>
void check_products_exact() {
  const vae::Index shapes[][3] = {{784, 128, 512}, {512, 784, 128}, {200, 100, 784}, {777, 333, 77},
                                  {13, 301, 1000}, {1000, 1, 784}, {50, 37, 200},  {3, 5, 7}};
  for (const auto& shape : shapes)
    for (const vae::Trans ta : {vae::Trans::No, vae::Trans::Yes})
      for (const vae::Trans tb : {vae::Trans::No, vae::Trans::Yes}) {
        CAPTURE(shape[0]);
        CAPTURE(shape[1]);
        CAPTURE(shape[2]);
        CAPTURE(int(ta));
        CAPTURE(int(tb));
        const Product<S> product(shape[0], shape[1], shape[2], ta, tb);
        vae::set_num_threads(1);
        const vae::Matrix<S> one = product();
        for (const int threads : {2, 3}) {
          vae::set_num_threads(threads);
          CHECK(product() == one);
        }
        // Four callers at once, each a model call that overlaps the others.
        std::vector<int> same(4, 0);
        std::vector<std::thread> callers;
        for (std::size_t t = 0; t < same.size(); ++t)
          callers.emplace_back([&, t] {
            const vae::CallScope<vae::Cpu> call;
            same[t] = product() == one;
          });
        for (auto& caller : callers) caller.join();
        for (const int s : same) CHECK(s == 1);
      }
  vae::set_num_threads(2);
}

}  // namespace

TEST_CASE("every matrix product has the same bits on 1, 2 and 3 threads and beside other calls") {
  // The BLAS kernels sum each element in an order of their own (register
  // tiles, edge cases), so exactness cannot rest on where a block's edges
  // fall in them: blocks are cut by the shape alone (backend/cpu.hpp).
  // ctest runs this under each of OpenBLAS's kernel sets the CPU can run.
  check_products_exact<float>();
  check_products_exact<double>();
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
