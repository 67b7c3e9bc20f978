// Training and output of vae_mnist, for a latent size fixed at compile time.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <vae/vae.hpp>
#if defined(VAE_MNIST_WITH_SAFETENSORS)
#include <vae/io/safetensors.hpp>
#endif

#include "figures.hpp"
#include "ranks.hpp"

namespace examples {

struct RunOptions {
  std::string model = "both";
  int latent = 2;
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
  int grid = 12;                                          // the latent grid is grid x grid
  std::vector<double> ae_range{-5, 10, -10, 5};           // x0 x1 y0 y1, the blog's (MNIST's)
  std::vector<double> vae_range{-3, 3, -3, 3};            // +-3 sd of the VAE's prior, on any data
  bool ae_range_given = false;                            // --ae-range on the command line
};

struct Data {
  vae::io::Dataset train, test;
  DataSetNames names;  // what the pictures call the data and its classes
};

/// Per-epoch metrics of every model trained, written as one CSV.
class Metrics {
 public:
  void add(const std::string& model, const std::vector<vae::EpochStats>& history) {
    for (const auto& e : history)
      rows_ << model << ',' << e.epoch + 1 << ',' << e.train.total << ',' << e.train.reconstruction << ','
            << e.train.kl << ',' << e.test.total << ',' << e.test.reconstruction << ',' << e.test.kl << ','
            << e.samples_per_second << ',' << e.seconds << '\n';
  }
  void write(const std::string& path) const {
    vae::io::write_text_file(path,
                             "model,epoch,train_loss,train_reconstruction,train_kl,test_loss,test_reconstruction,"
                             "test_kl,samples_per_s,epoch_seconds\n" +
                                 rows_.str());
  }

 private:
  std::ostringstream rows_;
};

/// Loads a safetensors file (--load-weights) into `model`, all or nothing.
template <class Model>
void load_weights(const std::string& path, Model& model) {
#if defined(VAE_MNIST_WITH_SAFETENSORS)
  vae::io::load_safetensors(path, model);
#else
  (void)model;
  throw vae::ValueError("--load-weights " + path + ": this vae_mnist was built without safetensors support "
                        "(vae::safetensors needs nlohmann_json: Debian nlohmann-json3-dev)");
#endif
}

/// Writes `model`'s weights to a safetensors file (--save-weights), atomically.
template <class Model>
void save_weights(const Model& model, const std::string& path) {
#if defined(VAE_MNIST_WITH_SAFETENSORS)
  vae::io::save_safetensors(model, path);
#else
  (void)model;
  throw vae::ValueError("--save-weights " + path + ": this vae_mnist was built without safetensors support");
#endif
}

/// Before any data is read: --load-weights must fit the chosen model (checked
/// by loading it into one on the CPU) and --save-weights must be writable.
template <vae::Index Latent>
void check_weight_files(const RunOptions& o) {
  if (!o.load_weights.empty()) {
    if (o.model == "ae") {
      vae::Autoencoder<784, 512, Latent> ae;
      load_weights(o.load_weights, ae);
    } else {
      vae::VariationalAutoencoder<784, 512, Latent> model;
      load_weights(o.load_weights, model);
    }
  }
  if (!o.save_weights.empty()) {
    if (std::filesystem::is_directory(o.save_weights))
      throw vae::IoError("--save-weights " + o.save_weights + " is a folder; expected a file name such as vae.safetensors");
    // A temporary file beside the target, removed again: the folder exists and is writable.
    const vae::io::AtomicFile probe(o.save_weights);
  }
}

/// Trains `model`, resuming from o.resume when given and saving
/// <out>/<name>.ckpt (model, optimizer, position; atomically) every
/// o.checkpoint_every epochs and after the last one.
template <class Model>
std::vector<vae::EpochStats> train(Model& model, const RunOptions& o, const Data& data, const std::string& name) {
  vae::AdamOptions adam;
  adam.lr = o.lr;
  adam.max_grad_norm = o.clip_grad_norm;
  vae::Adam<float, typename Model::Backend> optimizer(adam, model.context());
  vae::TrainOptions t;
  t.epochs = o.epochs;
  t.batch_size = o.batch;
  t.seed = o.seed;
  t.progress = o.quiet ? nullptr : &std::cerr;
  t.style = vae::progress_style_for_stderr();
  const bool quiet = o.quiet || !lead_rank();
  vae::io::TrainingPosition position{0, t.seed};
  if (!o.resume.empty() && lead_rank()) {
    vae::io::load_checkpoint(o.resume, model, &optimizer, &position);
    if (!quiet) std::cerr << "resuming the " << name << " from " << o.resume << " at epoch " << position.next_epoch + 1 << "\n";
  }
  if (!o.load_weights.empty() && lead_rank()) {
    load_weights(o.load_weights, model);
    if (!quiet) std::cerr << "starting the " << name << " from the weights in " << o.load_weights << "\n";
  }
  if (!quiet) std::cerr << "training the " << name << " (" << Model::parameter_count << " parameters)\n";
  const std::string checkpoint = o.out + "/" + name + ".ckpt";
  const auto save = [&](const vae::EpochStats& s) {
    if (o.checkpoint_every <= 0 || !lead_rank()) return;
    if ((s.epoch + 1) % o.checkpoint_every != 0 && s.epoch + 1 != o.epochs) return;
    const vae::io::TrainingPosition at{s.epoch + 1, t.seed};
    vae::io::save_checkpoint(checkpoint, model, &optimizer, &at);
  };
#if defined(VAE_MNIST_WITH_MPI)
  if (world_size() > 1) {
    // Rank 0's model, optimizer state and position everywhere; then each rank
    // trains on its shard, --batch samples a step, gradients summed each step.
    vae::mpi::broadcast_state(model, &optimizer, &position);
    t.start_epoch = static_cast<int>(position.next_epoch);
    t.seed = position.seed;
    t = vae::mpi::distributed_options(t);
    vae::mpi::DistributedOptimizer<decltype(optimizer), float, typename Model::Backend> ddp(optimizer, model.context());
    return vae::fit(model, ddp, data.train, &data.test, t, save);
  }
#endif
  t.start_epoch = static_cast<int>(position.next_epoch);
  t.seed = position.seed;
  return vae::fit(model, optimizer, data.train, &data.test, t, save);
}

/// The latent grid `range` (x0 x1 y0 y1) for a 2-d latent space when `use`;
/// none, for the codes' spread, otherwise.
inline std::optional<GridRange> grid_range(const std::vector<double>& range, bool use, int latent) {
  if (latent != 2 || !use) return std::nullopt;
  return GridRange{{range[0], range[1]}, {range[2], range[3]}};
}

/// Trains one model, reports its final test loss, records its metrics and,
/// unless --no-plots, draws its pictures over the latent grid `grid` (none:
/// where the codes are).
template <class Model>
void train_and_draw(Model& model, const std::string& name, const std::string& title,
                    const std::optional<GridRange>& grid, const RunOptions& o, const Data& data, Metrics& metrics) {
  const auto history = train(model, o, data, name);
  if (!lead_rank()) return;
  metrics.add(name, history);
  if (!o.save_weights.empty()) {
    save_weights(model, o.save_weights);
    std::cout << "wrote the " << title << "'s weights to " << o.save_weights << "\n";
  }
  if (!history.empty()) {
    const auto& last = history.back();
    std::cout << title << ": test loss per sample " << last.test.total << " (reconstruction "
              << last.test.reconstruction << ", KL " << last.test.kl << ") after " << last.epoch + 1 << " epochs\n";
  } else {
    // No training (--epochs 0): the test loss of the weights as they are, with
    // the noise fit() would use after a first epoch.
    vae::Rng rng = vae::evaluation_rng(o.seed, 0);
    const auto test = vae::evaluate(model, data.test, rng);
    std::cout << title << ": test loss per sample " << test.total << " (reconstruction " << test.reconstruction
              << ", KL " << test.kl << ") without training"
              << (o.load_weights.empty() ? "" : " (weights from " + o.load_weights + ")") << "\n";
  }
  if (!o.no_plots) write_figures(model, data.test, data.names, o.out, name, grid, o.grid, o.seed);
}

template <vae::Index Latent, class Backend>
int run_latent(const RunOptions& o, const Data& data) {
  const vae::Objective<float> objective{
      o.loss == "bce" ? vae::Reconstruction::BinaryCrossEntropy : vae::Reconstruction::SquaredError,
      o.kl == "exact" ? vae::KlForm::Exact : vae::KlForm::Blog, static_cast<float>(o.beta)};
  Metrics metrics;
  const auto start = std::chrono::steady_clock::now();
  if (o.model != "vae") {
    vae::Autoencoder<784, 512, Latent, float, Backend> ae(o.seed, objective);
    // The blog's autoencoder range fits MNIST's codes only; elsewhere the grid follows the codes.
    const bool blog_range = o.ae_range_given || data.names.name == "MNIST";
    train_and_draw(ae, "ae", "autoencoder", grid_range(o.ae_range, blog_range, o.latent), o, data, metrics);
  }
  if (o.model != "ae") {
    vae::VariationalAutoencoder<784, 512, Latent, float, Backend> model(o.seed, objective);
    train_and_draw(model, "vae", "VAE", grid_range(o.vae_range, true, o.latent), o, data, metrics);
  }
  if (!lead_rank()) return 0;
  metrics.write(o.out + "/metrics.csv");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "wrote " << o.out << "/metrics.csv" << (o.no_plots ? "" : " and the pictures") << " in " << seconds
            << " s\n";
  return 0;
}

/// check_weight_files for the latent size of `o`.
inline void check_weight_files(const RunOptions& o) {
  switch (o.latent) {
    case 2: return check_weight_files<2>(o);
    case 10: return check_weight_files<10>(o);
    case 20: return check_weight_files<20>(o);
    default: return;
  }
}

/// Trains and draws on `Backend` (vae::Cpu, or vae::Cuda from run_cuda.cu).
template <class Backend>
int run(const RunOptions& o, const Data& data) {
  switch (o.latent) {
    case 2: return run_latent<2, Backend>(o, data);
    case 10: return run_latent<10, Backend>(o, data);
    case 20: return run_latent<20, Backend>(o, data);
    default: std::cerr << "vae_mnist: latent " << o.latent << " is not compiled in (2, 10, 20)\n"; return 1;
  }
}

/// The same on the GPU; defined in run_cuda.cu, which only CUDA builds compile.
int run_cuda(const RunOptions& o, const Data& data);
/// Throws DeviceError when no GPU is present (before any data is read).
void check_cuda_device();

}  // namespace examples
