// The C++ half of the round trips with PyTorch (tests/pytorch/safetensors_roundtrip.py
// drives it):
//   safetensors_pytorch export DIR [MNIST_DIR]
//     trains the blog's autoencoder and VAE (784-512-2, float), a deeper tanh
//     VAE (784-128-32-4), the Keras example's convolutional VAE (latent 2,
//     vae::make_conv_vae), its conditional VAE (vae::make_conv_cvae<10>, the
//     images' one-hot labels below their pixels) and the blog's VAE in double
//     a few Adam steps on 256 MNIST test images (uniform noise, labels j mod
//     10, without MNIST) and writes, for each,
//     DIR/NAME.safetensors (the weights) and DIR/NAME_outputs.safetensors
//     (x, the reconstruction of x and, for the encoder, its means and, for a
//     VAE, sigma; every tensor {batch, features}).
//   safetensors_pytorch check DIR
//     loads each DIR/torch_*.safetensors that PyTorch wrote into the matching
//     vae model, computes the same outputs on the x of
//     DIR/torch_*_outputs.safetensors, and prints the largest absolute
//     difference from PyTorch's; exits 1 if one exceeds 1e-5.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <type_traits>
#include <vector>

#include <vae/io/safetensors.hpp>
#include <vae/vae.hpp>

namespace {

constexpr vae::Index kBatch = 256;
constexpr double kTolerance = 1e-5;

using BlogAe = vae::Autoencoder<784, 512, 2>;
using BlogVae = vae::VariationalAutoencoder<784, 512, 2>;
using BlogVaeDouble = vae::VariationalAutoencoder<784, 512, 2, double>;
using DeepVae = vae::MlpVae<vae::Layers<784, 128, 32, 4>, vae::Tanh>;
using ConvVae = vae::SequentialVae<float>;
using ConvCvae = vae::SequentialCvae<10, float>;

/// 256 images as a 784 x 256 matrix in [0, 1]: MNIST's first test images, or
/// noise; with `classes`, their one-hot labels below (j mod classes for noise).
template <class S>
vae::Matrix<S> inputs(const std::string& mnist, vae::Index classes = 0) {
  vae::Matrix<S> x(784, kBatch);
  std::vector<int> labels(kBatch);
  const bool have = !mnist.empty() && (std::filesystem::exists(mnist + "/t10k-images-idx3-ubyte") ||
                                       std::filesystem::exists(mnist + "/t10k-images-idx3-ubyte.gz"));
  if (have) {
    const vae::io::Dataset test = vae::io::load_mnist(mnist, vae::io::Split::Test);
    x = test.matrix().leftCols(kBatch).template cast<S>() / S(255);
    for (vae::Index j = 0; j < kBatch; ++j) labels[std::size_t(j)] = test.labels[std::size_t(j)];
  } else {
    vae::Rng rng(99);
    for (vae::Index i = 0; i < x.size(); ++i) x.data()[i] = rng.uniform(S(0), S(1));
    for (vae::Index j = 0; j < kBatch; ++j) labels[std::size_t(j)] = int(j % std::max<vae::Index>(classes, 1));
  }
  return classes > 0 ? vae::Matrix<S>(vae::with_labels<S>(x, labels, classes)) : x;
}

/// A batch-major tensor {B, rows} of a vae matrix (rows x B, column-major): the same memory.
template <class S>
vae::io::Tensor<S> batch_tensor(const std::string& name, const vae::Matrix<S>& m) {
  return {name, {std::uint64_t(m.cols()), std::uint64_t(m.rows())}, std::vector<S>(m.data(), m.data() + m.size())};
}

template <class Model>
std::vector<vae::io::Tensor<typename Model::Scalar>> outputs(const Model& model, const vae::Matrix<typename Model::Scalar>& x) {
  std::vector<vae::io::Tensor<typename Model::Scalar>> out{batch_tensor("x", x),
                                                           batch_tensor("reconstruction", model.reconstruct(x))};
  if constexpr (Model::is_variational) {
    const auto d = model.encode_distribution(x);
    out.push_back(batch_tensor("mean", d.mean));
    out.push_back(batch_tensor("sigma", d.sigma));
  } else {
    out.push_back(batch_tensor("mean", model.encode(x)));
  }
  return out;
}

/// A model of type Model with weights from `seed` and the blog's objective:
/// the fixed-size types, and the convolutional VAE.
template <class Model>
Model make(std::uint64_t seed) {
  using S = typename Model::Scalar;
  const vae::Objective<S> blog{vae::Reconstruction::SquaredError, vae::KlForm::Blog, S(1)};
  if constexpr (std::is_same_v<Model, ConvVae>) {
    return vae::make_conv_vae<float>(2, seed, blog);
  } else if constexpr (std::is_same_v<Model, ConvCvae>) {
    return vae::make_conv_cvae<10, float>(2, seed, blog);
  } else {
    return Model(seed, blog);
  }
}

template <class Model>
void export_model(const std::string& dir, const std::string& name, const std::string& mnist, int steps) {
  using S = typename Model::Scalar;
  const vae::Matrix<S> x = inputs<S>(mnist, Model::classes);
  Model model = make<Model>(42);
  vae::Adam<S> adam;
  vae::Rng rng(7);
  for (int s = 0; s < steps; ++s) model.train_step(x.middleCols((s % 4) * 64, 64), adam, rng);
  vae::io::save_safetensors(model, dir + "/" + name + ".safetensors");
  vae::io::save_tensors(dir + "/" + name + "_outputs.safetensors", outputs(model, x));
  std::cout << "exported " << name << ": " << model.architecture().describe() << ", " << steps << " Adam steps\n";
}

/// The largest |a - b| over two tensors of one shape.
template <class S>
double max_difference(const vae::io::Tensor<S>& a, const vae::io::Tensor<S>& b) {
  if (a.shape != b.shape) throw vae::ShapeError("tensor '" + a.name + "': shapes differ between vae and PyTorch");
  double d = 0;
  for (std::size_t i = 0; i < a.values.size(); ++i) d = std::max(d, std::abs(double(a.values[i]) - double(b.values[i])));
  return d;
}

/// Loads DIR/NAME.safetensors into Model and compares its outputs with PyTorch's; false if any differs by > 1e-5.
template <class Model>
bool check_model(const std::string& dir, const std::string& name) {
  using S = typename Model::Scalar;
  const std::string weights = dir + "/" + name + ".safetensors";
  if (!std::filesystem::exists(weights)) {
    std::cout << "FAIL " << name << ": " << weights << " is missing\n";
    return false;
  }
  Model model = make<Model>(1);
  const auto header = vae::io::load_safetensors(weights, model);
  const auto torch = vae::io::load_tensors<S>(dir + "/" + name + "_outputs.safetensors");
  const auto& x = torch.front();  // "x", written first
  const vae::Matrix<S> batch = Eigen::Map<const vae::Matrix<S>>(x.values.data(), vae::Index(x.shape[1]), vae::Index(x.shape[0]));
  const auto ours = outputs(model, batch);
  bool ok = true;
  std::cout << name << " (" << model.architecture().describe() << ", " << vae::io::dtype_name(header.tensors.front().dtype)
            << " file):";
  for (const auto& t : torch) {
    if (t.name == "x") continue;
    const auto mine = std::find_if(ours.begin(), ours.end(), [&](const auto& o) { return o.name == t.name; });
    if (mine == ours.end()) throw vae::FormatError(name + ": PyTorch wrote an unexpected output '" + t.name + "'");
    const double d = max_difference(*mine, t);
    std::printf(" %s max|diff| %.3g", t.name.c_str(), d);
    ok = ok && d <= kTolerance;
  }
  std::cout << (ok ? "  ok\n" : "  FAIL (tolerance 1e-5)\n");
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() >= 2 && args[0] == "export") {
      const std::string mnist = args.size() > 2 ? args[2] : "";
      export_model<BlogAe>(args[1], "vae_ae", mnist, 30);
      export_model<BlogVae>(args[1], "vae_vae", mnist, 30);
      export_model<DeepVae>(args[1], "vae_deep_vae", mnist, 30);
      export_model<ConvVae>(args[1], "vae_conv_vae", mnist, 30);
      export_model<ConvCvae>(args[1], "vae_conv_cvae", mnist, 30);
      export_model<BlogVaeDouble>(args[1], "vae_vae_f64", mnist, 10);
      return 0;
    }
    if (args.size() == 2 && args[0] == "check") {
      bool ok = check_model<BlogAe>(args[1], "torch_ae");
      ok = check_model<BlogVae>(args[1], "torch_vae") && ok;
      ok = check_model<BlogVae>(args[1], "torch_vae_f16") && ok;
      ok = check_model<BlogVae>(args[1], "torch_vae_bf16") && ok;
      ok = check_model<BlogVaeDouble>(args[1], "torch_vae_f64") && ok;
      ok = check_model<DeepVae>(args[1], "torch_deep_vae") && ok;
      ok = check_model<ConvVae>(args[1], "torch_conv_vae") && ok;
      ok = check_model<ConvCvae>(args[1], "torch_conv_cvae") && ok;
      std::cout << (ok ? "all agree within 1e-5\n" : "some outputs differ by more than 1e-5\n");
      return ok ? 0 : 1;
    }
    std::cerr << "usage: safetensors_pytorch export DIR [MNIST_DIR] | check DIR\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "safetensors_pytorch: error: " << e.what() << "\n";
    return 1;
  }
}
