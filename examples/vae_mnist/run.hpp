// Training and output of vae_mnist: the models --model asks for, their
// networks shaped at run time from --hidden, --latent and --activation
// (vae::make_mlp_vae and friends), so one compiled program per backend
// (run_cpu.cpp, run_cuda.cu) trains any of them.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
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
#include "options.hpp"
#include "ranks.hpp"

namespace examples {

/// The learning rate of epoch `epoch` (0-based) under --lr-schedule: `lr`
/// throughout for none, Burda et al.'s schedule for iwae.
inline double scheduled_lr(const std::string& schedule, double lr, int epoch) {
  return schedule == "iwae" ? vae::iwae_schedule_lr(epoch) : lr;
}

/// Per-epoch metrics of every model trained, written as one CSV.
class Metrics {
 public:
  void add(const std::string& model, const std::vector<vae::EpochStats>& history) {
    for (const auto& e : history) {
      std::ostringstream row;
      row << model << ',' << e.epoch + 1 << ',' << e.train.total << ',' << e.train.reconstruction << ','
          << e.train.kl << ',' << e.test.total << ',' << e.test.reconstruction << ',' << e.test.kl << ','
          << e.samples_per_second << ',' << e.seconds;
      rows_.push_back({model, row.str(), ""});
    }
  }
  /// The test NLL (--nll-samples) goes on `model`'s last row (a row of its
  /// own when it trained no epochs).
  void set_nll(const std::string& model, double nll, int k) {
    std::ostringstream v;
    v.precision(10);
    v << nll << ',' << k;
    for (auto it = rows_.rbegin(); it != rows_.rend(); ++it)
      if (it->model == model) {
        it->nll = v.str();
        return;
      }
    rows_.push_back({model, model + ",0,,,,,,,,", v.str()});
  }
  void write(const std::string& path) const {
    std::string text =
        "model,epoch,train_loss,train_reconstruction,train_kl,test_loss,test_reconstruction,"
        "test_kl,samples_per_s,epoch_seconds,test_nll,nll_samples\n";
    for (const Row& r : rows_) text += r.text + ',' + (r.nll.empty() ? "," : r.nll) + '\n';
    vae::io::write_text_file(path, text);
  }

 private:
  struct Row {
    std::string model, text, nll;
  };
  std::vector<Row> rows_;
};

/// Loads --load-weights, as main.cpp read it, into `model`, all or nothing.
template <class Model>
void load_weights(const RunOptions& o, Model& model) {
#if defined(VAE_MNIST_WITH_SAFETENSORS)
  vae::io::load_safetensors(*o.weights_file, model);
#else
  (void)model;
  throw vae::ValueError("--load-weights " + o.load_weights + ": this vae_mnist was built without safetensors support "
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

/// The number of classes of vae_mnist's conditional VAE (MNIST's digits,
/// Fashion-MNIST's garments).
inline constexpr vae::Index kClasses = 10;

/// check_weight_files for the network of the options: loads the weights into
/// a CPU model of that network.
inline void check_weights_on_cpu(const RunOptions& o) {
  if (o.load_weights.empty()) return;
  if (o.network == "conv") {
    if (o.model == "ae") {
      auto ae = vae::make_conv_autoencoder<float>(o.latent);
      load_weights(o, ae);
    } else if (o.model == "cvae") {
      auto cvae = vae::make_conv_cvae<kClasses, float>(o.latent);
      load_weights(o, cvae);
    } else {
      auto model = vae::make_conv_vae<float>(o.latent);
      load_weights(o, model);
    }
    return;
  }
  const auto sizes = encoder_sizes(o);
  const auto act = hidden_activations(o);
  if (o.model == "ae") {
    auto ae = vae::make_mlp_autoencoder<float>(sizes, act);
    load_weights(o, ae);
  } else if (o.model == "cvae") {
    auto cvae = vae::make_mlp_cvae<kClasses, float>(sizes, act);
    load_weights(o, cvae);
  } else {
    auto model = vae::make_mlp_vae<float>(sizes, act);
    load_weights(o, model);
  }
}

/// vae::fit on the data as --binarize says: the bytes scaled to [0, 1], or
/// every training pixel redrawn as Bernoulli(intensity) each time it is used
/// (the test set was binarised once, in main.cpp). Under mpirun each process
/// draws its own pixels for its own shard.
template <class Model, class Opt, class OnEpoch>
std::vector<vae::EpochStats> fit_on(Model& model, Opt& optimizer, const RunOptions& o, const Data& data,
                                    const vae::TrainOptions& t, const OnEpoch& on_epoch) {
  if (o.binarize != "dynamic") return vae::fit(model, optimizer, data.train, &data.test, t, on_epoch);
  // A conditional model's batches carry one-hot labels, which binarise to themselves.
  vae::Batcher<float> batches(data.train, t.batch_size, t.seed, t.shuffle, t.shard, Model::classes);
  vae::DynamicBinarizer<vae::Batcher<float>> binary(batches, t.seed, static_cast<std::uint64_t>(t.shard.rank));
  vae::Batcher<float> test(data.test, t.eval_batch_size, 0, /*shuffle=*/false,
                           vae::Shard{t.shard.rank, t.shard.count, /*pad=*/false}, Model::classes);
  return vae::fit(model, optimizer, binary, &test, t, on_epoch);
}

/// Each pixel's mean over the images of `data`, in [0, 1].
inline vae::Vector<double> pixel_mean(const vae::io::Dataset& data) {
  return data.matrix().cast<double>().rowwise().mean() / 255.0;
}

/// A fresh model's start as --init and --init-output-bias say (a resumed
/// checkpoint or --load-weights then replaces every parameter).
template <class Model>
void initialize(Model& model, const RunOptions& o, const Data& data) {
  if (o.init == "glorot") vae::initialize_glorot(model, o.seed);
  if (o.init_output_bias) vae::initialize_output_bias(model, pixel_mean(data.train));
}

/// Trains `model`, resuming from o.resume when given and saving
/// <out>/<name>.ckpt (model, optimizer, position; atomically) every
/// o.checkpoint_every epochs and after the last one.
template <class Model>
std::vector<vae::EpochStats> train(Model& model, const RunOptions& o, const Data& data, const std::string& name) {
  vae::AdamOptions adam;
  adam.lr = o.lr;
  adam.eps = o.adam_eps;
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
    vae::io::load_checkpoint(*o.resume_file, model, &optimizer, &position);
    if (!quiet) std::cerr << "resuming the " << name << " from " << o.resume << " at epoch " << position.next_epoch + 1 << "\n";
  }
  if (!o.load_weights.empty() && lead_rank()) {
    load_weights(o, model);
    if (!quiet) std::cerr << "starting the " << name << " from the weights in " << o.load_weights << "\n";
  }
  if (!quiet) std::cerr << "training the " << name << " (" << model.num_parameters() << " parameters)\n";
  const std::string checkpoint = o.out + "/" + name + ".ckpt";
  // The learning rate of the first epoch run (a resumed run's too), then of
  // each next one after every epoch.
  const auto set_lr = [&](int epoch) {
    if (o.lr_schedule == "none") return;  // --lr, or a resumed checkpoint's rate
    vae::AdamOptions a = optimizer.options();
    a.lr = scheduled_lr(o.lr_schedule, o.lr, epoch);
    optimizer.set_options(a);
  };
  set_lr(static_cast<int>(position.next_epoch));
  const auto save = [&](const vae::EpochStats& s) {
    set_lr(s.epoch + 1);
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
    return fit_on(model, ddp, o, data, t, save);
  }
#endif
  t.start_epoch = static_cast<int>(position.next_epoch);
  t.seed = position.seed;
  return fit_on(model, optimizer, o, data, t, save);
}

/// The mean negative log-likelihood per test image (nats), estimated with k
/// importance samples per image (model.log_likelihood), 100 images at a time;
/// a conditional VAE's is -log p(image | its label).
template <class Model>
double test_nll(const Model& model, const vae::io::Dataset& test, int k, std::uint64_t seed) {
  vae::Rng rng = vae::evaluation_rng(seed, 1 << 20);
  double sum = 0;
  for (vae::Index first = 0; first < test.size(); first += 100) {
    const vae::Index n = std::min<vae::Index>(100, test.size() - first);
    const vae::Matrix<float> x = vae::io::batch<float>(test, first, n);
    if constexpr (Model::classes > 0) {
      const std::vector<std::uint8_t> labels(test.labels.begin() + first, test.labels.begin() + first + n);
      sum += model.log_likelihood(x, labels, k, rng).sum();
    } else {
      sum += model.log_likelihood(x, k, rng).sum();
    }
  }
  return -sum / double(test.size());
}

/// Burda et al.'s active units: latent dimensions u whose mean code E_q[z_u]
/// varies over the test images with variance above 0.01.
template <class Model>
int active_units(const Model& model, const vae::io::Dataset& test) {
  vae::Matrix<double> codes(model.num_latent(), test.size());
  for (vae::Index first = 0; first < test.size(); first += 500) {
    const vae::Index n = std::min<vae::Index>(500, test.size() - first);
    if constexpr (Model::classes > 0) {
      const std::vector<std::uint8_t> labels(test.labels.begin() + first, test.labels.begin() + first + n);
      codes.middleCols(first, n) = model.encode(vae::io::batch<float>(test, first, n), labels).template cast<double>();
    } else {
      codes.middleCols(first, n) = model.encode(vae::io::batch<float>(test, first, n)).template cast<double>();
    }
  }
  const vae::Vector<double> mean = codes.rowwise().mean();
  const vae::Vector<double> variance = (codes.colwise() - mean).array().square().rowwise().mean();
  return static_cast<int>((variance.array() > 0.01).count());
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
  if constexpr (Model::is_variational) {
    if (o.nll_samples > 0) {
      const auto t0 = std::chrono::steady_clock::now();
      const double nll = test_nll(model, data.test, o.nll_samples, o.seed);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::cout << "test NLL " << nll << " nats (k=" << o.nll_samples << ")\n";
      std::cout << "active units " << active_units(model, data.test) << " of " << model.num_latent()
                << " (variance of the mean code over the test images > 0.01)\n";
      if (!o.quiet) std::cerr << "(the NLL estimate took " << seconds << " s)\n";
      metrics.set_nll(name, nll, o.nll_samples);
    }
  }
  if (!o.no_plots) write_figures(figure_model(model), data.test, data.names, o.out, name, grid, o.grid, o.seed);
}

/// Trains and draws the models --model asks for, with the network of
/// --hidden, --latent and --activation, on Backend.
template <class Backend>
int run(const RunOptions& o, const Data& data) {
  const vae::Objective<float> objective{
      o.loss == "bce"        ? vae::Reconstruction::BinaryCrossEntropy
      : o.loss == "cb"       ? vae::Reconstruction::ContinuousBernoulli
      : o.loss == "gaussian" ? vae::Reconstruction::Gaussian
                             : vae::Reconstruction::SquaredError,
      o.kl == "exact" ? vae::KlForm::Exact : vae::KlForm::Blog, static_cast<float>(o.beta)};
  vae::Objective<float> vae_objective = objective;
  if (o.objective == "iwae") {
    vae_objective.bound = vae::Bound::ImportanceWeighted;
    vae_objective.samples = o.k;
  }
  const std::vector<vae::Index> sizes = encoder_sizes(o);
  const std::vector<vae::ActivationKind> act = hidden_activations(o);
  Metrics metrics;
  const auto start = std::chrono::steady_clock::now();
  if (o.network == "conv" && (o.model == "ae" || o.model == "both")) {
    // The Keras example's networks (vae::keras_conv_networks).
    auto ae = vae::make_conv_autoencoder<float, Backend>(o.latent, o.seed, objective);
    train_and_draw(ae, "ae", "autoencoder", grid_range(o.ae_range, o.ae_range_given, o.latent), o, data, metrics);
  }
  if (o.network == "conv" && (o.model == "vae" || o.model == "both")) {
    auto model = vae::make_conv_vae<float, Backend>(o.latent, o.seed, vae_objective);
    train_and_draw(model, "vae", "VAE", grid_range(o.vae_range, true, o.latent), o, data, metrics);
  }
  if (o.network == "conv" && o.model == "cvae") {
    // The label as planes beside the image and as rows beside the code (vae::keras_conv_networks).
    auto model = vae::make_conv_cvae<kClasses, float, Backend>(o.latent, o.seed, vae_objective);
    train_and_draw(model, "cvae", "conditional VAE", grid_range(o.vae_range, true, o.latent), o, data, metrics);
  }
  if (o.network == "mlp" && (o.model == "ae" || o.model == "both")) {
    auto ae = vae::make_mlp_autoencoder<float, Backend>(sizes, act, o.seed, objective);
    initialize(ae, o, data);
    // The blog's autoencoder range fits its network's codes on MNIST only; elsewhere the grid follows the codes.
    const bool blog_range = o.ae_range_given || (data.names.name == "MNIST" && o.hidden == std::vector<int>{512} &&
                                                 o.activation == "relu");
    train_and_draw(ae, "ae", "autoencoder", grid_range(o.ae_range, blog_range, o.latent), o, data, metrics);
  }
  if (o.network == "mlp" && (o.model == "vae" || o.model == "both")) {
    auto model = vae::make_mlp_vae<float, Backend>(sizes, act, o.seed, vae_objective);
    initialize(model, o, data);
    train_and_draw(model, "vae", "VAE", grid_range(o.vae_range, true, o.latent), o, data, metrics);
  }
  if (o.network == "mlp" && o.model == "cvae") {
    auto model = vae::make_mlp_cvae<kClasses, float, Backend>(sizes, act, o.seed, vae_objective);
    initialize(model, o, data);
    train_and_draw(model, "cvae", "conditional VAE", grid_range(o.vae_range, true, o.latent), o, data, metrics);
  }
  if (!lead_rank()) return 0;
  metrics.write(o.out + "/metrics.csv");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "wrote " << o.out << "/metrics.csv" << (o.no_plots ? "" : " and the pictures") << " in " << seconds
            << " s\n";
  return 0;
}

}  // namespace examples
