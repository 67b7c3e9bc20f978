// Convolutional layers and networks of any layers (layers/conv.hpp,
// models/sequential.hpp): the forward pass against a direct convolution
// written out here, every gradient (weights, biases, inputs) against finite
// differences in double for each kernel, stride and padding used, whole
// convolutional models' gradients, dense networks bit for bit as
// DynamicMlp's, bits independent of the thread count, models built from the
// files they were saved to, and the shape errors.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <vae/vae.hpp>

#include "gradient_check.hpp"

namespace test_conv {

namespace {

using vae::ActivationKind;
using vae::Index;
using Net = vae::detail::SequentialNet<double, vae::Cpu>;

Eigen::VectorXd random_vector(Index n, unsigned seed, double scale = 1.0) {
  std::srand(seed);
  return Eigen::VectorXd::Random(n) * scale;
}

/// A network's output for parameters p and input x.
Eigen::MatrixXd run(const Net& net, const Eigen::VectorXd& p, const Eigen::MatrixXd& x) {
  Eigen::VectorXd params = p, grads = Eigen::VectorXd::Zero(p.size());
  Net copy = net;
  copy.bind(params.data(), grads.data());
  auto ws = copy.workspace();
  ws.reserve(x.cols());
  const vae::View<double> y = copy.forward({}, vae::ConstView<double>(x.data(), x.rows(), x.cols(), x.rows()), ws);
  return Eigen::Map<const Eigen::MatrixXd>(y.data, y.rows, y.cols);
}

/// The image value at (c, y, x) of column b, 0 outside.
double at(const Eigen::MatrixXd& m, Index b, Index c, Index y, Index x, Index h, Index w) {
  if (y < 0 || y >= h || x < 0 || x >= w) return 0;
  return m((c * h + y) * w + x, b);
}

/// nn.Conv2d and nn.ConvTranspose2d written out element by element (their
/// documented definitions), with weights in PyTorch's order, then the
/// activation (ReLU or none).
Eigen::MatrixXd direct(const vae::LayerSpec& l, const double* p, const Eigen::MatrixXd& x) {
  const Index ci = Index(l.input[0]), h = Index(l.input[1]), w = Index(l.input[2]);
  const Index co = Index(l.output[0]), oh = Index(l.output[1]), ow = Index(l.output[2]);
  const Index k = l.settings[0], s = l.settings[1], pad = l.settings[2];
  const double* bias = p + ci * co * k * k;
  Eigen::MatrixXd y = Eigen::MatrixXd::Zero(co * oh * ow, x.cols());
  for (Index b = 0; b < x.cols(); ++b) {
    if (l.kind == "conv2d") {
      for (Index o = 0; o < co; ++o)
        for (Index oy = 0; oy < oh; ++oy)
          for (Index ox = 0; ox < ow; ++ox) {
            double v = bias[o];
            for (Index i = 0; i < ci; ++i)
              for (Index ky = 0; ky < k; ++ky)
                for (Index kx = 0; kx < k; ++kx)
                  v += p[((o * ci + i) * k + ky) * k + kx] * at(x, b, i, oy * s - pad + ky, ox * s - pad + kx, h, w);
            y((o * oh + oy) * ow + ox, b) = v;
          }
    } else {
      for (Index o = 0; o < co; ++o)
        for (Index q = 0; q < oh * ow; ++q) y(o * oh * ow + q, b) = bias[o];
      for (Index i = 0; i < ci; ++i)
        for (Index iy = 0; iy < h; ++iy)
          for (Index ix = 0; ix < w; ++ix)
            for (Index o = 0; o < co; ++o)
              for (Index ky = 0; ky < k; ++ky)
                for (Index kx = 0; kx < k; ++kx) {
                  const Index oy = iy * s - pad + ky, ox = ix * s - pad + kx;
                  if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                  y((o * oh + oy) * ow + ox, b) += x((i * h + iy) * w + ix, b) * p[((i * co + o) * k + ky) * k + kx];
                }
    }
  }
  if (l.activation == "relu") y = y.cwiseMax(0.0);
  return y;
}

/// Loss sum(r .* y) of the network over x: its gradients from backward
/// against finite differences, for the parameters and the input.
void check_layer_gradients(const std::vector<vae::LayerSpec>& layers, Index batch, const std::string& name) {
  const Net net(layers, "test");
  const Index in = net.input_elements(), out = net.output_elements();
  const Eigen::VectorXd p0 = random_vector(net.num_parameters(), 3, 0.5);
  const Eigen::MatrixXd x0 = Eigen::Map<const Eigen::MatrixXd>(random_vector(in * batch, 4).data(), in, batch);
  const Eigen::MatrixXd r = Eigen::Map<const Eigen::MatrixXd>(random_vector(out * batch, 5).data(), out, batch);
  // Analytic.
  Eigen::VectorXd params = p0, grads = Eigen::VectorXd::Zero(p0.size());
  Net copy = net;
  copy.bind(params.data(), grads.data());
  auto ws = copy.workspace();
  ws.reserve(batch);
  const vae::ConstView<double> xv(x0.data(), in, batch, in);
  copy.forward({}, xv, ws);
  Eigen::MatrixXd dout = r, dx(in, batch);
  copy.backward({}, xv, ws, vae::make_view(dout.data(), out, batch), vae::make_view(dx.data(), in, batch));
  const auto loss = [&](const Eigen::VectorXd& p, const Eigen::MatrixXd& x) { return (run(net, p, x).array() * r.array()).sum(); };
  const auto wp = vae::test::check_gradient([&](const Eigen::VectorXd& p) { return loss(p, x0); }, p0, grads);
  const Eigen::VectorXd xflat = Eigen::Map<const Eigen::VectorXd>(x0.data(), x0.size());
  const Eigen::VectorXd dxflat = Eigen::Map<const Eigen::VectorXd>(dx.data(), dx.size());
  const auto wx = vae::test::check_gradient(
      [&](const Eigen::VectorXd& v) { return loss(p0, Eigen::Map<const Eigen::MatrixXd>(v.data(), in, batch)); }, xflat,
      dxflat);
  MESSAGE(name << ": " << wp.checked << " parameters, max relative error " << wp.max_relative_error << "; " << wx.checked
               << " inputs, " << wx.max_relative_error);
  CHECK(wp.checked == net.num_parameters());
  CHECK(wp.max_relative_error <= 1e-6);
  CHECK(wx.max_relative_error <= 1e-6);
}

struct ConvCase {
  Index kernel, stride, padding, output_padding;
};

// Every kernel, stride and padding the Keras network uses (3/2/1 and 3/1/1,
// output padding 1 and 0), and others: no padding, a kernel of the stride's
// size, a larger kernel, an odd image.
const ConvCase kCases[] = {{3, 2, 1, 1}, {3, 1, 1, 0}, {3, 1, 0, 0}, {2, 2, 0, 0}, {4, 2, 1, 0}, {5, 3, 2, 2}, {1, 1, 0, 0}};

}  // namespace

TEST_CASE("conv2d and conv_transpose2d compute what PyTorch's definitions say") {
  for (const ConvCase& c : kCases)
    for (const Index h : {7, 8}) {
      for (const bool transposed : {false, true}) {
        vae::NetworkBuilder b({3, std::uint64_t(h), std::uint64_t(h + 1)});
        if (transposed) b.conv_transpose2d(2, c.kernel, c.stride, c.padding, c.output_padding, ActivationKind::Relu);
        else b.conv2d(2, c.kernel, c.stride, c.padding, ActivationKind::Relu);
        const Net net(b.layers(), "test");
        const Eigen::VectorXd p = random_vector(net.num_parameters(), 7);
        const Eigen::MatrixXd x = Eigen::MatrixXd::Random(net.input_elements(), 3);
        const Eigen::MatrixXd want = direct(b.layers()[0], p.data(), x);
        const Eigen::MatrixXd got = run(net, p, x);
        INFO(b.layers()[0].describe());
        REQUIRE(got.rows() == want.rows());
        CHECK((got - want).cwiseAbs().maxCoeff() <= 1e-12);
      }
    }
}

TEST_CASE("convolution gradients match finite differences for every kernel, stride and padding") {
  for (const ConvCase& c : kCases) {
    const std::string settings =
        std::to_string(c.kernel) + "/" + std::to_string(c.stride) + "/" + std::to_string(c.padding);
    {
      vae::NetworkBuilder b({2, 7, 8});
      b.conv2d(3, c.kernel, c.stride, c.padding, ActivationKind::Tanh);
      check_layer_gradients(b.layers(), 2, "conv2d " + settings);
    }
    {
      vae::NetworkBuilder b({2, 4, 3});
      b.conv_transpose2d(3, c.kernel, c.stride, c.padding, c.output_padding, ActivationKind::Softplus);
      check_layer_gradients(b.layers(), 2, "conv_transpose2d " + settings + "/" + std::to_string(c.output_padding));
    }
  }
  // Layers in a row: convolution, flatten, dense, reshape, transposed convolution.
  vae::NetworkBuilder b({1, 6, 6});
  b.conv2d(2, 3, 2, 1, ActivationKind::Elu).flatten().dense(5, ActivationKind::Tanh).dense(18, ActivationKind::Relu)
      .reshape(2, 3, 3).conv_transpose2d(1, 3, 2, 1, 1);
  check_layer_gradients(b.layers(), 3, "conv, flatten, dense, reshape, conv_transpose");
}

namespace {
/// A small convolutional VAE (and autoencoder) over 1 x 8 x 8 images.
vae::ConvNetworks small_networks(Index latent, Index heads) {
  vae::ConvNetworks n;
  n.encoder = vae::NetworkBuilder({1, 8, 8})
                  .conv2d(2, 3, 2, 1, ActivationKind::Relu)
                  .flatten()
                  .dense(6, ActivationKind::Tanh)
                  .dense(heads * latent)
                  .layers();
  n.decoder = vae::NetworkBuilder({std::uint64_t(latent)})
                  .dense(2 * 4 * 4, ActivationKind::Tanh)
                  .reshape(2, 4, 4)
                  .conv_transpose2d(1, 3, 2, 1, 1)
                  .layers();
  return n;
}
}  // namespace

TEST_CASE("a convolutional VAE's and autoencoder's gradients match finite differences") {
  std::srand(9);
  const Eigen::MatrixXd batch = (Eigen::MatrixXd::Random(64, 3).array() + 1) / 2;
  for (const auto loss : {vae::Reconstruction::BinaryCrossEntropy, vae::Reconstruction::Gaussian}) {
    vae::Objective<double> objective;
    objective.reconstruction = loss;
    objective.kl = vae::KlForm::Exact;
    const vae::ConvNetworks n = small_networks(2, 2);
    vae::SequentialVae<double> model(vae::SequentialVariationalEncoder<double>(n.encoder),
                                     vae::SequentialDecoder<double>(n.decoder), 11, objective);
    const auto check = vae::test::model_gradient_check(model, batch, vae::Rng(5));
    MESSAGE("conv VAE, " << std::string(vae::name_of(loss)) << ": " << check.checked << " parameters, max relative error "
                         << check.max_relative_error);
    CHECK(check.checked == model.num_parameters());
    CHECK(check.max_relative_error <= 1e-6);
  }
  const vae::ConvNetworks n = small_networks(3, 1);
  vae::SequentialAutoencoder<double> ae(vae::SequentialEncoder<double>(n.encoder), vae::SequentialDecoder<double>(n.decoder), 11);
  const auto check = vae::test::model_gradient_check(ae, batch, vae::Rng(5));
  MESSAGE("conv autoencoder: max relative error " << check.max_relative_error);
  CHECK(check.max_relative_error <= 1e-6);
}

namespace {
template <class A, class B>
bool same_bits(const A& a, const B& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(a(0, 0)) * std::size_t(a.size())) == 0;
}
}  // namespace

TEST_CASE("a network of dense layers computes DynamicMlp's bits") {
  const std::vector<Index> sizes{20, 12, 7, 3};
  const std::vector<ActivationKind> acts{ActivationKind::Relu, ActivationKind::Tanh};
  auto dynamic = vae::make_mlp_vae<float>(sizes, acts, 4);
  vae::NetworkBuilder e({20}), d({3});
  e.dense(12, ActivationKind::Relu).dense(7, ActivationKind::Tanh).dense(6);
  d.dense(7, ActivationKind::Tanh).dense(12, ActivationKind::Relu).dense(20);
  vae::SequentialVae<float> seq(vae::SequentialVariationalEncoder<float>(e.layers()),
                                vae::SequentialDecoder<float>(d.layers()), 4);
  CHECK(seq.architecture() == dynamic.architecture());
  CHECK(same_bits(seq.parameters_host(), dynamic.parameters_host()));
  std::srand(3);
  const vae::Matrix<float> x = ((Eigen::MatrixXf::Random(20, 33).array() + 1) / 2).matrix();
  vae::Adam<float> o1, o2;
  vae::Rng r1(8), r2(8);
  for (int step = 0; step < 3; ++step) {
    const auto a = seq.train_step(x, o1, r1);
    const auto b = dynamic.train_step(x, o2, r2);
    CHECK(a.total == b.total);
  }
  CHECK(same_bits(seq.parameters_host(), dynamic.parameters_host()));
  CHECK(same_bits(seq.gradients_host(), dynamic.gradients_host()));
  CHECK(same_bits(seq.reconstruct(x), dynamic.reconstruct(x)));
}

TEST_CASE("the Keras network's training steps have the same bits on 1 and 2 threads") {
  std::srand(2);
  const vae::Matrix<float> x = ((Eigen::MatrixXf::Random(784, 40).array() + 1) / 2).matrix();
  vae::Matrix<float> params[2], recon[2];
  const int threads_before = vae::num_threads();
  for (const int threads : {1, 2}) {
    vae::set_num_threads(threads);
    auto model = vae::make_conv_vae<float>(2, 1);
    vae::Adam<float> opt;
    vae::Rng rng(3);
    for (int step = 0; step < 2; ++step) model.train_step(x, opt, rng);
    params[threads - 1] = model.parameters_host();
    recon[threads - 1] = model.reconstruct(x);
  }
  vae::set_num_threads(threads_before);
  CHECK(same_bits(params[0], params[1]));
  CHECK(same_bits(recon[0], recon[1]));
}

TEST_CASE("a channel's sum has the same bits wherever in memory a thread works") {
  // A chunk's bias gradient is summed in the slot of memory of the thread
  // that runs it: the sum must not depend on the address's alignment
  // (Eigen's sum starts at an aligned element, which changed the bits with
  // the thread that ran a block).
  std::srand(9);
  const Eigen::VectorXf values = Eigen::VectorXf::Random(589) * 100.0f;
  std::vector<float> memory(values.size() + 32);
  float first = 0;
  for (Index offset = 0; offset < 32; ++offset) {
    std::copy(values.data(), values.data() + values.size(), memory.data() + offset);
    const float sum = vae::detail::sum_run(memory.data() + offset, values.size());
    if (offset == 0) first = sum;
    CAPTURE(offset);
    CHECK(std::memcmp(&sum, &first, sizeof sum) == 0);
  }
  CHECK(double(first) == doctest::Approx(values.cast<double>().sum()).epsilon(1e-5));
}

TEST_CASE("a batch cut into chunks of images gives the sum of the images' gradients") {
  // A chunk holds at most a 16th of the batch: 5 images make 5 chunks.
  auto ae = vae::make_conv_autoencoder<double>(3, 2);
  std::srand(4);
  const Eigen::MatrixXd x = (Eigen::MatrixXd::Random(784, 5).array() + 1) / 2;
  vae::Rng rng(1);
  ae.compute_gradients(x, rng);
  const Eigen::VectorXd whole = ae.gradients_host();
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(whole.size());
  for (Index j = 0; j < x.cols(); ++j) {
    ae.compute_gradients(x.col(j), rng);
    sum += ae.gradients_host();
  }
  CHECK((whole - sum).cwiseAbs().maxCoeff() <= 1e-10 * sum.cwiseAbs().maxCoeff());
}

TEST_CASE("the Keras network as types computes the run-time network's bits") {
  using Fixed = vae::KerasConvVae<2>;
  static_assert(vae::KerasConvEncoder<2>::inputs == 784 && vae::KerasConvDecoder<2>::outputs == 784);
  static_assert(vae::KerasConvEncoder<2>::parameters + vae::KerasConvDecoder<2>::parameters == 134165);
  Fixed fixed(6);
  auto dynamic = vae::make_conv_vae<float>(2, 6);
  CHECK(fixed.architecture() == dynamic.architecture());
  std::srand(5);
  const vae::Matrix<float> x = ((Eigen::MatrixXf::Random(784, 9).array() + 1) / 2).matrix();
  vae::Adam<float> o1, o2;
  vae::Rng r1(2), r2(2);
  for (int step = 0; step < 2; ++step) CHECK(fixed.train_step(x, o1, r1).total == dynamic.train_step(x, o2, r2).total);
  CHECK(same_bits(fixed.parameters_host(), dynamic.parameters_host()));
  // Their checkpoints are one another's.
  const std::string path = (std::filesystem::temp_directory_path() / "vae_test_conv_fixed.ckpt").string();
  vae::io::save_checkpoint(path, fixed, &o1);
  auto loaded = vae::io::load_checkpoint_model<vae::SequentialVae<float>>(path);
  CHECK(same_bits(loaded.parameters_host(), fixed.parameters_host()));
  std::filesystem::remove(path);
}

TEST_CASE("the Keras network: its shapes, parameters and description") {
  auto model = vae::make_conv_vae<float>(2, 0);
  // PyTorch's count for the same modules: 320 + 18496 + 50192 + 68 | 9408 + 36928 + 18464 + 289.
  CHECK(model.num_parameters() == 320 + 18496 + 50192 + 68 + 9408 + 36928 + 18464 + 289);
  CHECK(model.num_inputs() == 784);
  CHECK(model.num_latent() == 2);
  const std::string d = model.architecture().describe();
  CHECK(d.find("conv2d 1x28x28->32x14x14 relu [3,2,1]") != std::string::npos);
  CHECK(d.find("conv_transpose2d 32x28x28->1x28x28 identity [3,1,1,0]") != std::string::npos);
}

TEST_CASE("a convolutional model is rebuilt from its checkpoint") {
  const std::string path = (std::filesystem::temp_directory_path() / "vae_test_conv.ckpt").string();
  auto model = vae::make_conv_vae<float>(3, 5);
  std::srand(1);
  const vae::Matrix<float> x = ((Eigen::MatrixXf::Random(784, 8).array() + 1) / 2).matrix();
  vae::Adam<float> opt;
  vae::Rng rng(1);
  model.train_step(x, opt, rng);
  vae::io::save_checkpoint(path, model, &opt);
  auto loaded = vae::io::load_checkpoint_model<vae::SequentialVae<float>>(path);
  CHECK(loaded.architecture() == model.architecture());
  CHECK(same_bits(loaded.parameters_host(), model.parameters_host()));
  CHECK(same_bits(loaded.encode(x), model.encode(x)));
  // A dense model's reader names what the file holds and where to build it.
  try {
    (void)vae::io::load_checkpoint_model<vae::DynamicVae<float>>(path);
    FAIL("a dense model was built from a convolutional checkpoint");
  } catch (const vae::FormatError& e) {
    const std::string what = e.what();
    CHECK(what.find("conv2d") != std::string::npos);
    CHECK(what.find("SequentialVae") != std::string::npos);
  }
  std::filesystem::remove(path);
}

namespace {
/// The message of the ShapeError f() throws, or "no error".
template <class F>
std::string message(F f) {
  try {
    f();
  } catch (const vae::ShapeError& e) {
    return std::string(e.what());
  }
  return std::string("no error");
}
}  // namespace

TEST_CASE("layers that do not fit are refused, naming the layer") {
  CHECK(message([] { vae::NetworkBuilder({1, 28, 28}).dense(10); }).find("flatten() first") != std::string::npos);
  CHECK(message([] { vae::NetworkBuilder({784}).conv2d(8, 3, 1, 1); }).find("expected an image") != std::string::npos);
  CHECK(message([] { vae::NetworkBuilder({1, 2, 2}).conv2d(8, 5, 1, 0); }).find("larger than the padded image") !=
        std::string::npos);
  CHECK(message([] { vae::NetworkBuilder({1, 8, 8}).conv2d(8, 3, 1, 3); }).find("less than the kernel") != std::string::npos);
  CHECK(message([] { vae::NetworkBuilder({4, 7, 7}).conv_transpose2d(8, 3, 2, 1, 2); }).find("less than the stride") !=
        std::string::npos);
  CHECK(message([] { vae::NetworkBuilder({100}).reshape(3, 5, 5); }).find("same count") != std::string::npos);
  // A list whose layers do not chain.
  auto layers = vae::NetworkBuilder({1, 8, 8}).conv2d(2, 3, 2, 1).flatten().dense(4).layers();
  layers[2].input = {31};
  CHECK(message([&] { vae::SequentialEncoder<float> e(layers); }).find("layer 2") != std::string::npos);
  // Settings that contradict the shapes.
  auto wrong = vae::NetworkBuilder({1, 8, 8}).conv2d(2, 3, 2, 1).flatten().dense(4).layers();
  wrong[0].settings = {3, 1, 1};
  CHECK(message([&] { vae::SequentialEncoder<float> e(wrong); }).find("the output should be 2x8x8") != std::string::npos);
  auto unknown = wrong;
  unknown[0].kind = "pool2d";
  CHECK(message([&] { vae::SequentialEncoder<float> e(unknown); }).find("'pool2d' is not one of") != std::string::npos);
  // Ending in a shape change.
  CHECK(message([] { vae::SequentialEncoder<float> e(vae::NetworkBuilder({1, 4, 4}).flatten().layers()); })
            .find("must compute") != std::string::npos);
  // The label's planes: the first layer only, of an image, and a list that adds up.
  CHECK(message([] { vae::NetworkBuilder({1, 8, 8}).conv2d(2, 3, 2, 1).label_planes(3); }).find("must be the first") !=
        std::string::npos);
  CHECK(message([] { vae::NetworkBuilder({64}).label_planes(3); }).find("expected an image") != std::string::npos);
  CHECK(message([] { vae::NetworkBuilder({1, 8, 8}).label_planes(0); }).find("at least 1") != std::string::npos);
  auto planes = vae::NetworkBuilder({1, 8, 8}).label_planes(3).conv2d(2, 3, 2, 1).flatten().dense(4).layers();
  planes[0].input = {66};
  CHECK(message([&] { vae::SequentialEncoder<float> e(planes); }).find("the input should be 67 features") != std::string::npos);
  planes[0].input = {67};
  planes[0].settings = {4};
  CHECK(message([&] { vae::SequentialEncoder<float> e(planes); }).find("fewer than the output's 4 channels") !=
        std::string::npos);
}

namespace {
/// A small conditional convolutional VAE over 1 x 8 x 8 images and 3
/// classes: the label's planes beside the image, its rows beside the code.
vae::ConvNetworks small_conditional_networks(Index latent, Index classes) {
  vae::ConvNetworks n;
  n.encoder = vae::NetworkBuilder({1, 8, 8})
                  .label_planes(classes)
                  .conv2d(2, 3, 2, 1, ActivationKind::Relu)
                  .flatten()
                  .dense(6, ActivationKind::Tanh)
                  .dense(2 * latent)
                  .layers();
  n.decoder = vae::NetworkBuilder({std::uint64_t(latent + classes)})
                  .dense(2 * 4 * 4, ActivationKind::Tanh)
                  .reshape(2, 4, 4)
                  .conv_transpose2d(1, 3, 2, 1, 1)
                  .layers();
  return n;
}

/// `features` random pixels in [0, 1] over the one-hot labels of `labels`.
Eigen::MatrixXd labelled_batch(Index features, const std::vector<int>& labels, Index classes, unsigned seed) {
  std::srand(seed);
  const Eigen::MatrixXd x = (Eigen::MatrixXd::Random(features, Index(labels.size())).array() + 1) / 2;
  return vae::with_labels<double>(x, labels, classes);
}
}  // namespace

TEST_CASE("the label's planes: the image's channels, then each label row as a plane") {
  const auto layers = vae::NetworkBuilder({2, 3, 4}).label_planes(3).layers();
  REQUIRE(layers.size() == 1);
  CHECK(layers[0].describe() == "label_planes 27->5x3x4 identity [3]");
  const Net net(layers, "test");
  CHECK(net.num_parameters() == 0);
  std::srand(4);
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(27, 3);
  const Eigen::MatrixXd y = run(net, Eigen::VectorXd(), x);
  REQUIRE(y.rows() == 5 * 12);
  for (Index b = 0; b < 3; ++b) {
    CHECK(y.col(b).head(24) == x.col(b).head(24));
    for (Index k = 0; k < 3; ++k) CHECK((y.col(b).segment(24 + 12 * k, 12).array() == x(24 + k, b)).all());
  }
}

TEST_CASE("gradients through the label's planes match finite differences") {
  // dL/d(a label row) is the sum of its plane's gradients; the image's rows pass theirs on.
  vae::NetworkBuilder b({2, 5, 4});
  b.label_planes(3).conv2d(2, 3, 2, 1, ActivationKind::Tanh);
  check_layer_gradients(b.layers(), 3, "label_planes then conv2d");
  vae::NetworkBuilder flat({1, 4, 4});
  flat.label_planes(2).flatten().dense(3, ActivationKind::Tanh);
  check_layer_gradients(flat.layers(), 2, "label_planes, flatten, dense");
}

TEST_CASE("a conditional convolutional VAE's gradients match finite differences") {
  const Index classes = 3;
  const std::vector<int> labels{0, 2, 1, 2};
  const Eigen::MatrixXd batch = labelled_batch(64, labels, classes, 6);
  for (const auto loss : {vae::Reconstruction::BinaryCrossEntropy, vae::Reconstruction::Gaussian}) {
    vae::Objective<double> objective;
    objective.reconstruction = loss;
    objective.kl = vae::KlForm::Exact;
    const vae::ConvNetworks n = small_conditional_networks(2, classes);
    vae::SequentialCvae<3, double> model(vae::SequentialVariationalEncoder<double>(n.encoder),
                                         vae::SequentialDecoder<double>(n.decoder), 11, objective);
    const auto check = vae::test::model_gradient_check(model, batch, vae::Rng(5));
    MESSAGE("conditional conv VAE, " << std::string(vae::name_of(loss)) << ": " << check.checked
                                     << " parameters, max relative error " << check.max_relative_error);
    CHECK(check.checked == model.num_parameters());
    CHECK(check.max_relative_error <= 1e-6);
  }
  // The importance-weighted bound (each draw decoded with its input's label).
  vae::Objective<double> iw{vae::Reconstruction::BinaryCrossEntropy, vae::KlForm::Exact, 1.0};
  iw.bound = vae::Bound::ImportanceWeighted;
  iw.samples = 3;
  const vae::ConvNetworks n = small_conditional_networks(2, classes);
  vae::SequentialCvae<3, double> model(vae::SequentialVariationalEncoder<double>(n.encoder),
                                       vae::SequentialDecoder<double>(n.decoder), 11, iw);
  const auto check = vae::test::model_gradient_check(model, batch, vae::Rng(5));
  MESSAGE("conditional conv VAE, IWAE k 3: max relative error " << check.max_relative_error);
  CHECK(check.max_relative_error <= 1e-6);
}

TEST_CASE("the Keras conditional VAE: its label reaches both networks, as types and at run time") {
  auto model = vae::make_conv_cvae<10, float>(2, 3);
  // PyTorch's count: Conv2d(11, 32) has 11 x 32 x 9 + 32 parameters, Linear(2 + 10, 3136) 12 x 3136 + 3136.
  CHECK(model.num_parameters() == (11 * 32 * 9 + 32) + 18496 + 50192 + 68 + (12 * 3136 + 3136) + 36928 + 18464 + 289);
  CHECK(model.num_inputs() == 794);
  CHECK(model.num_features() == 784);
  CHECK(model.architecture().classes == 10);
  CHECK(model.architecture().describe_layers().find("label_planes 794->11x28x28 identity [10]") != std::string::npos);
  std::srand(8);
  const vae::Matrix<float> x = ((Eigen::MatrixXf::Random(784, 6).array() + 1) / 2).matrix();
  const std::vector<int> labels{0, 1, 2, 3, 4, 5}, others{5, 4, 3, 2, 1, 0};
  // Another label gives the same image another code and another decoding.
  CHECK((model.encode(x, labels) - model.encode(x, others)).cwiseAbs().maxCoeff() > 1e-4f);
  const vae::Matrix<float> z = model.encode(x, labels);
  CHECK((model.decode(z, labels) - model.decode(z, others)).cwiseAbs().maxCoeff() > 1e-4f);
  // q(z | x, label): its mean is the code, its sigma positive.
  const auto q = model.encode_distribution(x, labels);
  CHECK(same_bits(q.mean, z));
  CHECK((q.sigma.array() > 0.0f).all());
  // The same network as types computes the same bits.
  vae::KerasConvCvae<2, 10> fixed(3);
  CHECK(fixed.architecture() == model.architecture());
  const vae::Matrix<float> batch = vae::with_labels<float>(x, labels, 10);
  vae::Adam<float> o1, o2;
  vae::Rng r1(2), r2(2);
  for (int step = 0; step < 2; ++step) CHECK(fixed.train_step(batch, o1, r1).total == model.train_step(batch, o2, r2).total);
  CHECK(same_bits(fixed.parameters_host(), model.parameters_host()));
  // Rebuilt from its checkpoint, bit for bit, and refused as an unconditional model.
  const std::string path = (std::filesystem::temp_directory_path() / "vae_test_conv_cvae.ckpt").string();
  vae::io::save_checkpoint(path, model, &o2);
  auto loaded = vae::io::load_checkpoint_model<vae::SequentialCvae<10, float>>(path);
  CHECK(loaded.architecture() == model.architecture());
  CHECK(same_bits(loaded.parameters_host(), model.parameters_host()));
  CHECK(same_bits(loaded.encode(x, labels), model.encode(x, labels)));
  CHECK_THROWS_WITH_AS((void)vae::io::load_checkpoint_model<vae::SequentialVae<float>>(path),
                       doctest::Contains("conditional VAE"), vae::FormatError);
  std::filesystem::remove(path);
}

TEST_CASE("a conditional model checks the label's planes against its classes") {
  const vae::ConvNetworks n = small_conditional_networks(2, 3);
  // Planes of 3 classes in a model of 4: the labels' rows would be misread.
  auto wider = n;
  wider.encoder = vae::NetworkBuilder({1, 8, 8}).label_planes(4).conv2d(2, 3, 2, 1).flatten().dense(4).layers();
  wider.decoder = vae::NetworkBuilder({4}).dense(32).reshape(2, 4, 4).conv_transpose2d(1, 3, 2, 1, 1).layers();
  CHECK(message([&] {
          vae::SequentialCvae<2, float> m(vae::SequentialVariationalEncoder<float>(wider.encoder),
                                          vae::SequentialDecoder<float>(wider.decoder));
        }).find("spreads 4 label rows over planes; this model's labels have 2 classes") != std::string::npos);
  // Planes in a model without labels.
  const std::string unconditional = message([&] {
    vae::SequentialVae<float> m(vae::SequentialVariationalEncoder<float>(n.encoder),
                                vae::SequentialDecoder<float>(vae::NetworkBuilder({2}).dense(67).layers()));
  });
  CHECK(unconditional.find("takes no labels") != std::string::npos);
  // Only a network's first layer takes the label's rows.
  const std::string later = message([&] {
    auto decoder = vae::NetworkBuilder({5}).dense(67).layers();
    const auto planes = vae::NetworkBuilder({1, 8, 8}).label_planes(3).layers();
    decoder.push_back(planes[0]);
    decoder.push_back(vae::NetworkBuilder({4, 8, 8}).conv2d(1, 3, 1, 1).layers()[0]);
    vae::SequentialCvae<3, float> m(vae::SequentialVariationalEncoder<float>(n.encoder), vae::SequentialDecoder<float>(decoder));
  });
  CHECK(later.find("the decoder's layer 1 spreads 3 label rows over planes; only a network's first layer can") !=
        std::string::npos);
}

TEST_CASE("a conditional decoder may spread the label over planes beside the code as an image") {
  // z (4 rows) seen as a 1 x 2 x 2 image, the label's 3 planes beside it.
  const auto encoder = small_conditional_networks(4, 3).encoder;
  const auto decoder = vae::NetworkBuilder({1, 2, 2}).label_planes(3).conv_transpose2d(2, 4, 4, 0, 0, ActivationKind::Tanh)
                           .flatten().dense(64).layers();
  vae::SequentialCvae<3, double> model(vae::SequentialVariationalEncoder<double>(encoder),
                                       vae::SequentialDecoder<double>(decoder), 11,
                                       {vae::Reconstruction::BinaryCrossEntropy, vae::KlForm::Exact, 1.0});
  const auto check = vae::test::model_gradient_check(model, labelled_batch(64, {1, 0, 2}, 3, 3), vae::Rng(5));
  MESSAGE("label planes in both networks: max relative error " << check.max_relative_error);
  CHECK(check.max_relative_error <= 1e-6);
}

}  // namespace test_conv
