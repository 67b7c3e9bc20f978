// vae_mnist's options and the entry points of its training code: main.cpp
// includes only this, and the models are compiled elsewhere, once per
// backend (run_cpu.cpp; run_cuda.cu for the GPU): their networks are shaped
// at run time, so any --hidden, --latent and --activation is one program.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <vae/vae.hpp>

#include "data_set.hpp"

namespace vae::io {
struct SafetensorsFile;  // vae/io/safetensors.hpp, in builds with safetensors support
}  // namespace vae::io

namespace examples {

struct RunOptions {
  std::string model = "both";  // ae, vae, both, or cvae
  std::string network = "mlp";  // mlp (--hidden, --activation), or conv (the Keras example's convolutional networks)
  int latent = 2;
  std::vector<int> hidden{512};     // hidden layer sizes, input side first
  std::string activation = "relu";  // one of vae's activations, or one per hidden layer ("relu,tanh")
  int epochs = 20;
  int batch = 128;
  double lr = 1e-3;
  double beta = 1.0;
  std::string loss = "sse";
  std::string kl = "blog";
  std::uint64_t seed = 0;
  int threads = 0;
  std::string data = "data/mnist";
  std::string dataset_name = "auto";  // "auto": from the data folder (data_set.hpp)
  std::string out = "out";
  bool no_plots = false;
  bool quiet = false;
  int checkpoint_every = 0;  // epochs; 0 = no checkpoints
  std::string resume;        // checkpoint to continue from
  std::string load_weights;  // safetensors file to start from
  std::string save_weights;  // safetensors file to write after training
  std::string backend = "cpu";
  double clip_grad_norm = 0;  // 0 = no clipping
  std::string objective = "elbo";    // elbo, or iwae (the VAE's importance-weighted bound with --k samples)
  int k = 1;                         // samples per input of --objective iwae
  std::string binarize = "none";     // none, or dynamic (training pixels redrawn each epoch, test set once)
  int nll_samples = 0;               // > 0: estimate the VAE's test NLL with this many importance samples
  std::string lr_schedule = "none";  // none, or iwae (Burda et al.'s 8 stages of 3^i epochs)
  double adam_eps = 1e-8;
  std::string init = "pytorch";   // pytorch (nn.Linear's default), or glorot (uniform, zero biases)
  bool init_output_bias = false;  // decoder output bias at the logit of the training set's mean pixel
  int grid = 12;                                          // the latent grid is grid x grid
  std::vector<double> ae_range{-5, 10, -10, 5};           // x0 x1 y0 y1, the blog's (MNIST's)
  std::vector<double> vae_range{-3, 3, -3, 3};            // +-3 sd of the VAE's prior, on any data
  bool ae_range_given = false;                            // --ae-range on the command line
  // --resume and --load-weights as read, once, before any data (main.cpp):
  // a pipe or a FIFO can be read only once. The weights on the lead rank only.
  std::shared_ptr<const vae::io::CheckpointFile> resume_file;
  std::shared_ptr<const vae::io::SafetensorsFile> weights_file;
};

struct Data {
  vae::io::Dataset train, test;
  DataSetNames names;  // what the pictures call the data and its classes
};

/// The seed the test set is binarised with under --binarize dynamic: fixed,
/// so that every run (whatever its --seed) is judged on the same pixels.
inline constexpr std::uint64_t kTestBinarizeSeed = 20151101;

/// The largest --hidden size and --latent.
inline constexpr int kMaxLayerSize = 1 << 16;
/// The most parameters a network may have (a float model holds parameters,
/// gradients and Adam's two moments: 16 bytes each).
inline constexpr double kMaxParameters = 1e9;
/// The size of an MNIST image, the networks' input.
inline constexpr vae::Index kFeatures = 784;

/// "200,200".
inline std::string hidden_text(const std::vector<int>& hidden) {
  std::string s;
  for (std::size_t i = 0; i < hidden.size(); ++i) s += (i ? "," : "") + std::to_string(hidden[i]);
  return s;
}

/// The encoder's sizes: {784, hidden..., latent}.
inline std::vector<vae::Index> encoder_sizes(const RunOptions& o) {
  std::vector<vae::Index> sizes{kFeatures};
  for (const int h : o.hidden) sizes.push_back(h);
  sizes.push_back(o.latent);
  return sizes;
}

/// --activation as one activation per hidden layer (one name for all, or
/// one per --hidden size, input side first); throws ValueError naming the
/// one vae does not have or the count that does not fit.
inline std::vector<vae::ActivationKind> hidden_activations(const RunOptions& o) {
  std::vector<vae::ActivationKind> out;
  std::size_t start = 0;
  while (start <= o.activation.size()) {
    const std::size_t comma = std::min(o.activation.find(',', start), o.activation.size());
    const std::string name = o.activation.substr(start, comma - start);
    vae::ActivationKind k{};
    if (!vae::activation_from_name(name, k))
      throw vae::ValueError("--activation: '" + name + "' is not one of relu, tanh, softplus, elu, sigmoid, identity");
    out.push_back(k);
    start = comma + 1;
  }
  if (out.size() != 1 && out.size() != o.hidden.size())
    throw vae::ValueError("--activation: " + std::to_string(out.size()) + " activations for " +
                          std::to_string(o.hidden.size()) + " hidden layer" + (o.hidden.size() == 1 ? "" : "s") +
                          " (--hidden " + hidden_text(o.hidden) + "); give one for all, or one per layer");
  return out;
}

/// Throws ValueError unless --hidden, --latent and --activation describe a
/// network vae_mnist can build and hold.
inline void check_network(const RunOptions& o) {
  if (o.network == "conv") return;  // a fixed network but for --latent
  for (const int h : o.hidden)
    if (h < 1 || h > kMaxLayerSize)
      throw vae::ValueError("--hidden " + hidden_text(o.hidden) + ": every size must be in [1, " +
                            std::to_string(kMaxLayerSize) + "]");
  hidden_activations(o);
  // The VAE's (the largest model): the encoder's heads, the mirrored decoder.
  vae::Architecture a;
  a.variational = true;
  for (const vae::Index size : encoder_sizes(o)) a.encoder.push_back(static_cast<std::uint64_t>(size));
  a.decoder.assign(a.encoder.rbegin(), a.encoder.rend());
  const vae::Index parameters = vae::parameter_count_of(a);
  if (parameters < 0 || double(parameters) > kMaxParameters)
    throw vae::ValueError("--hidden " + hidden_text(o.hidden) + " --latent " + std::to_string(o.latent) + ": " +
                          (parameters < 0 ? std::string("too many") : std::to_string(parameters)) +
                          " parameters, more than vae_mnist's limit of 1e9");
}

/// Trains and draws the models --model asks for on Backend (run.hpp;
/// compiled in run_cpu.cpp and, for vae::Cuda, run_cuda.cu).
template <class Backend>
int run(const RunOptions& o, const Data& data);
/// Before any data is read: --load-weights must fit the chosen model (checked
/// by loading main.cpp's copy of it into one on the CPU).
void check_weight_files(const RunOptions& o);

/// --backend cuda: run_cuda.cu, which only CUDA builds compile, into a module
/// of its own beside the program (vae_mnist_cuda.so), loaded when a run asks
/// for the GPU. Linked into the program, cuBLAS's libraries would take about
/// 0.7 s to load at every start, GPU or not.
struct CudaRunner {
  /// The same as run<vae::Cpu> on the GPU.
  int (*run)(const RunOptions& o, const Data& data);
  /// Throws DeviceError when no GPU is present (before any data is read).
  void (*check_device)();
};
/// Loads the module on the first call (cuda_module.cpp); throws DeviceError
/// naming the file when it cannot.
const CudaRunner& cuda_runner();

}  // namespace examples
