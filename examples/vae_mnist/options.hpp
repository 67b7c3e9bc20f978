// vae_mnist's options and the entry points of its training code: main.cpp
// includes only this, and the models are compiled elsewhere, one file per
// hidden activation (run_<activation>.cpp; run_cuda.cu for the GPU).
#pragma once

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
  int latent = 2;
  std::vector<int> hidden{512};     // hidden layer sizes, input side first
  std::string activation = "relu";  // relu, tanh, softplus or elu
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

/// The hidden layers vae_mnist is compiled for (--hidden), each with every
/// activation and latent size.
inline const std::vector<std::vector<int>>& compiled_hidden() {
  static const std::vector<std::vector<int>> sizes{{512}, {400}, {200, 200}};
  return sizes;
}

/// "200,200".
inline std::string hidden_text(const std::vector<int>& hidden) {
  std::string s;
  for (std::size_t i = 0; i < hidden.size(); ++i) s += (i ? "," : "") + std::to_string(hidden[i]);
  return s;
}

/// Trains and draws with hidden activation Act on Backend (run.hpp; compiled
/// in run_<activation>.cpp and, for vae::Cuda, run_cuda.cu).
template <class Backend, class Act>
int run_activation(const RunOptions& o, const Data& data);
/// Before any data is read: --load-weights must fit the chosen model (checked
/// by loading main.cpp's copy of it into one on the CPU).
template <class Act>
void check_weights_activation(const RunOptions& o);

/// run_activation for --activation.
template <class Backend>
int run(const RunOptions& o, const Data& data) {
  if (o.activation == "tanh") return run_activation<Backend, vae::Tanh>(o, data);
  if (o.activation == "softplus") return run_activation<Backend, vae::Softplus>(o, data);
  if (o.activation == "elu") return run_activation<Backend, vae::Elu>(o, data);
  return run_activation<Backend, vae::Relu>(o, data);
}

/// check_weights_activation for --activation.
inline void check_weight_files(const RunOptions& o) {
  if (o.activation == "tanh") return check_weights_activation<vae::Tanh>(o);
  if (o.activation == "softplus") return check_weights_activation<vae::Softplus>(o);
  if (o.activation == "elu") return check_weights_activation<vae::Elu>(o);
  return check_weights_activation<vae::Relu>(o);
}

/// The same on the GPU; defined in run_cuda.cu, which only CUDA builds compile.
int run_cuda(const RunOptions& o, const Data& data);
/// Throws DeviceError when no GPU is present (before any data is read).
void check_cuda_device();

}  // namespace examples
