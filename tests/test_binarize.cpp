// Binarised data: DynamicBinarizer redraws every value as Bernoulli(value)
// each time a sample is served, reproducibly from (seed, epoch), and binarize
// draws a fixed binarisation once.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <vae/vae.hpp>

namespace test_binarize {

namespace {

using Batches = vae::MatrixBatcher<double>;

/// 8 rows of intensities 0, 1/7, ..., 1, each repeated over n columns.
Eigen::MatrixXd intensities(vae::Index n) {
  Eigen::MatrixXd x(8, n);
  for (vae::Index i = 0; i < 8; ++i) x.row(i).setConstant(double(i) / 7);
  return x;
}

/// Every batch of one epoch, side by side.
template <class Src>
Eigen::MatrixXd epoch(Src& source, int e) {
  source.start_epoch(e);
  std::vector<Eigen::MatrixXd> parts;
  vae::Index cols = 0;
  for (;;) {
    const auto b = source.next();
    if (b.cols() == 0) break;
    parts.emplace_back(b);
    cols += b.cols();
  }
  Eigen::MatrixXd out(source.features(), cols);
  vae::Index at = 0;
  for (const auto& p : parts) {
    out.middleCols(at, p.cols()) = p;
    at += p.cols();
  }
  return out;
}

bool binary(const Eigen::MatrixXd& x) { return ((x.array() == 0) || (x.array() == 1)).all(); }

}  // namespace

TEST_CASE("dynamic binarisation: Bernoulli(intensity), reproducible, new every epoch") {
  const Eigen::MatrixXd x = intensities(20000);
  Batches a(x, 256, 5, /*shuffle=*/false), b(x, 256, 5, /*shuffle=*/false);
  vae::DynamicBinarizer<Batches> da(a, 42), db(b, 42);
  const Eigen::MatrixXd e0 = epoch(da, 0), e1 = epoch(da, 1);
  CHECK(binary(e0));
  CHECK(e0.cols() == x.cols());
  // Same seed and epoch: the same pixels, whatever was drawn before.
  CHECK(epoch(db, 1) == e1);
  CHECK(epoch(db, 0) == e0);
  CHECK(epoch(da, 0) == e0);
  // Intensity 0 stays 0 and 1 stays 1; the mean of each row is its intensity.
  CHECK(e0.row(0).sum() == 0);
  CHECK(e0.row(7).sum() == double(x.cols()));
  for (vae::Index i = 1; i < 7; ++i) {
    const double p = double(i) / 7, mean = e0.row(i).mean();
    const double se = std::sqrt(p * (1 - p) / double(x.cols()));
    MESSAGE("intensity " << p << ": mean of " << x.cols() << " draws " << mean << " (standard error " << se << ")");
    CHECK(std::abs(mean - p) <= 4 * se);
  }
  // Epochs draw anew: intensity 1/2-ish pixels agree between epochs about half the time.
  const double same = (e0.row(4).array() == e1.row(4).array()).cast<double>().mean();
  const double p = 4.0 / 7, expected = p * p + (1 - p) * (1 - p);
  MESSAGE("intensity 4/7: epochs 0 and 1 agree on " << same << " of the pixels (independent draws: " << expected << ")");
  CHECK(std::abs(same - expected) <= 0.02);
  // Another seed, other pixels.
  vae::DynamicBinarizer<Batches> other(b, 43);
  CHECK(epoch(other, 0) != e0);
  // A value outside [0, 1] cannot be binarised.
  const Eigen::MatrixXd bad = Eigen::MatrixXd::Constant(8, 4, 1.5);
  Batches bad_batches(bad, 4, 0);
  vae::DynamicBinarizer<Batches> bad_source(bad_batches, 1);
  bad_source.start_epoch(0);
  CHECK_THROWS_AS(bad_source.next(), vae::ValueError);
}

TEST_CASE("a run on dynamically binarised data resumes exactly at an epoch boundary") {
  using Vae = vae::VariationalAutoencoder<8, 6, 2, double>;
  const Eigen::MatrixXd x = (Eigen::MatrixXd::Random(8, 300).array() + 1) / 2;
  vae::TrainOptions options;
  options.epochs = 3;
  options.batch_size = 32;
  options.seed = 9;
  options.adapt_threads = false;
  const vae::Objective<double> objective{vae::Reconstruction::BinaryCrossEntropy};

  Vae straight(1, objective);
  vae::Adam<double> straight_opt;
  Batches straight_batches(x, options.batch_size, options.seed);
  vae::DynamicBinarizer<Batches> straight_source(straight_batches, options.seed);
  vae::fit(straight, straight_opt, straight_source, static_cast<Batches*>(nullptr), options);

  Vae resumed(1, objective);
  vae::Adam<double> opt;
  vae::TrainOptions first = options;
  first.epochs = 1;
  {
    Batches batches(x, options.batch_size, options.seed);
    vae::DynamicBinarizer<Batches> source(batches, options.seed);
    vae::fit(resumed, opt, source, static_cast<Batches*>(nullptr), first);
  }
  // New source objects, as after a restart: the stream is a function of (seed, epoch) alone.
  vae::TrainOptions rest = options;
  rest.start_epoch = 1;
  Batches batches(x, options.batch_size, options.seed);
  vae::DynamicBinarizer<Batches> source(batches, options.seed);
  vae::fit(resumed, opt, source, static_cast<Batches*>(nullptr), rest);
  CHECK(resumed.parameters_host() == straight.parameters_host());
}

TEST_CASE("binarize: a fixed binarisation of a test set") {
  const Eigen::MatrixXd x = intensities(5000);
  const Eigen::MatrixXd a = vae::binarize<double>(x, 7), b = vae::binarize<double>(x, 7), c = vae::binarize<double>(x, 8);
  CHECK(binary(a));
  CHECK(a == b);
  CHECK(a != c);
  const double p = 3.0 / 7, se = std::sqrt(p * (1 - p) / 5000);
  CHECK(std::abs(a.row(3).mean() - p) <= 4 * se);

  vae::io::Dataset data;
  data.rows = 2;
  data.cols = 2;
  data.labels = {3, 1, 4};
  data.pixels = {0, 255, 128, 200, 0, 255, 128, 200, 0, 255, 128, 200};
  const vae::io::Dataset bin = vae::binarize(data, 7), again = vae::binarize(data, 7);
  CHECK(bin.pixels == again.pixels);
  CHECK(bin.labels == data.labels);
  CHECK(bin.size() == 3);
  for (std::size_t i = 0; i < bin.pixels.size(); ++i) {
    CHECK((bin.pixels[i] == 0 || bin.pixels[i] == 255));
    if (data.pixels[i] == 0 || data.pixels[i] == 255) CHECK(bin.pixels[i] == data.pixels[i]);
  }
  // Many copies of one intensity: the share of 255s is b / 255.
  vae::io::Dataset grey;
  grey.rows = 100;
  grey.cols = 100;
  grey.pixels.assign(10000, 51);
  const vae::io::Dataset grey_bin = vae::binarize(grey, 1);
  double ones = 0;
  for (const auto v : grey_bin.pixels) ones += v == 255;
  const double q = 51.0 / 255;
  CHECK(std::abs(ones / 10000 - q) <= 4 * std::sqrt(q * (1 - q) / 10000));
}

}  // namespace test_binarize
