// The training loop: epoch statistics, the callback, progress lines, exact
// resume from a checkpoint at an epoch boundary, and divergence reporting.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <sstream>
#include <vector>

#include <vae/train/resume.hpp>
#include <vae/vae.hpp>

namespace test_trainer {

namespace {

constexpr vae::Index kSide = 6;
using Vae = vae::VariationalAutoencoder<kSide * kSide, 16, 2>;

/// n images of blurred bars, with labels 0..3 by bar position.
vae::io::Dataset bars(vae::Index n, std::uint64_t seed) {
  vae::io::Dataset d;
  d.rows = d.cols = kSide;
  vae::Rng rng(seed);
  for (vae::Index i = 0; i < n; ++i) {
    const auto label = static_cast<std::uint8_t>(rng.uniform_index(4));
    for (vae::Index r = 0; r < kSide; ++r)
      for (vae::Index c = 0; c < kSide; ++c) {
        const double on = (c == label + 1 ? 220.0 : 0.0) + rng.uniform(0.0, 30.0);
        d.pixels.push_back(static_cast<std::uint8_t>(on));
      }
    d.labels.push_back(label);
  }
  return d;
}

vae::TrainOptions options(int epochs) {
  vae::TrainOptions o;
  o.epochs = epochs;
  o.batch_size = 32;
  o.seed = 9;
  return o;
}

}  // namespace

TEST_CASE("fit reports every epoch, calls back, and the loss falls") {
  const auto train = bars(500, 1), test = bars(100, 2);
  Vae model(1);
  vae::Adam<float> opt({3e-3});
  std::ostringstream log;
  auto o = options(5);
  o.progress = &log;
  o.style = vae::ProgressStyle::Lines;
  int calls = 0;
  const auto history = vae::fit(model, opt, train, &test, o, [&](const vae::EpochStats& s) { CHECK(s.epoch == calls++); });
  CHECK(calls == 5);
  REQUIRE(history.size() == 5);
  CHECK(opt.steps() == 5 * 16);  // ceil(500 / 32) batches per epoch
  for (const auto& e : history) {
    CHECK(e.has_test);
    CHECK(e.samples_per_second > 0);
    CHECK(e.train.total == doctest::Approx(e.train.reconstruction + e.train.kl).epsilon(1e-6));
  }
  MESSAGE("test loss per sample: epoch 1 " << history.front().test.total << ", epoch 5 " << history.back().test.total);
  CHECK(history.back().test.total < 0.7 * history.front().test.total);
  // Plain lines: a summary per epoch, quarter-epoch progress lines, no carriage returns.
  const std::string text = log.str();
  CHECK(text.find("epoch 5/5: train") != std::string::npos);
  CHECK(text.find("samples/s") != std::string::npos);
  CHECK(text.find('\r') == std::string::npos);
}

TEST_CASE("a run resumed from a checkpoint ends bit for bit like an uninterrupted one") {
  const auto train = bars(300, 3);
  Vae straight(4);
  vae::Adam<float> opt_straight;
  vae::fit(straight, opt_straight, train, nullptr, options(4));

  const auto path = std::filesystem::temp_directory_path() / ("vae_resume_" + std::to_string(::getpid()) + ".ckpt");
  {
    Vae first(4);
    vae::Adam<float> opt;
    vae::fit(first, opt, train, nullptr, options(2));
    const vae::io::TrainingPosition pos{2, 9};
    vae::io::save_checkpoint(path.string(), first, &opt, &pos);
  }
  Vae resumed(123);  // different initial weights: all must come from the file
  vae::Adam<float> opt;
  vae::io::TrainingPosition pos;
  vae::io::load_checkpoint(path.string(), resumed, &opt, &pos);
  auto o = options(4);
  o.start_epoch = static_cast<int>(pos.next_epoch);
  o.seed = pos.seed;
  const auto history = vae::fit(resumed, opt, train, nullptr, o);
  CHECK(history.size() == 2);
  CHECK(history.front().epoch == 2);
  const auto a = straight.parameters_host(), b = resumed.parameters_host();
  CHECK(std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.size())) == 0);
  CHECK(opt.steps() == opt_straight.steps());
  std::filesystem::remove(path);
}

TEST_CASE("resume_or_start and checkpoint_each_epoch: a run stopped after any epoch and started again ends like one that never stopped") {
  const auto train = bars(300, 3);
  const auto test = bars(60, 8);
  Vae straight(4);
  vae::Adam<float> opt_straight;
  const auto whole = vae::fit(straight, opt_straight, train, &test, options(4));

  const std::string path =
      (std::filesystem::temp_directory_path() / ("vae_resume_helper_" + std::to_string(::getpid()) + ".ckpt")).string();
  std::filesystem::remove(path);
  // The same program run three times: killed (here: stopped by an exception
  // from its own callback) after epoch 1, then after epoch 3, then to the end.
  std::vector<vae::EpochStats> seen;
  for (const int stop_after : {1, 3, -1}) {
    // The first start draws the straight run's weights; later ones start
    // from other weights, so all must come from the file.
    Vae model(stop_after == 1 ? 4 : 100 + stop_after);
    vae::Adam<float> opt;
    const auto o = vae::io::resume_or_start(path, model, opt, options(4));
    CHECK(o.start_epoch == (stop_after == 1 ? 0 : stop_after == 3 ? 1 : 3));
    try {
      vae::fit(model, opt, train, &test, o,
               vae::io::checkpoint_each_epoch(path, model, opt, o, 1, [&](const vae::EpochStats& s) {
                 seen.push_back(s);
                 if (s.epoch + 1 == stop_after) throw std::runtime_error("stopped");
               }));
    } catch (const std::runtime_error&) {
      continue;
    }
    const auto a = straight.parameters_host(), b = model.parameters_host();
    CHECK(std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.size())) == 0);
    CHECK(opt.steps() == opt_straight.steps());
  }
  REQUIRE(seen.size() == whole.size());
  for (std::size_t e = 0; e < seen.size(); ++e) {
    CHECK(seen[e].epoch == whole[e].epoch);
    CHECK(seen[e].train.total == whole[e].train.total);
    CHECK(seen[e].test.total == whole[e].test.total);
  }
  // A checkpoint of another model is refused, not silently restarted from.
  vae::VariationalAutoencoder<64, 16, 3> other;
  vae::Adam<float> other_opt;
  CHECK_THROWS_AS(vae::io::resume_or_start(path, other, other_opt, options(4)), vae::ShapeError);
  CHECK_THROWS_AS(vae::io::checkpoint_each_epoch(path, straight, opt_straight, options(4), 0), vae::ValueError);
  std::filesystem::remove(path);
}

TEST_CASE("a non-finite loss stops training with the epoch and batch") {
  const auto train = bars(100, 5);
  Vae model(1);
  Eigen::VectorXf p = model.parameters_host();
  p[0] = std::numeric_limits<float>::quiet_NaN();
  model.set_parameters(p);
  vae::Adam<float> opt;
  CHECK_THROWS_WITH_AS(vae::fit(model, opt, train, nullptr, options(1)), doctest::Contains("at epoch 1, batch 1 of 4"),
                       vae::NumericError);
}

TEST_CASE("a dataset of the wrong size is rejected before training") {
  auto train = bars(10, 1);
  train.rows = 5;  // 30 features per image, the model takes 36
  train.pixels.resize(std::size_t(10 * 30));
  Vae model(1);
  vae::Adam<float> opt;
  CHECK_THROWS_WITH_AS(vae::fit(model, opt, train, nullptr, options(1)),
                       doctest::Contains("training data has 30 features per sample, the model takes 36"), vae::ShapeError);
  CHECK(opt.steps() == 0);
}

namespace {

/// n points of a 3-component Gaussian mixture in 8 dimensions (not images:
/// unbounded real values), one per column.
Eigen::MatrixXd mixture(vae::Index n, std::uint64_t seed) {
  vae::Rng rng(seed);
  Eigen::MatrixXd centres(8, 3);
  centres << 3, -3, 0, 0, 3, -3, 1, 1, -2, -1, 0, 2, 2, -2, 0, 0, 1, -1, -3, 0, 3, 0.5, -0.5, 0;
  Eigen::MatrixXd x(8, n);
  rng.fill_normal(x.data(), x.size());
  for (vae::Index j = 0; j < n; ++j) x.col(j) = centres.col(j % 3) + 0.3 * x.col(j);
  return x;
}

/// A source that streams a matrix in chunks, as a reader of a file too large
/// for memory would: its own order, reversed on odd epochs.
class ChunkStream {
 public:
  ChunkStream(const Eigen::MatrixXd& data, vae::Index chunk) : data_(data), chunk_(chunk), buffer_(data.rows(), chunk) {}
  vae::Index features() const { return data_.rows(); }
  vae::Index size() const { return 0; }  // unknown, as for a stream
  void start_epoch(int epoch) {
    position_ = 0;
    reversed_ = epoch % 2 == 1;
  }
  Eigen::Block<Eigen::MatrixXd, Eigen::Dynamic, Eigen::Dynamic, true> next() {
    const vae::Index n = std::min(chunk_, data_.cols() - position_);
    for (vae::Index j = 0; j < n; ++j) {
      const vae::Index k = position_ + j;
      buffer_.col(j) = data_.col(reversed_ ? data_.cols() - 1 - k : k);
    }
    position_ += n;
    return buffer_.leftCols(n);
  }

 private:
  const Eigen::MatrixXd& data_;
  vae::Index chunk_, position_ = 0;
  bool reversed_ = false;
  Eigen::MatrixXd buffer_;
};

}  // namespace

TEST_CASE("fit trains on float data that is not an image, and resumes exactly from a checkpoint") {
  using Model = vae::MlpVae<vae::Layers<8, 32, 16, 2>, vae::Elu, double>;
  const Eigen::MatrixXd train = mixture(600, 1), test = mixture(150, 2);
  const vae::Objective<double> objective{vae::Reconstruction::SquaredError, vae::KlForm::Exact, 0.1};
  vae::TrainOptions o;
  o.epochs = 6;
  o.batch_size = 50;
  o.seed = 3;
  // Squared error on sigmoid outputs needs targets in (0, 1): scale the
  // mixture there, as a user would for real-valued data.
  const auto squash = [](const Eigen::MatrixXd& x) { return Eigen::MatrixXd((x.array() / 8 + 0.5).max(0).min(1)); };
  const Eigen::MatrixXd train01 = squash(train), test01 = squash(test);
  Model straight(2, objective);
  vae::Adam<double> opt_straight({3e-3});
  const auto history = vae::fit(straight, opt_straight, train01, &test01, o);
  MESSAGE("mixture VAE test loss: epoch 1 " << history.front().test.total << ", epoch 6 " << history.back().test.total);
  CHECK(history.back().test.total < history.front().test.total);
  // The test loss fit reports is evaluate() with evaluation_rng(seed, epoch).
  vae::Rng rng = vae::evaluation_rng(o.seed, 5);
  CHECK(vae::evaluate(straight, test01, rng).total == doctest::Approx(history.back().test.total).epsilon(1e-12));
  // A generator made in the call gives the same.
  CHECK(vae::evaluate(straight, test01, vae::evaluation_rng(o.seed, 5)).total ==
        doctest::Approx(history.back().test.total).epsilon(1e-12));

  const auto path = std::filesystem::temp_directory_path() / ("vae_mixture_" + std::to_string(::getpid()) + ".ckpt");
  {
    Model first(2, objective);
    vae::Adam<double> opt({3e-3});
    auto o3 = o;
    o3.epochs = 3;
    vae::fit(first, opt, train01, nullptr, o3);
    const vae::io::TrainingPosition pos{3, o.seed};
    vae::io::save_checkpoint(path.string(), first, &opt, &pos);
  }
  Model resumed(77, objective);
  vae::Adam<double> opt;
  vae::io::TrainingPosition pos;
  vae::io::load_checkpoint(path.string(), resumed, &opt, &pos);
  auto rest = o;
  rest.start_epoch = static_cast<int>(pos.next_epoch);
  vae::fit(resumed, opt, train01, nullptr, rest);
  CHECK(resumed.parameters_host() == straight.parameters_host());
  std::filesystem::remove(path);
}

TEST_CASE("fit takes a user-written streaming source of unknown length") {
  using Model = vae::MlpAutoencoder<vae::Layers<8, 16, 2>, vae::Tanh, double>;
  const Eigen::MatrixXd data = (mixture(400, 4).array() / 8 + 0.5).max(0).min(1);
  ChunkStream stream(data, 64);
  static_assert(vae::is_batch_source_v<ChunkStream, double>, "ChunkStream is a batch source");
  Model model(1);
  vae::Adam<double> opt({3e-3});
  vae::TrainOptions o;
  o.epochs = 4;
  const auto history = vae::fit(model, opt, stream, nullptr, o);  // no test source, and no type to name for it
  REQUIRE(history.size() == 4);
  CHECK(opt.steps() == 4 * 7);  // ceil(400 / 64) batches an epoch
  CHECK(history.back().train.total < history.front().train.total);
}

namespace {

/// A ChunkStream that reports its size, so that fit expects size / batch_size batches.
class SizedChunkStream : public ChunkStream {
 public:
  SizedChunkStream(const Eigen::MatrixXd& data, vae::Index chunk) : ChunkStream(data, chunk), size_(data.cols()) {}
  vae::Index size() const { return size_; }

 private:
  vae::Index size_;
};

}  // namespace

TEST_CASE("the first release's evaluate(model, data, batch, seed, epoch) still works, deprecated") {
  using Model = vae::VariationalAutoencoder<16, 8, 2, double>;
  vae::io::Dataset data;
  data.rows = 4;
  data.cols = 4;
  data.pixels.resize(16 * 30);
  for (std::size_t i = 0; i < data.pixels.size(); ++i) data.pixels[i] = static_cast<std::uint8_t>(i * 37 % 256);
  data.labels.assign(30, 0);
  const Model model(3);
  vae::Rng rng = vae::evaluation_rng(7, 2);
  const double now = vae::evaluate(model, data, rng, 8).total;
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
  const double then = vae::evaluate(model, data, 8, 7, 2).total;
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
  CHECK(then == now);
}

TEST_CASE("fit names what the user set: a non-finite training value before the first step, the epoch and batch of a bad batch") {
  using Model = vae::MlpAutoencoder<vae::Layers<8, 16, 2>, vae::Tanh, double>;
  Eigen::MatrixXd data = (mixture(100, 4).array() / 8 + 0.5).max(0).min(1);
  data(3, 57) = std::numeric_limits<double>::quiet_NaN();
  Model model(1);
  vae::Adam<double> opt({3e-3});
  vae::TrainOptions o;
  o.epochs = 1;
  o.batch_size = 10;
  CHECK_THROWS_WITH_AS(vae::fit(model, opt, data, nullptr, o),
                       "vae::fit: the training data holds nan at row 3, column 57 (sample 57); expected finite values",
                       vae::ValueError);
  CHECK(opt.steps() == 0);
  // A source whose third batch has the wrong number of rows.
  data(3, 57) = 0.5;
  struct Ragged {
    const Eigen::MatrixXd* data;
    int given = 0;
    vae::Index features() const { return 8; }
    vae::Index size() const { return 0; }
    void start_epoch(int) { given = 0; }
    Eigen::MatrixXd next() {
      if (given == 4) return Eigen::MatrixXd(8, 0);
      return ++given == 3 ? Eigen::MatrixXd(data->topRows(5).leftCols(10)) : Eigen::MatrixXd(data->leftCols(10));
    }
  } ragged{&data};
  o.epochs = 2;
  o.start_epoch = 1;
  try {
    vae::fit(model, opt, ragged, nullptr, o);
    FAIL("a batch of 5 rows was trained on");
  } catch (const vae::ShapeError& e) {
    const std::string message = e.what();
    CHECK(message.rfind("vae::fit: epoch 2, batch 3: ", 0) == 0);
    CHECK(message.find("input batch has 5 rows, expected 8") != std::string::npos);
  }
  CHECK(opt.steps() == 2);
}

TEST_CASE("a batch size of 0 is refused, and a source of smaller batches than promised is reported") {
  using Model = vae::MlpAutoencoder<vae::Layers<8, 16, 2>, vae::Tanh, double>;
  const Eigen::MatrixXd data = (mixture(400, 4).array() / 8 + 0.5).max(0).min(1);
  SizedChunkStream stream(data, 64);  // 7 batches of at most 64, where 128 a batch would give 4
  Model model(1);
  vae::Adam<double> opt({3e-3});
  vae::TrainOptions o;
  o.epochs = 2;
  o.batch_size = 0;
  CHECK_THROWS_WITH_AS(vae::fit(model, opt, stream, static_cast<SizedChunkStream*>(nullptr), o),
                       "vae::fit: TrainOptions::batch_size is 0, expected >= 1", vae::ValueError);
  CHECK(opt.steps() == 0);
  o.batch_size = 128;
  std::ostringstream progress;
  o.progress = &progress;
  o.style = vae::ProgressStyle::Lines;
  const auto history = vae::fit(model, opt, stream, static_cast<SizedChunkStream*>(nullptr), o);
  CHECK(history.size() == 2);
  CHECK(opt.steps() == 2 * 7);
  // Past the promised 4 batches the lines count batches without a bar.
  CHECK(progress.str().find("epoch 1/2 [######") != std::string::npos);
  CHECK(progress.str().find("epoch 1/2 batch 7 loss") != std::string::npos);
}

TEST_CASE("an epoch summary of huge losses is formatted in full, without overflow") {
  vae::EpochStats s;
  s.train = {1e300, 1e300, 1e300};
  s.test = {-1e300, 1e300, 1e300};
  s.has_test = true;
  s.samples_per_second = 1e300;
  const std::string line = vae::detail::epoch_summary(s, 1);
  CHECK(line.size() > 6 * 300);
  CHECK(line.find("samples/s") != std::string::npos);
}

TEST_CASE("shards are disjoint, cover the epoch, and together are the single process's batches") {
  // Column j holds the value j, so a batch shows which samples it took.
  Eigen::MatrixXd data(1, 301);
  for (vae::Index j = 0; j < data.cols(); ++j) data(0, j) = double(j);
  const vae::Index ranks = 3, batch = 16;
  vae::MatrixBatcher<double> single(data, ranks * batch, /*seed=*/4);
  std::vector<vae::MatrixBatcher<double>> shards;
  for (vae::Index r = 0; r < ranks; ++r) shards.emplace_back(data, batch, 4, true, vae::Shard{r, ranks});
  for (int epoch = 0; epoch < 2; ++epoch) {
    single.start_epoch(epoch);
    for (auto& s : shards) s.start_epoch(epoch);
    std::vector<int> seen(301, 0);
    vae::Index steps = 0;
    for (;; ++steps) {
      const auto whole = single.next();
      std::vector<double> joined;
      vae::Index empty = 0;
      for (auto& s : shards) {
        const auto part = s.next();
        empty += part.cols() == 0;
        for (vae::Index j = 0; j < part.cols(); ++j) joined.push_back(part(0, j));
      }
      CHECK((empty == 0 || empty == ranks));  // every rank takes the same number of steps
      if (empty == ranks) break;
      for (const double v : joined) ++seen[static_cast<std::size_t>(v)];
      // Until the padded tail, the shards' union is the single process's batch, in order.
      if (whole.cols() == ranks * batch)
        CHECK(std::equal(joined.begin(), joined.end(), whole.data()));
    }
    CHECK(steps == 7);  // 301 padded to 303 = 6 x 48 + 15
    // Every sample is seen; the 2 padding samples (303 - 301) twice.
    CHECK(std::count(seen.begin(), seen.end(), 0) == 0);
    CHECK(std::accumulate(seen.begin(), seen.end(), 0) == 303);
    CHECK(shards[0].size() == 101);
  }
}

TEST_CASE("weight initialisation, the shuffle and the noise draw from different Philox keys") {
  // Initialisation draws Rng(seed) from block 0 on; epoch e's shuffle draws
  // Rng(seed ^ kShuffleStream, e << 40). With one key for both, epoch 0's
  // shuffle would replay the words that drew the first weights.
  constexpr vae::Index n = 64;
  vae::Matrix<float> data(1, n);
  for (vae::Index j = 0; j < n; ++j) data(0, j) = float(j);
  const auto shuffled = [&](vae::Rng rng) {
    std::vector<vae::Index> order(n);
    std::iota(order.begin(), order.end(), vae::Index(0));
    rng.shuffle(order.begin(), order.end());
    return order;
  };
  for (const std::uint64_t seed : {0ull, 1ull, 9ull, 12345ull}) {
    CAPTURE(seed);
    vae::MatrixBatcher<float> batches(data, n, seed);
    batches.start_epoch(0);
    const auto batch = batches.next();
    std::vector<vae::Index> order(n);
    for (vae::Index j = 0; j < n; ++j) order[std::size_t(j)] = vae::Index(batch(0, j));
    CHECK(order == shuffled(vae::Rng(seed ^ vae::detail::kShuffleStream, 0)));
    CHECK(order != shuffled(vae::Rng(seed)));

    // The first weight is the first uniform of Rng(seed) (bound 1/sqrt(36)).
    const double bound = 1.0 / std::sqrt(36.0);
    vae::Rng init(seed);
    CHECK(Vae(seed).parameters_host()[0] == init.uniform<float>(float(-bound), float(bound)));
    // Block 0 of every stream of epoch 0: initialisation, shuffle, noise, evaluation.
    const std::array<std::uint32_t, 4> first[] = {
        vae::Rng(seed).next_words(), vae::Rng(seed ^ vae::detail::kShuffleStream, 0).next_words(),
        vae::detail::epoch_rng(seed, vae::detail::kNoiseStream, 0).next_words(), vae::evaluation_rng(seed, 0).next_words()};
    for (int a = 0; a < 4; ++a)
      for (int b = a + 1; b < 4; ++b) CHECK(first[a] != first[b]);
  }
}

TEST_CASE("the thread tuner probes one thread now and then and keeps what is faster") {
  vae::set_num_threads(2);
  using Tuner = vae::detail::ThreadTuner;
  {
    // Switched off (or with one thread configured), it leaves every call alone.
    Tuner off(false);
    for (int i = 0; i < Tuner::kFirstProbe + Tuner::kProbe; ++i) {
      off.before_step();
      CHECK(vae::detail::region_threads() == 2);
      off.record(1.0);
    }
  }
  Tuner tuner(true);
  std::vector<int> used;
  // Steps at two threads take 1.0 per sample, at one thread 0.5: a core is held.
  const auto run = [&](int steps, double two, double one) {
    for (int i = 0; i < steps; ++i) {
      tuner.before_step();
      const int threads = vae::detail::region_threads();
      used.push_back(threads);
      tuner.record(threads == 2 ? two : one);
    }
  };
  run(Tuner::kFirstProbe + Tuner::kProbe, 1.0, 0.5);
  // Two threads until the first probe, then kProbe steps at one thread, which won.
  CHECK(std::count(used.begin(), used.begin() + Tuner::kFirstProbe, 2) == Tuner::kFirstProbe);
  CHECK(std::count(used.begin() + Tuner::kFirstProbe, used.end(), 1) == Tuner::kProbe);
  CHECK(tuner.choice() == 1);
  // The core is free again: at the next probe, kMinPeriod steps after a
  // switch, two threads win back.
  used.clear();
  run(Tuner::kMinPeriod, 0.5, 1.0);
  CHECK(std::count(used.begin(), used.end(), 2) == Tuner::kProbe);
  CHECK(tuner.choice() == 2);
  // Less than 25% faster is not worth a switch (noise on a shared machine).
  run(Tuner::kPeriod, 1.0, 0.8);
  CHECK(tuner.choice() == 2);
}

TEST_CASE("the thread tuner weighs the rare slow step: it compares mean times, not medians") {
  // Beside a busy core, most two-thread steps run at full speed and one in a
  // few waits a whole time slice at a barrier. Here two-thread steps take 0.2
  // per sample, every fourth one 3.0 (mean 0.9); one thread takes 0.5 each.
  // Their medians (0.2 against 0.5) favour two threads; their means do not.
  vae::set_num_threads(2);
  using Tuner = vae::detail::ThreadTuner;
  Tuner tuner(true);
  int two_thread_steps = 0;
  for (int i = 0; i < Tuner::kFirstProbe + Tuner::kProbe; ++i) {
    tuner.before_step();
    if (vae::detail::region_threads() == 2) {
      tuner.record(++two_thread_steps % 4 == 0 ? 3.0 : 0.2);
    } else {
      tuner.record(0.5);
    }
  }
  CHECK(tuner.choice() == 1);
}

TEST_CASE("on a steady machine, one-thread probes stop after the first") {
  // Each one-thread probe step costs nearly a step; while full-thread steps
  // keep their speed there is nothing to suspect and no probe runs.
  vae::set_num_threads(2);
  using Tuner = vae::detail::ThreadTuner;
  Tuner tuner(true);
  int one_thread_steps = 0;
  for (int step = 0; step < 20 * Tuner::kPeriod; ++step) {
    tuner.before_step();
    const bool two = vae::detail::region_threads() == 2;
    one_thread_steps += two ? 0 : 1;
    tuner.record(two ? 0.5 + 0.05 * (step % 3) : 0.9);  // noise well inside kSuspect
  }
  CHECK(one_thread_steps == Tuner::kProbe);
  CHECK(tuner.choice() == 2);
}

TEST_CASE("a probe that changes nothing is repeated sooner than kPeriod") {
  // The first probe finds two threads faster; a core is taken right after.
  // The next probe comes kMinPeriod steps later, not kPeriod.
  vae::set_num_threads(2);
  using Tuner = vae::detail::ThreadTuner;
  Tuner tuner(true);
  long step = 0, switched_at = -1;
  for (; step < Tuner::kPeriod && switched_at < 0; ++step) {
    const bool held = step >= Tuner::kFirstProbe + Tuner::kProbe;
    tuner.before_step();
    const bool two = vae::detail::region_threads() == 2;
    tuner.record(held ? (two ? 1.0 : 0.5) : (two ? 0.5 : 1.0));
    if (tuner.choice() == 1) switched_at = step;
  }
  CHECK(switched_at == Tuner::kFirstProbe + Tuner::kMinPeriod + Tuner::kProbe - 1);
}

TEST_CASE("fit ends on the same parameters whatever the thread count and the tuner do") {
  const auto train = bars(300, 1);
  std::vector<Eigen::VectorXf> results;
  for (const int threads : {1, 2}) {
    for (const bool adapt : {false, true}) {
      vae::set_num_threads(threads);
      Vae model(1);
      vae::Adam<float> opt({3e-3});
      auto o = options(2);
      o.adapt_threads = adapt;
      vae::fit(model, opt, train, static_cast<const vae::io::Dataset*>(nullptr), o);
      results.push_back(model.parameters_host());
    }
  }
  vae::set_num_threads(2);
  for (std::size_t i = 1; i < results.size(); ++i) CHECK(results[i] == results[0]);
}

}  // namespace test_trainer
