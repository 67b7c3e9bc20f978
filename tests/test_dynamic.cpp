// Networks shaped at run time (models/dynamic.hpp): the same results as the
// fixed-size types bit for bit, activations chosen per layer, gradients,
// copies and moves, training with fit, and models built from the files
// (checkpoints and safetensors) they were saved to.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <vae/serialization/safetensors.hpp>
#include <vae/vae.hpp>

#include "gradient_check.hpp"

namespace test_dynamic {

namespace {

using vae::ActivationKind;

template <class S>
vae::Matrix<S> unit_batch(vae::Index rows, vae::Index cols, unsigned seed) {
  std::srand(seed);
  return ((vae::Matrix<double>::Random(rows, cols).array() + 1) / 2).template cast<S>().matrix();
}

template <class A, class B>
bool same_bits(const A& a, const B& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (vae::Index j = 0; j < a.cols(); ++j)
    for (vae::Index i = 0; i < a.rows(); ++i)
      if (std::memcmp(&a(i, j), &b(i, j), sizeof(a(i, j))) != 0) return false;
  return true;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("vae_test_dynamic_" + name)).string();
}

/// Trains `fixed` and `dynamic` side by side (Adam, the same batches and
/// noise) and checks every result for identical bits.
template <class Fixed, class Dyn>
void expect_identical(Fixed& fixed, Dyn& dynamic, vae::Index inputs) {
  REQUIRE(fixed.num_parameters() == dynamic.num_parameters());
  CHECK(same_bits(fixed.parameters_host(), dynamic.parameters_host()));
  using S = typename Fixed::Scalar;
  vae::Adam<S> a, b;
  vae::Rng ra(3), rb(3);
  for (int step = 0; step < 4; ++step) {
    const vae::Matrix<S> x = unit_batch<S>(inputs, 7 + step, 10u + unsigned(step));
    const auto la = fixed.train_step(x, a, ra);
    const auto lb = dynamic.train_step(x, b, rb);
    CHECK(la.total == lb.total);
    CHECK(la.kl == lb.kl);
  }
  CHECK(same_bits(fixed.parameters_host(), dynamic.parameters_host()));
  CHECK(same_bits(fixed.gradients_host(), dynamic.gradients_host()));
  const vae::Matrix<S> x = unit_batch<S>(inputs, 9, 77);
  CHECK(same_bits(fixed.encode(x), dynamic.encode(x)));
  CHECK(same_bits(fixed.reconstruct(x), dynamic.reconstruct(x)));
  const vae::Matrix<S> z = fixed.encode(x);
  CHECK(same_bits(fixed.decode(z), dynamic.decode(z)));
  vae::Rng ea(8), eb(8);
  const auto ea_loss = fixed.evaluate(x, ea);
  const auto eb_loss = dynamic.evaluate(x, eb);
  CHECK(ea_loss.total == eb_loss.total);
}

}  // namespace

TEST_CASE("a run-time VAE computes the fixed-size one's results bit for bit") {
  SUBCASE("the blog's network, float") {
    vae::VariationalAutoencoder<784, 512, 2> fixed(42);
    auto dynamic = vae::make_mlp_vae<float>({784, 512, 2}, ActivationKind::Relu, 42);
    CHECK(vae::DynamicVae<float>::input_size == vae::Dynamic);
    CHECK(dynamic.num_inputs() == 784);
    CHECK(dynamic.num_latent() == 2);
    CHECK(dynamic.num_features() == 784);
    CHECK(dynamic.num_parameters() == decltype(fixed)::parameter_count);
    CHECK(dynamic.architecture() == fixed.architecture());
    expect_identical(fixed, dynamic, 784);
  }
  SUBCASE("a deep tanh network, double, importance-weighted bound") {
    const vae::Objective<double> iwae{vae::Reconstruction::BinaryCrossEntropy, vae::KlForm::Exact, 1.0,
                                      vae::Bound::ImportanceWeighted, 3};
    vae::MlpVae<vae::Layers<20, 12, 8, 3>, vae::Tanh, double> fixed(7, iwae);
    auto dynamic = vae::make_mlp_vae<double>({20, 12, 8, 3}, ActivationKind::Tanh, 7, iwae);
    CHECK(dynamic.architecture() == fixed.architecture());
    expect_identical(fixed, dynamic, 20);
    vae::Rng la(4), lb(4);
    const vae::Matrix<double> x = unit_batch<double>(20, 6, 5);
    CHECK(same_bits(fixed.log_likelihood(x, 10, la), dynamic.log_likelihood(x, 10, lb)));
    vae::Rng sa(6), sb(6);
    CHECK(same_bits(fixed.sample(3, sa), dynamic.sample(3, sb)));
  }
  SUBCASE("an autoencoder, softplus, squared error") {
    const vae::Objective<float> se{vae::Reconstruction::SquaredError};
    vae::MlpAutoencoder<vae::Layers<16, 10, 4>, vae::Softplus> fixed(5, se);
    auto dynamic = vae::make_mlp_autoencoder<float>({16, 10, 4}, ActivationKind::Softplus, 5, se);
    CHECK(dynamic.architecture() == fixed.architecture());
    expect_identical(fixed, dynamic, 16);
  }
}

TEST_CASE("a run-time conditional VAE computes the fixed-size one's results bit for bit") {
  vae::MlpCvae<vae::Layers<12, 8, 2>, 3, vae::Tanh> fixed(5);
  auto dynamic = vae::make_mlp_cvae<3, float>({12, 8, 2}, ActivationKind::Tanh, 5);
  CHECK(dynamic.architecture() == fixed.architecture());
  CHECK(dynamic.num_inputs() == 15);
  CHECK(dynamic.num_features() == 12);
  CHECK(dynamic.num_decoder_inputs() == 5);
  // Batches carry the one-hot label in their last 3 rows.
  const auto labelled = [](unsigned seed) {
    vae::Matrix<float> x = unit_batch<float>(15, 6, seed);
    x.bottomRows(3).setZero();
    for (vae::Index j = 0; j < 6; ++j) x(12 + j % 3, j) = 1;
    return x;
  };
  vae::Adam<float> a, b;
  vae::Rng ra(1), rb(1);
  for (unsigned step = 0; step < 3; ++step) {
    const vae::Matrix<float> x = labelled(step);
    CHECK(fixed.train_step(x, a, ra).total == dynamic.train_step(x, b, rb).total);
  }
  CHECK(same_bits(fixed.parameters_host(), dynamic.parameters_host()));
  const std::vector<int> labels{0, 1, 2, 0};
  const vae::Matrix<float> x = unit_batch<float>(12, 4, 9);
  CHECK(same_bits(fixed.encode(x, labels), dynamic.encode(x, labels)));
  CHECK(same_bits(fixed.reconstruct(x, labels), dynamic.reconstruct(x, labels)));
  vae::Rng sa(2), sb(2);
  CHECK(same_bits(fixed.sample(labels, sa), dynamic.sample(labels, sb)));
}

TEST_CASE("activations chosen per layer: gradients match finite differences, names recorded per layer") {
  for (const auto kind : {vae::Reconstruction::BinaryCrossEntropy, vae::Reconstruction::SquaredError}) {
    auto model = vae::make_mlp_vae<double>({12, 8, 6, 3}, {ActivationKind::Elu, ActivationKind::Tanh}, 11,
                                           vae::Objective<double>{kind});
    const Eigen::MatrixXd x = unit_batch<double>(12, 5, 1);
    const auto check = vae::test::model_gradient_check(model, x, vae::Rng(5));
    MESSAGE("per-layer activations (" << (kind == vae::Reconstruction::SquaredError ? "squared error" : "BCE") << "): " << check.checked << " parameters, max relative error "
                                      << check.max_relative_error);
    CHECK(check.checked == model.num_parameters());
    CHECK(check.max_relative_error <= 1e-6);
  }
  auto model = vae::make_mlp_vae<float>({12, 8, 6, 3}, {ActivationKind::Elu, ActivationKind::Tanh});
  CHECK(model.architecture().encoder_activation == "elu,tanh");
  CHECK(model.architecture().decoder_activation == "tanh,elu");
  CHECK(model.architecture().describe() == "VAE encoder 12-8-6-3 elu,tanh, decoder 3-6-8-12 tanh,elu (float)");
  // The same activation on every layer is one name, as the fixed types record it.
  CHECK(vae::make_mlp_vae<float>({12, 8, 6, 3}, {ActivationKind::Relu, ActivationKind::Relu}).architecture() ==
        vae::MlpVae<vae::Layers<12, 8, 6, 3>>::architecture());
  // Each layer runs its own activation: swapping two changes the result.
  auto swapped = vae::make_mlp_vae<float>({12, 8, 6, 3}, {ActivationKind::Tanh, ActivationKind::Elu});
  const vae::Matrix<float> x = unit_batch<float>(12, 4, 2);
  CHECK_FALSE(same_bits(model.encode(x), swapped.encode(x)));
}

TEST_CASE("run-time shapes that do not fit are refused with the sizes named") {
  CHECK_THROWS_WITH_AS(vae::make_mlp_vae<float>({784}, ActivationKind::Relu),
                       doctest::Contains("at least an input and an output size, got 1 size"), vae::ShapeError);
  CHECK_THROWS_WITH_AS(vae::make_mlp_vae<float>({784, 0, 2}, ActivationKind::Relu),
                       doctest::Contains("layer size 1 is 0, expected a positive size"), vae::ShapeError);
  CHECK_THROWS_WITH_AS(
      vae::make_mlp_vae<float>({784, 300, 100, 2}, {ActivationKind::Relu, ActivationKind::Tanh, ActivationKind::Elu}),
      doctest::Contains("3 activations for 2 hidden layers"), vae::ShapeError);
  using Enc = vae::DynamicVariationalEncoder<float>;
  using Dec = vae::DynamicDecoder<float>;
  CHECK_THROWS_WITH_AS(vae::DynamicVae<float>(Enc({784, 512, 2}, {ActivationKind::Relu}),
                                              Dec({3, 512, 784}, {ActivationKind::Relu})),
                       doctest::Contains("the decoder takes 3 inputs, the encoder's code has 2"), vae::ShapeError);
  CHECK_THROWS_WITH_AS(vae::DynamicVae<float>(Enc({784, 512, 2}, {ActivationKind::Relu}),
                                              Dec({2, 512, 780}, {ActivationKind::Relu})),
                       doctest::Contains("vae::VariationalAutoencoder: the decoder outputs 780 rows, the encoder "
                                         "takes 784; the squared-error loss needs as many"),
                       vae::ShapeError);
  auto model = vae::make_mlp_vae<float>({10, 6, 2}, ActivationKind::Relu);
  CHECK_THROWS_WITH_AS(model.encode(vae::Matrix<float>::Zero(11, 2)),
                       doctest::Contains("input batch has 11 rows, expected 10"), vae::ShapeError);
}

TEST_CASE("copies and moves of a run-time model keep their own shapes and buffers") {
  auto a = vae::make_mlp_vae<float>({10, 6, 2}, ActivationKind::Tanh, 1);
  auto big = vae::make_mlp_vae<float>({10, 8, 8, 3}, ActivationKind::Relu, 2);
  const vae::Matrix<float> x = unit_batch<float>(10, 3, 4);
  const vae::Matrix<float> a_code = a.encode(x);
  auto copy = a;
  CHECK(same_bits(copy.encode(x), a_code));
  copy = big;  // takes the other shape
  CHECK(copy.num_latent() == 3);
  CHECK(same_bits(copy.encode(x), big.encode(x)));
  auto moved = std::move(copy);
  CHECK(same_bits(moved.encode(x), big.encode(x)));
  copy = a;  // a moved-from model can be assigned again
  CHECK(same_bits(copy.encode(x), a_code));
  moved = std::move(copy);
  CHECK(same_bits(moved.encode(x), a_code));
  vae::Adam<float> opt;
  vae::Rng rng(1);
  moved.train_step(x, opt, rng);
  CHECK(same_bits(a.encode(x), a_code));  // training the copy leaves the original alone
}

TEST_CASE("fit trains a run-time model exactly as the fixed-size one") {
  const vae::Matrix<float> train = unit_batch<float>(16, 96, 21), test = unit_batch<float>(16, 32, 22);
  vae::MlpVae<vae::Layers<16, 12, 2>, vae::Elu> fixed(9);
  auto dynamic = vae::make_mlp_vae<float>({16, 12, 2}, ActivationKind::Elu, 9);
  vae::TrainOptions options;
  options.epochs = 2;
  options.batch_size = 32;
  options.seed = 5;
  vae::Adam<float> a, b;
  const auto ha = vae::fit(fixed, a, train, &test, options);
  const auto hb = vae::fit(dynamic, b, train, &test, options);
  REQUIRE(ha.size() == hb.size());
  for (std::size_t e = 0; e < ha.size(); ++e) {
    CHECK(ha[e].train.total == hb[e].train.total);
    CHECK(ha[e].test.total == hb[e].test.total);
  }
  CHECK(same_bits(fixed.parameters_host(), dynamic.parameters_host()));
  CHECK_THROWS_WITH_AS(vae::fit(dynamic, b, vae::Matrix<float>(unit_batch<float>(15, 8, 1)), nullptr, options),
                       doctest::Contains("15 features per sample, the model takes 16"), vae::ShapeError);
}

TEST_CASE("a model built from its checkpoint: only the scalar and backend named") {
  const std::string path = temp_path("model.ckpt");
  vae::MlpVae<vae::Layers<20, 12, 8, 3>, vae::Tanh> trained(4);
  vae::Adam<float> opt;
  vae::Rng rng(2);
  const vae::Matrix<float> x = unit_batch<float>(20, 8, 3);
  trained.train_step(x, opt, rng);
  const vae::io::TrainingPosition where{5, 77};
  vae::io::save_checkpoint(path, trained, &opt, &where);

  vae::Adam<float> restored_opt;
  vae::io::TrainingPosition position;
  auto model = vae::io::load_checkpoint_model<vae::DynamicVae<float>>(path, &restored_opt, &position);
  CHECK(model.architecture() == trained.architecture());
  CHECK(same_bits(model.parameters_host(), trained.parameters_host()));
  CHECK(position.next_epoch == 5);
  CHECK(restored_opt.steps() == opt.steps());
  CHECK(same_bits(model.encode(x), trained.encode(x)));
  vae::Rng ra(9), rb(9);
  CHECK(same_bits(model.log_likelihood(x, 5, ra), trained.log_likelihood(x, 5, rb)));
  // Training goes on from the file as it would have from the model.
  vae::Rng sa(3), sb(3);
  model.train_step(x, restored_opt, sa);
  trained.train_step(x, opt, sb);
  CHECK(same_bits(model.parameters_host(), trained.parameters_host()));

  // A run-time model with per-layer activations round-trips through a checkpoint.
  auto mixed = vae::make_mlp_vae<float>({20, 12, 8, 3}, {ActivationKind::Relu, ActivationKind::Softplus}, 6);
  vae::io::save_checkpoint(path, mixed);
  auto back = vae::io::load_checkpoint_model<vae::DynamicVae<float>>(path);
  CHECK(back.architecture() == mixed.architecture());
  CHECK(same_bits(back.encode(x), mixed.encode(x)));
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(path, trained), doctest::Contains("relu,softplus"), vae::ShapeError);

  // What cannot be built is refused with what the file holds.
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint_model<vae::DynamicAutoencoder<float>>(path),
                       doctest::Contains("the architecture is a VAE encoder 20-12-8-3 relu,softplus"), vae::FormatError);
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint_model<vae::DynamicVae<double>>(path),
                       doctest::Contains("of 4-byte scalars; this model computes in double"), vae::FormatError);
  vae::ConditionalVariationalAutoencoder<20, 8, 2, 3> cvae;
  vae::io::save_checkpoint(path, cvae);
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint_model<vae::DynamicVae<float>>(path),
                       doctest::Contains("conditional VAE 20-8-2 relu, 3 classes"), vae::FormatError);
  using Cvae4 = vae::DynamicCvae<4, float>;
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint_model<Cvae4>(path),
                       doctest::Contains("this builds a conditional VAE of 4 classes"), vae::FormatError);
  auto cvae_back = vae::io::load_checkpoint_model<vae::DynamicCvae<3, float>>(path);
  CHECK(cvae_back.architecture() == cvae.architecture());
  CHECK(same_bits(cvae_back.parameters_host(), cvae.parameters_host()));
  std::remove(path.c_str());
}

TEST_CASE("a checkpoint naming an activation vae does not have is refused by name") {
  const std::string path = temp_path("unknown.ckpt");
  vae::Architecture a = vae::make_mlp_vae<float>({6, 4, 2}, ActivationKind::Relu).architecture();
  a.encoder_activation = "swish";
  CHECK_THROWS_WITH_AS(vae::make_model<vae::DynamicVae<float>>(a),
                       doctest::Contains("the encoder's activation is 'swish': not one of vae's activations"),
                       vae::FormatError);
  a.encoder_activation = "relu,\x1b[2J";
  CHECK_THROWS_WITH_AS(vae::make_model<vae::DynamicVae<float>>(a), doctest::Contains("'relu,\\x1b[2J'"),
                       vae::FormatError);
  a = vae::make_mlp_vae<float>({6, 4, 2}, ActivationKind::Relu).architecture();
  a.decoder = {2, 4, 7};
  CHECK_THROWS_WITH_AS(vae::make_model<vae::DynamicVae<float>>(a), doctest::Contains("the decoder outputs 7 rows, the encoder takes 6"),
                       vae::ShapeError);
  std::remove(path.c_str());
}

TEST_CASE("a model built from its safetensors file, with the metadata vae writes") {
  const std::string path = temp_path("model.safetensors");
  auto model = vae::make_mlp_vae<float>({20, 12, 8, 3}, {ActivationKind::Tanh, ActivationKind::Relu}, 3);
  vae::io::save_safetensors(model, path);
  const auto header = vae::io::read_safetensors_header(path);
  CHECK(header.metadata.at("vae.encoder_activation") == "tanh,relu");
  CHECK(header.metadata.at("vae.names") == "sequential");
  auto back = vae::io::load_safetensors_model<vae::DynamicVae<double>>(path);
  CHECK(back.architecture().encoder == model.architecture().encoder);
  CHECK(back.parameters_host() == model.parameters_host().cast<double>());
  const vae::Matrix<float> x = unit_batch<float>(20, 4, 8);
  CHECK((back.encode(x.cast<double>()).cast<float>() - model.encode(x)).cwiseAbs().maxCoeff() < 1e-5f);

  // A fixed-size model loads the file a run-time one wrote, and the other way.
  vae::VariationalAutoencoder<20, 12, 3> blog(1);
  vae::io::save_safetensors(blog, path);
  CHECK(vae::io::read_safetensors_header(path).metadata.at("vae.names") == "blog");
  auto blog_back = vae::io::load_safetensors_model<vae::DynamicVae<float>>(path);
  CHECK(same_bits(blog_back.parameters_host(), blog.parameters_host()));
  CHECK(vae::io::uses_blog_names(blog_back));
  vae::VariationalAutoencoder<20, 12, 3> fixed_back(2);
  vae::io::load_safetensors(path, fixed_back);
  CHECK(same_bits(fixed_back.parameters_host(), blog.parameters_host()));

  // A conditional VAE's file names its classes.
  vae::MlpCvae<vae::Layers<20, 12, 3>, 4, vae::Tanh> cvae(5);
  vae::io::save_safetensors(cvae, path);
  auto cvae_back = vae::io::load_safetensors_model<vae::DynamicCvae<4, float>>(path);
  CHECK(cvae_back.architecture() == cvae.architecture());
  CHECK(same_bits(cvae_back.parameters_host(), cvae.parameters_host()));
  CHECK_THROWS_WITH_AS(vae::io::load_safetensors_model<vae::DynamicVae<float>>(path),
                       doctest::Contains("conditional VAE 20-12-3 tanh, 4 classes"), vae::FormatError);

  // A file without vae's metadata cannot say what it holds.
  vae::io::detail::write_safetensors_file(path, {}, {{"format", "pt"}});
  CHECK_THROWS_WITH_AS(vae::io::load_safetensors_model<vae::DynamicVae<float>>(path),
                       doctest::Contains("metadata 'vae.kind' is missing"), vae::FormatError);
  std::remove(path.c_str());
}

TEST_CASE("fixed-size Eigen batches: the model's row count works (a mismatch does not compile: compile_fail/fixed_rows_mismatch)") {
  vae::Autoencoder<16, 8, 2> fixed(3);
  auto dynamic = vae::make_mlp_autoencoder<float>({16, 8, 2}, ActivationKind::Relu, 3);
  const Eigen::Matrix<float, 16, 4> x = unit_batch<float>(16, 4, 1);
  const vae::Matrix<float> same = x;
  CHECK(same_bits(fixed.encode(x), fixed.encode(same)));
  CHECK(same_bits(fixed.reconstruct(x), dynamic.reconstruct(x)));
  const Eigen::Matrix<float, 2, 3> z = Eigen::Matrix<float, 2, 3>::Constant(0.5f);
  CHECK(same_bits(fixed.decode(z), dynamic.decode(z)));
  // A run-time model checks the rows when it runs.
  const Eigen::Matrix<float, 10, 4> wrong = Eigen::Matrix<float, 10, 4>::Zero();
  CHECK_THROWS_WITH_AS(dynamic.encode(wrong), doctest::Contains("input batch has 10 rows, expected 16"), vae::ShapeError);
  vae::Adam<float> opt;
  vae::Rng rng(1);
  CHECK(dynamic.train_step(x, opt, rng).total > 0);
  CHECK(fixed.compute_gradients(x.leftCols(2)).total > 0);  // an expression of the right rows
}

}  // namespace test_dynamic
