// vae_mnist: the blog "Variational AutoEncoders (VAE) with PyTorch", in C++.
// Trains an autoencoder and/or a VAE (or a conditional VAE) on MNIST and
// writes the blog's pictures and a metrics file. With no flags it reproduces
// the blog: both models, 784-512-2 ReLU, 20 epochs, batch 128, Adam (lr 1e-3),
// summed squared error and the blog's KL term. --hidden, --activation and
// --latent pick another network, and --objective, --k, --binarize,
// --nll-samples and --lr-schedule run the likelihood benchmark
// (docs/likelihood.md). --data may point at Fashion-MNIST (same file format);
// the pictures then say so and name its classes (data_set.hpp).
#include <unistd.h>

#include <cerrno>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include <vae/backend/blas_kernels.hpp>
#include <vae/vae.hpp>
#if defined(VAE_MNIST_WITH_SAFETENSORS)
#include <vae/io/safetensors.hpp>
#endif

#include "data_set.hpp"
#include "options.hpp"
#include "ranks.hpp"

namespace fs = std::filesystem;

namespace {

/// The largest --threads: far above any machine's cores, far below what
/// would exhaust the process's threads.
constexpr int kMaxThreads = 1024;

/// `v` for a message: an integer as such, else in at most 6 digits (never
/// the 309 digits of DBL_MAX).
std::string short_number(double v) {
  if (std::abs(v) < 1e15 && v == std::floor(v)) return std::to_string(static_cast<long long>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

/// A check that an option's value is a number in [lo, hi] (NaN is not),
/// whose message names the range in short numbers.
CLI::Validator in_range(double lo, double hi) {
  const std::string range = "[" + short_number(lo) + ", " + short_number(hi) + "]";
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0') return "'" + text + "' is not a number; expected a number in " + range;
        if (!(v >= lo && v <= hi)) return text + " is outside " + range;
        return std::string();
      },
      range);
}

/// Fails before any training if `dir` cannot be created or written.
void check_output_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string probe = (fs::path(dir) / ".vae_mnist_write_test").string();
  std::FILE* f = ec ? nullptr : std::fopen(probe.c_str(), "w");
  const std::string why = ec ? ec.message() : std::strerror(errno);
  if (!f) throw vae::IoError("output folder '" + dir + "' cannot be written (" + why + ")");
  std::fclose(f);
  fs::remove(probe, ec);
}

/// `p` made absolute and normal, without a trailing separator, for comparing paths.
fs::path normal_path(const fs::path& p) {
  std::error_code ec;
  fs::path n = fs::weakly_canonical(fs::absolute(p), ec).lexically_normal();
  return n.has_filename() || n == n.root_path() ? n : n.parent_path();
}

/// --save-weights must be writable before any training: a temporary file is
/// created beside it and removed again. A folder that does not exist yet but
/// is --out passes here: check_output_dir creates it, and this runs again then.
void check_save_weights(const examples::RunOptions& o) {
  if (o.save_weights.empty()) return;
  if (fs::is_directory(o.save_weights))
    throw vae::IoError("--save-weights " + o.save_weights + " is a folder; expected a file name such as vae.safetensors");
  const fs::path folder = fs::path(o.save_weights).parent_path();
  std::error_code ec;
  if (!folder.empty() && !fs::exists(folder, ec) && normal_path(folder) == normal_path(o.out)) return;
  const vae::io::AtomicFile probe(o.save_weights);
}

/// Reads --resume and --load-weights once, before any data: a pipe or a FIFO
/// (a shell's <(...)) can be read only once, and a bad file fails first.
void read_start_files(examples::RunOptions& o) {
  if (!o.resume.empty())
    o.resume_file = std::make_shared<const vae::io::CheckpointFile>(vae::io::read_checkpoint_file(o.resume));
  if (o.load_weights.empty() || !examples::lead_rank()) return;
#if defined(VAE_MNIST_WITH_SAFETENSORS)
  o.weights_file = std::make_shared<const vae::io::SafetensorsFile>(vae::io::read_safetensors_file(o.load_weights));
#else
  throw vae::ValueError("--load-weights " + o.load_weights + ": this vae_mnist was built without safetensors support "
                        "(vae::safetensors needs nlohmann_json: Debian nlohmann-json3-dev)");
#endif
}

/// The grid ranges: finite, ordered, and only for a 2-d latent space.
void check_ranges(const examples::RunOptions& o, std::size_t given) {
  for (const auto* r : {&o.ae_range, &o.vae_range})
    if (!((*r)[0] < (*r)[1] && (*r)[2] < (*r)[3]))
      throw vae::ValueError(std::string(r == &o.ae_range ? "--ae-range" : "--vae-range") +
                            ": expected x0 < x1 and y0 < y1");
  if (o.latent != 2 && given > 0)
    throw vae::ValueError("--ae-range and --vae-range set the grid of a 2-d latent space; with --latent " +
                          std::to_string(o.latent) + " the grid spans the codes' first two principal components");
}

void check_data_dir(const std::string& dir) {
  if (!fs::is_directory(dir))
    throw vae::IoError("data folder '" + dir + "' does not exist; fetch MNIST with: bash scripts/fetch_mnist.sh " + dir);
}

/// ", OpenBLAS <kernels> kernels", or nothing without OpenBLAS.
std::string blas_note() {
  const vae::BlasKernels k = vae::blas_kernels();
  return k.core.empty() ? std::string() : ", OpenBLAS " + k.core + " kernels";
}

}  // namespace

int main(int argc, char** argv) {
  // OpenBLAS older than the CPU runs its SSE3 kernels: start again on the
  // CPU's own (vae/backend/blas_kernels.hpp).
  vae::use_native_blas_kernels(argv);
#if defined(VAE_MNIST_WITH_MPI)
  // Under mpirun, one model trained by every process (--batch per process);
  // started alone, a single process without MPI.
  const vae::mpi::Session mpi(&argc, &argv, vae::mpi::Session::Start::when_launched);
#endif
  examples::RunOptions o;
  CLI::App app{"Train the blog's autoencoder and VAE on MNIST and draw its pictures."};
  app.add_option("--model", o.model, "ae, vae, both, or cvae (a VAE conditioned on the class label)")
      ->check(CLI::IsMember({"ae", "vae", "both", "cvae"}))->capture_default_str();
  app.add_option("--network", o.network,
                 "mlp (dense layers: --hidden, --activation), or conv (the Keras example's convolutional encoder "
                 "and decoder, docs/convolution.md)")
      ->check(CLI::IsMember({"mlp", "conv"}))->capture_default_str();
  app.add_option("--latent", o.latent, "latent size")->check(in_range(1, examples::kMaxLayerSize))->capture_default_str();
  app.add_option("--hidden", o.hidden, "hidden layer sizes, input side first (e.g. 1000,500,250)")
      ->delimiter(',')->check(in_range(1, examples::kMaxLayerSize))->capture_default_str();
  app.add_option("--activation", o.activation,
                 "hidden activation: relu, tanh, softplus, elu, sigmoid or identity; or one per hidden layer "
                 "(relu,tanh)")
      ->capture_default_str();
  app.add_option("--epochs", o.epochs, "training epochs")->check(in_range(0, INT_MAX))->capture_default_str();
  app.add_option("--batch", o.batch, "batch size")->check(in_range(1, 1 << 20))->capture_default_str();
  // The models compute in float: a double setting must stay > 0 and finite there.
  app.add_option("--lr", o.lr, "Adam learning rate")->check(in_range(FLT_MIN, FLT_MAX))->capture_default_str();
  app.add_option("--beta", o.beta, "weight of the KL term (VAE)")->check(in_range(0, FLT_MAX))->capture_default_str();
  app.add_option("--loss", o.loss,
                 "reconstruction loss: sse (the blog's), bce (Bernoulli), cb (continuous Bernoulli) or gaussian "
                 "(unit variance, identity output)")
      ->check(CLI::IsMember({"sse", "bce", "cb", "gaussian"}))
      ->capture_default_str();
  app.add_option("--kl", o.kl, "KL term: blog (the blog's formula) or exact")->check(CLI::IsMember({"blog", "exact"}))->capture_default_str();
  app.add_option("--seed", o.seed, "seed of every random stream")->capture_default_str();
  app.add_option("--backend", o.backend, "cpu, or cuda (builds with VAE_WITH_CUDA and a GPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads (0: all cores)")->check(in_range(0, kMaxThreads))->capture_default_str();
  app.add_option("--data", o.data, "folder with the four MNIST IDX files (raw or .gz), or Fashion-MNIST's")
      ->capture_default_str();
  app.add_option("--dataset-name", o.dataset_name,
                 "the data's name in the pictures: MNIST, Fashion-MNIST (class names in the legend), any other, "
                 "or auto (Fashion-MNIST when the --data path says 'fashion', else MNIST)")
      ->capture_default_str();
  app.add_option("--out", o.out, "folder for pictures and metrics")->capture_default_str();
  app.add_flag("--no-plots", o.no_plots, "train and write metrics only");
  app.add_option("--grid", o.grid, "the latent grid picture decodes N x N points")->check(in_range(2, 64))->capture_default_str();
  app.add_option("--ae-range", o.ae_range,
                 "autoencoder latent grid: x0 x1 y0 y1 (latent 2; default: the blog's on MNIST, else the codes' spread; "
                 "larger latents span their codes)")
      ->expected(4)->check(in_range(-1e6, 1e6))->capture_default_str();
  app.add_option("--vae-range", o.vae_range, "VAE latent grid: x0 x1 y0 y1 (latent 2; larger latents span their codes)")
      ->expected(4)->check(in_range(-1e6, 1e6))->capture_default_str();
  app.add_option("--checkpoint-every", o.checkpoint_every,
                 "save <out>/<model>.ckpt every N epochs and at the end (0: never)")
      ->check(in_range(0, INT_MAX))->capture_default_str();
  app.add_option("--resume", o.resume,
                 "continue training from a checkpoint (needs --model ae, vae or cvae; the loss settings come from the file)");
  app.add_option("--load-weights", o.load_weights,
                 "start from the weights in this safetensors file (PyTorch's names, docs/weights.md; needs --model ae, "
                 "vae or cvae); with --epochs 0, only evaluate and draw");
  app.add_option("--save-weights", o.save_weights,
                 "after training, write the weights to this safetensors file (needs --model ae, vae or cvae)");
  app.add_option("--clip-grad-norm", o.clip_grad_norm, "clip the gradient's L2 norm to this (0: off)")
      ->check(in_range(0, FLT_MAX))->capture_default_str();
  app.add_option("--objective", o.objective, "the VAE's bound: elbo, or iwae (importance-weighted, --k samples)")
      ->check(CLI::IsMember({"elbo", "iwae"}))->capture_default_str();
  app.add_option("--k", o.k, "samples per input of --objective iwae (1 = the ELBO with a sampled KL)")
      ->check(in_range(1, double(vae::io::kMaxBoundSamples)))->capture_default_str();
  app.add_option("--binarize", o.binarize,
                 "none, or dynamic: training pixels redrawn as Bernoulli(intensity) every epoch, the test set once")
      ->check(CLI::IsMember({"none", "dynamic"}))->capture_default_str();
  app.add_option("--nll-samples", o.nll_samples,
                 "after training, estimate the VAE's test NLL with this many importance samples (0: no)")
      ->check(in_range(0, 100000))->capture_default_str();
  app.add_option("--lr-schedule", o.lr_schedule,
                 "none, or iwae: Burda et al.'s 8 stages of 3^i epochs at 1e-3 * 10^(-i/7) (3280 epochs; sets --epochs "
                 "unless given)")
      ->check(CLI::IsMember({"none", "iwae"}))->capture_default_str();
  app.add_option("--adam-eps", o.adam_eps, "Adam's epsilon (Burda et al. used 1e-4)")
      ->check(in_range(FLT_MIN, FLT_MAX))->capture_default_str();
  app.add_option("--init", o.init,
                 "initial weights: pytorch (nn.Linear's default) or glorot (uniform +-sqrt(6 / (in + out)), zero "
                 "biases; Burda et al.'s code)")
      ->check(CLI::IsMember({"pytorch", "glorot"}))->capture_default_str();
  app.add_flag("--init-output-bias", o.init_output_bias,
               "start the decoder's output bias at the logit of the training set's mean pixel (clipped to [0.001, "
               "0.999]), as Burda et al.'s code does");
  app.add_flag("--quiet", o.quiet, "no progress output");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help
  } catch (const CLI::ParseError& e) {
    // One exit status for every refusal, as for the errors below.
    std::cerr << "vae_mnist: error: " << e.what() << " (vae_mnist --help lists the options)\n";
    return 1;
  }
  o.ae_range_given = app.count("--ae-range") > 0;

  try {
    if (o.threads > 0) vae::set_num_threads(o.threads);
    check_ranges(o, app.count("--ae-range") + app.count("--vae-range"));
    if (o.lr_schedule == "iwae" && app.count("--epochs") == 0) o.epochs = vae::kIwaeScheduleEpochs;
    if (o.objective == "elbo" && app.count("--k") > 0 && o.k != 1)
      throw vae::ValueError("--k " + std::to_string(o.k) + " takes --objective iwae (the ELBO draws one sample)");
    examples::check_network(o);
    if (o.network == "conv") {
      for (const char* flag : {"--hidden", "--activation"})
        if (app.count(flag) > 0)
          throw vae::ValueError(std::string(flag) + " shapes --network mlp; --network conv is the Keras example's "
                                "network, of which only --latent is chosen (docs/convolution.md)");
      if (o.init != "pytorch" || o.init_output_bias)
        throw vae::ValueError("--init glorot and --init-output-bias set dense layers; --network conv starts "
                              "from PyTorch's default initialisation");
    }
    if (o.objective == "iwae" && o.model == "ae")
      throw vae::ValueError("--objective iwae is a VAE's bound: use --model vae, cvae or both");
    if (o.nll_samples > 0 && o.model == "ae")
      throw vae::ValueError("--nll-samples estimates a VAE's likelihood: use --model vae, cvae or both");
    if (!o.resume.empty() && o.model == "both")
      throw vae::ValueError("--resume continues one model: add --model ae, vae or cvae");
    if ((!o.load_weights.empty() || !o.save_weights.empty()) && o.model == "both")
      throw vae::ValueError("--load-weights and --save-weights hold one model: add --model ae, vae or cvae");
    if (!o.load_weights.empty() && !o.resume.empty())
      throw vae::ValueError("--load-weights and --resume both give the starting point: use one");
    read_start_files(o);
    if (examples::lead_rank()) {
      examples::check_weight_files(o);  // --load-weights must fit the model
      check_save_weights(o);
    }
#if defined(VAE_MNIST_WITH_CUDA)
    if (o.backend == "cuda") examples::cuda_runner().check_device();
#endif
    check_data_dir(o.data);
    examples::Data data{vae::io::load_mnist(o.data, vae::io::Split::Train),
                        vae::io::load_mnist(o.data, vae::io::Split::Test),
                        examples::data_set_names(o.dataset_name, o.data)};
    // --binarize dynamic: the test set is binarised once, with a fixed seed.
    if (o.binarize == "dynamic") data.test = vae::binarize(data.test, examples::kTestBinarizeSeed);
    if (examples::lead_rank()) {
      check_output_dir(o.out);
      check_save_weights(o);  // its folder may be --out, which exists only now
      std::cerr << "vae_mnist: " << data.train.size() << " training and " << data.test.size() << " test images of "
                << data.names.name << " from " << o.data << ", " << vae::num_threads() << " threads"
                << blas_note()
                << (examples::world_size() > 1 ? " in each of " + std::to_string(examples::world_size()) + " processes"
                                               : std::string())
                << ", writing to " << o.out << "\n";
    }
    if (o.backend == "cuda") {
#if defined(VAE_MNIST_WITH_CUDA)
      return examples::cuda_runner().run(o, data);
#else
      throw vae::ValueError("--backend cuda: this vae_mnist was built without CUDA (configure with VAE_WITH_CUDA=ON)");
#endif
    }
    return examples::run<vae::Cpu>(o, data);
  } catch (const std::exception& e) {
    return examples::fail(e);  // under mpirun: every process ends (ranks.hpp)
  }
}
