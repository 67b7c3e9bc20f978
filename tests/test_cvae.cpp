// The conditional VAE: finite-difference gradient checks in double (ELBO and
// importance-weighted bound), its forward pass against the same layers
// computed by hand on [x; one-hot] and [z; one-hot], labelled batches,
// training that learns to draw a chosen class, and checkpoints (its
// log-likelihood estimate: test_likelihood).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <vae/vae.hpp>

#include "gradient_check.hpp"
#include "temp_dir.hpp"

namespace test_cvae {

namespace {

constexpr vae::Index kFeatures = 12, kClasses = 4, kLatent = 3, kBatch = 5;
using Cvae = vae::ConditionalVariationalAutoencoder<kFeatures, 6, kLatent, kClasses, double>;
using DeepCvae = vae::MlpCvae<vae::Layers<kFeatures, 7, 5, kLatent>, kClasses, vae::Tanh, double>;

const std::vector<int>& labels() {
  static const std::vector<int> y{2, 0, 3, 1, 2};
  return y;
}
const Eigen::MatrixXd& features() {
  static const Eigen::MatrixXd x = (Eigen::MatrixXd::Random(kFeatures, kBatch).array() + 1) / 2;
  return x;
}
Eigen::MatrixXd batch() { return vae::with_labels<double>(features(), labels(), kClasses); }

template <class Model>
double gradient_error(vae::Objective<double> objective, const std::string& name) {
  return vae::test::expect_model_gradients<Model>(objective, batch(), name);
}

Eigen::MatrixXd tanh_or_relu(const Eigen::MatrixXd& t, bool tanh) {
  return tanh ? Eigen::MatrixXd(t.array().tanh()) : Eigen::MatrixXd(t.cwiseMax(0.0));
}

/// An MLP's forward pass computed from its weight views: hidden layers
/// through `tanh` (else ReLU), the last one linear.
template <class Net>
Eigen::MatrixXd by_hand(const Net& net, Eigen::MatrixXd a, bool tanh) {
  for (std::size_t l = 0; l < Net::layer_count; ++l) {
    const auto w = net.weight(l), b = net.bias(l);
    const Eigen::Map<const Eigen::MatrixXd> W(w.data, w.rows, w.cols);
    const Eigen::Map<const Eigen::VectorXd> B(b.data, b.rows);
    Eigen::MatrixXd t = (W * a).colwise() + B;
    a = l + 1 < Net::layer_count ? tanh_or_relu(t, tanh) : t;
  }
  return a;
}

/// A labelled byte data set of `n` images of 12 pixels: class c lights
/// pixels [3c, 3c + 3) (255) and leaves the rest dark, with a little noise.
vae::io::Dataset striped(vae::Index n, std::uint64_t seed) {
  vae::io::Dataset d;
  d.rows = 3;
  d.cols = 4;
  vae::Rng rng(seed);
  for (vae::Index i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % kClasses);
    d.labels.push_back(static_cast<std::uint8_t>(c));
    for (vae::Index p = 0; p < kFeatures; ++p) {
      const bool on = p / 3 == c;
      const double noise = rng.uniform<double>(0.0, 20.0);
      d.pixels.push_back(static_cast<std::uint8_t>(on ? 255 - noise : noise));
    }
  }
  return d;
}

}  // namespace

TEST_CASE("conditional VAE gradients match finite differences") {
  using R = vae::Reconstruction;
  using K = vae::KlForm;
  gradient_error<Cvae>({R::SquaredError, K::Blog, 1.0}, "CVAE relu, squared error + blog KL");
  gradient_error<Cvae>({R::BinaryCrossEntropy, K::Exact, 1.0}, "CVAE relu, BCE + exact KL");
  gradient_error<DeepCvae>({R::SquaredError, K::Exact, 1.0}, "CVAE 12-7-5-3 tanh, squared error + exact KL");
  gradient_error<DeepCvae>({R::BinaryCrossEntropy, K::Exact, 2.0}, "CVAE 12-7-5-3 tanh, BCE + 2 x exact KL");
}

TEST_CASE("conditional VAE gradients of the importance-weighted bound match finite differences") {
  using R = vae::Reconstruction;
  for (const vae::Index k : {vae::Index(1), vae::Index(3)}) {
    vae::Objective<double> o{R::BinaryCrossEntropy, vae::KlForm::Exact, 1.0};
    o.bound = vae::Bound::ImportanceWeighted;
    o.samples = k;
    const std::string ks = ", k " + std::to_string(k);
    gradient_error<Cvae>(o, "CVAE relu, IWAE BCE" + ks);
    o.reconstruction = R::SquaredError;
    o.beta = 0.5;
    gradient_error<DeepCvae>(o, "CVAE 12-7-5-3 tanh, IWAE squared error, beta 0.5" + ks);
  }
}

TEST_CASE("with k = 1 the conditional IWAE's decoder gradients are the ELBO's, draw for draw") {
  vae::Objective<double> iw{vae::Reconstruction::BinaryCrossEntropy, vae::KlForm::Exact, 1.0};
  iw.bound = vae::Bound::ImportanceWeighted;
  iw.samples = 1;
  Cvae a(11, iw), b(11, {vae::Reconstruction::BinaryCrossEntropy, vae::KlForm::Exact, 1.0});
  vae::Rng ra(7), rb(7);
  const auto pa = a.compute_gradients(batch(), ra);
  const auto pb = b.compute_gradients(batch(), rb);
  CHECK(pa.reconstruction == doctest::Approx(pb.reconstruction).epsilon(1e-14));
  const Eigen::Index first = Cvae::EncoderType::parameter_count;
  const Eigen::VectorXd ga = a.gradients_host(), gb = b.gradients_host();
  const double difference = (ga.tail(Cvae::parameter_count - first) - gb.tail(Cvae::parameter_count - first)).cwiseAbs().maxCoeff();
  MESSAGE("largest decoder gradient difference " << difference << " (largest gradient " << gb.cwiseAbs().maxCoeff() << ")");
  CHECK(difference <= 1e-14 * gb.cwiseAbs().maxCoeff());
}

TEST_CASE("the label is concatenated to the encoder's input and to the decoder's latent input") {
  const DeepCvae model(3);
  CHECK(DeepCvae::input_size == kFeatures + kClasses);
  CHECK(DeepCvae::feature_size == kFeatures);
  CHECK(DeepCvae::decoder_input_size == kLatent + kClasses);
  const Eigen::MatrixXd y = vae::one_hot<double>(labels(), kClasses);
  Eigen::MatrixXd xy(kFeatures + kClasses, kBatch), zy(kLatent + kClasses, kBatch);
  xy << features(), y;
  const Eigen::MatrixXd mean = by_hand(model.encoder(), xy, true).topRows(kLatent);
  CHECK((model.encode(features(), labels()) - mean).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((model.encode(batch()) - mean).cwiseAbs().maxCoeff() < 1e-12);
  zy << mean, y;
  const Eigen::MatrixXd decoded = 1.0 / (1.0 + (-by_hand(model.decoder(), zy, true)).array().exp());
  CHECK((model.decode(mean, labels()) - decoded).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((model.reconstruct(features(), labels()) - decoded).cwiseAbs().maxCoeff() < 1e-12);
  // The same code under another label decodes to another image.
  std::vector<int> other = labels();
  for (int& c : other) c = (c + 1) % kClasses;
  CHECK((model.decode(mean, other) - decoded).cwiseAbs().maxCoeff() > 1e-3);
}

TEST_CASE("labels and batches are checked with the shapes in the message") {
  const Cvae model(1);
  vae::Rng rng(2);
  CHECK_THROWS_WITH_AS(model.encode(features(), std::vector<int>{1, 2}),
                       doctest::Contains("5 samples but 2 labels"), vae::ShapeError);
  CHECK_THROWS_WITH_AS(model.sample(3, kClasses, rng), doctest::Contains("label 4 at index 0 is outside [0, 4)"),
                       vae::ValueError);
  CHECK_THROWS_WITH_AS(model.encode(features()), doctest::Contains("has 12 rows, expected 16"), vae::ShapeError);
  CHECK_THROWS_WITH_AS(model.encode(batch(), labels()), doctest::Contains("has 16 rows, expected 12"), vae::ShapeError);
  CHECK_THROWS_WITH_AS(model.decode(Eigen::MatrixXd::Zero(kLatent, 2)), doctest::Contains("expected 7"),
                       vae::ShapeError);
  vae::Objective<double> iwae;
  iwae.bound = vae::Bound::ImportanceWeighted;
  iwae.samples = 0;
  CHECK_THROWS_AS(Cvae(0, iwae), vae::ValueError);
  CHECK_THROWS_WITH_AS(model.log_likelihood(features(), labels(), 0, rng), doctest::Contains("k is 0"), vae::ValueError);
  const Eigen::MatrixXd drawn = model.sample(7, 3, rng);
  CHECK(drawn.rows() == kFeatures);
  CHECK(drawn.cols() == 7);
  CHECK(drawn.minCoeff() >= 0.0);
  CHECK(drawn.maxCoeff() <= 1.0);
}

TEST_CASE("a labelled batcher puts each image's one-hot label below its pixels") {
  const vae::io::Dataset d = striped(10, 4);
  vae::Batcher<double> batches(d, 4, 9, /*shuffle=*/true, {}, kClasses);
  CHECK(batches.features() == kFeatures + kClasses);
  batches.start_epoch(0);
  vae::Index seen = 0;
  while (true) {
    const auto x = batches.next();
    if (x.cols() == 0) break;
    for (vae::Index j = 0; j < x.cols(); ++j) {
      vae::Index label = 0;
      x.col(j).tail(kClasses).maxCoeff(&label);
      CHECK(x.col(j).tail(kClasses).sum() == 1.0);
      // Class c's pixels [3c, 3c + 3) are the bright ones.
      CHECK(x.col(j).segment(3 * label, 3).minCoeff() > 0.9);
    }
    seen += x.cols();
  }
  CHECK(seen == 10);
  vae::io::Dataset unlabelled = d;
  unlabelled.labels.clear();
  CHECK_THROWS_WITH_AS(vae::Batcher<double>(unlabelled, 4, 0, true, {}, kClasses),
                       doctest::Contains("0 labels for 10 images"), vae::ShapeError);
  CHECK_THROWS_WITH_AS(vae::Batcher<double>(d, 4, 0, true, {}, 3), doctest::Contains("label 3 of image 3 is outside [0, 3)"),
                       vae::ValueError);
  // Dynamic binarisation leaves the one-hot rows as they are.
  vae::DynamicBinarizer<vae::Batcher<double>> binary(batches, 1);
  binary.start_epoch(0);
  const Eigen::MatrixXd b = binary.next();
  CHECK((b.bottomRows(kClasses).colwise().sum().array() == 1.0).all());
}

TEST_CASE("trained on labelled data, the model draws the class it is asked for") {
  using Model = vae::ConditionalVariationalAutoencoder<kFeatures, 32, 2, kClasses, float>;
  const vae::io::Dataset train = striped(400, 1), test = striped(40, 2);
  Model model(7, {vae::Reconstruction::BinaryCrossEntropy, vae::KlForm::Exact, 1.0f});
  vae::Adam<float> adam({}, model.context());
  vae::TrainOptions t;
  t.epochs = 60;
  t.batch_size = 20;
  const auto history = vae::fit(model, adam, train, &test, t);
  MESSAGE("test loss per sample " << history.front().test.total << " after 1 epoch, " << history.back().test.total
                                  << " after " << t.epochs);
  CHECK(history.back().test.total < 0.5 * history.front().test.total);
  vae::Rng rng(3);
  for (int c = 0; c < kClasses; ++c) {
    const Eigen::MatrixXf drawn = model.sample(50, c, rng);
    // The mean image of the draws is bright on class c's pixels and dark elsewhere.
    const Eigen::VectorXf mean = drawn.rowwise().mean();
    for (vae::Index p = 0; p < kFeatures; ++p) {
      if (p / 3 == c) {
        CHECK(mean[p] > 0.8f);
      } else {
        CHECK(mean[p] < 0.2f);
      }
    }
  }
}

TEST_CASE("checkpoints keep a conditional VAE and refuse it for another model") {
  const std::string path = (vae::test::temp_dir("vae_cvae") / "cvae.ckpt").string();
  Cvae model(5, {vae::Reconstruction::BinaryCrossEntropy, vae::KlForm::Exact, 1.0});
  vae::Adam<double> adam;
  vae::Rng rng(1);
  for (int i = 0; i < 3; ++i) model.train_step(batch(), adam, rng);
  vae::io::save_checkpoint(path, model, &adam);
  const auto info = vae::io::read_checkpoint_info(path);
  CHECK(info.architecture.classes == kClasses);
  CHECK(info.shape() == "conditional VAE 12-6-3 relu, 4 classes (double)");
  Cvae loaded(99);
  vae::Adam<double> adam2;
  vae::io::load_checkpoint(path, loaded, &adam2);
  CHECK(loaded.parameters_host() == model.parameters_host());
  CHECK(adam2.steps() == 3);
  CHECK(loaded.objective().reconstruction == vae::Reconstruction::BinaryCrossEntropy);
  // The same sizes without the classes, or another class count, are other models.
  vae::VariationalAutoencoder<kFeatures + kClasses, 6, kLatent, double> plain;
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(path, plain),
                       doctest::Contains("the checkpoint holds a conditional VAE 12-6-3 relu, 4 classes (double)"),
                       vae::ShapeError);
  vae::ConditionalVariationalAutoencoder<kFeatures + 1, 6, kLatent, kClasses - 1, double> fewer;
  CHECK_THROWS_AS(vae::io::load_checkpoint(path, fewer), vae::ShapeError);
}

TEST_CASE("a checkpoint's class count is checked behind a valid CRC") {
  const std::string path = (vae::test::temp_dir("vae_cvae") / "classes.ckpt").string();
  const Cvae model(5);
  vae::io::save_checkpoint(path, model);
  std::vector<unsigned char> bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Header (32), encoder and decoder sizes (4 + 3 x 8 each), "relu" twice (4 + 4 each): the classes.
  const std::size_t at = 32 + 2 * (4 + 3 * 8) + 2 * (4 + 4);
  std::uint64_t classes = 0;
  std::memcpy(&classes, bytes.data() + at, 8);
  REQUIRE(classes == kClasses);
  for (const std::uint64_t bad : {std::uint64_t(0), std::uint64_t(kFeatures + kClasses), std::uint64_t(1) << 40}) {
    std::memcpy(bytes.data() + at, &bad, 8);
    const std::uint32_t crc = vae::detail::crc32_of(bytes.data(), bytes.size() - 4);
    std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    }
    Cvae target(1);
    const auto before = target.parameters_host();
    const std::string expected = "field 'classes' is " + std::to_string(bad) + ", expected 1 to";
    CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(path, target), doctest::Contains(expected.c_str()), vae::FormatError);
    CHECK(target.parameters_host() == before);
  }
}

}  // namespace test_cvae
