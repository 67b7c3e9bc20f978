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

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include <vae/backend/blas_kernels.hpp>
#include <vae/vae.hpp>

#include "data_set.hpp"
#include "options.hpp"
#include "ranks.hpp"

namespace fs = std::filesystem;

namespace {

/// Fails before any training if `dir` cannot be created or written.
void check_output_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  const std::string probe = (fs::path(dir) / ".vae_mnist_write_test").string();
  std::FILE* f = ec ? nullptr : std::fopen(probe.c_str(), "w");
  if (!f) throw vae::IoError("output folder '" + dir + "' cannot be written" + (ec ? " (" + ec.message() + ")" : ""));
  std::fclose(f);
  fs::remove(probe, ec);
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
  // alone, a single process as without MPI.
  const vae::mpi::Session mpi(&argc, &argv);
#endif
  examples::RunOptions o;
  CLI::App app{"Train the blog's autoencoder and VAE on MNIST and draw its pictures."};
  app.add_option("--model", o.model, "ae, vae, both, or cvae (a VAE conditioned on the class label)")
      ->check(CLI::IsMember({"ae", "vae", "both", "cvae"}))->capture_default_str();
  app.add_option("--latent", o.latent, "latent size; compiled in: 2, 10, 20, 50")->check(CLI::IsMember({2, 10, 20, 50}))->capture_default_str();
  app.add_option("--hidden", o.hidden, "hidden layer sizes, input side first; compiled in: 512, 400, 200,200")
      ->delimiter(',')->capture_default_str();
  app.add_option("--activation", o.activation, "hidden activation: relu, tanh, softplus or elu")
      ->check(CLI::IsMember({"relu", "tanh", "softplus", "elu"}))->capture_default_str();
  app.add_option("--epochs", o.epochs, "training epochs")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--batch", o.batch, "batch size")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--lr", o.lr, "Adam learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--beta", o.beta, "weight of the KL term (VAE)")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--loss", o.loss, "reconstruction loss: sse (the blog's) or bce")->check(CLI::IsMember({"sse", "bce"}))->capture_default_str();
  app.add_option("--kl", o.kl, "KL term: blog (the blog's formula) or exact")->check(CLI::IsMember({"blog", "exact"}))->capture_default_str();
  app.add_option("--seed", o.seed, "seed of every random stream")->capture_default_str();
  app.add_option("--backend", o.backend, "cpu, or cuda (builds with VAE_WITH_CUDA and a GPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}))->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--data", o.data, "folder with the four MNIST IDX files (raw or .gz), or Fashion-MNIST's")
      ->capture_default_str();
  app.add_option("--dataset-name", o.dataset_name,
                 "the data's name in the pictures: MNIST, Fashion-MNIST (class names in the legend), any other, "
                 "or auto (Fashion-MNIST when the --data path says 'fashion', else MNIST)")
      ->capture_default_str();
  app.add_option("--out", o.out, "folder for pictures and metrics")->capture_default_str();
  app.add_flag("--no-plots", o.no_plots, "train and write metrics only");
  app.add_option("--grid", o.grid, "the latent grid picture decodes N x N points")->check(CLI::Range(2, 64))->capture_default_str();
  app.add_option("--ae-range", o.ae_range,
                 "autoencoder latent grid: x0 x1 y0 y1 (latent 2; default: the blog's on MNIST, else the codes' spread; "
                 "larger latents span their codes)")
      ->expected(4)->capture_default_str();
  app.add_option("--vae-range", o.vae_range, "VAE latent grid: x0 x1 y0 y1 (latent 2; larger latents span their codes)")
      ->expected(4)->capture_default_str();
  app.add_option("--checkpoint-every", o.checkpoint_every,
                 "save <out>/<model>.ckpt every N epochs and at the end (0: never)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--resume", o.resume,
                 "continue training from a checkpoint (needs --model ae, vae or cvae; the loss settings come from the file)");
  app.add_option("--load-weights", o.load_weights,
                 "start from the weights in this safetensors file (PyTorch's names, docs/weights.md; needs --model ae, "
                 "vae or cvae); with --epochs 0, only evaluate and draw");
  app.add_option("--save-weights", o.save_weights,
                 "after training, write the weights to this safetensors file (needs --model ae, vae or cvae)");
  app.add_option("--clip-grad-norm", o.clip_grad_norm, "clip the gradient's L2 norm to this (0: off)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--objective", o.objective, "the VAE's bound: elbo, or iwae (importance-weighted, --k samples)")
      ->check(CLI::IsMember({"elbo", "iwae"}))->capture_default_str();
  app.add_option("--k", o.k, "samples per input of --objective iwae (1 = the ELBO with a sampled KL)")
      ->check(CLI::Range(1, 5000))->capture_default_str();
  app.add_option("--binarize", o.binarize,
                 "none, or dynamic: training pixels redrawn as Bernoulli(intensity) every epoch, the test set once")
      ->check(CLI::IsMember({"none", "dynamic"}))->capture_default_str();
  app.add_option("--nll-samples", o.nll_samples,
                 "after training, estimate the VAE's test NLL with this many importance samples (0: no)")
      ->check(CLI::Range(0, 100000))->capture_default_str();
  app.add_option("--lr-schedule", o.lr_schedule,
                 "none, or iwae: Burda et al.'s 8 stages of 3^i epochs at 1e-3 * 10^(-i/7) (3280 epochs; sets --epochs "
                 "unless given)")
      ->check(CLI::IsMember({"none", "iwae"}))->capture_default_str();
  app.add_option("--adam-eps", o.adam_eps, "Adam's epsilon (Burda et al. used 1e-4)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--init", o.init,
                 "initial weights: pytorch (nn.Linear's default) or glorot (uniform +-sqrt(6 / (in + out)), zero "
                 "biases; Burda et al.'s code)")
      ->check(CLI::IsMember({"pytorch", "glorot"}))->capture_default_str();
  app.add_flag("--init-output-bias", o.init_output_bias,
               "start the decoder's output bias at the logit of the training set's mean pixel (clipped to [0.001, "
               "0.999]), as Burda et al.'s code does");
  app.add_flag("--quiet", o.quiet, "no progress output");
  CLI11_PARSE(app, argc, argv);
  o.ae_range_given = app.count("--ae-range") > 0;

  try {
    if (o.threads > 0) vae::set_num_threads(o.threads);
    for (const auto* r : {&o.ae_range, &o.vae_range})
      if (!((*r)[0] < (*r)[1] && (*r)[2] < (*r)[3]))
        throw vae::ValueError(std::string(r == &o.ae_range ? "--ae-range" : "--vae-range") +
                              ": expected x0 < x1 and y0 < y1");
    if (o.latent != 2 && app.count("--ae-range") + app.count("--vae-range") > 0)
      throw vae::ValueError("--ae-range and --vae-range set the grid of a 2-d latent space; with --latent " +
                            std::to_string(o.latent) + " the grid spans the codes' first two principal components");
    if (o.lr_schedule == "iwae" && app.count("--epochs") == 0) o.epochs = vae::kIwaeScheduleEpochs;
    if (o.objective == "elbo" && app.count("--k") > 0 && o.k != 1)
      throw vae::ValueError("--k " + std::to_string(o.k) + " takes --objective iwae (the ELBO draws one sample)");
    bool compiled = false;
    for (const auto& h : examples::compiled_hidden()) compiled = compiled || h == o.hidden;
    if (!compiled)
      throw vae::ValueError("--hidden " + examples::hidden_text(o.hidden) +
                            " is not compiled in; choose 512, 400 or 200,200");
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
    if (!o.resume.empty()) vae::io::read_checkpoint_info(o.resume);  // a bad file fails before anything else
    if (examples::lead_rank()) examples::check_weight_files(o);  // likewise, and --save-weights must be writable
#if defined(VAE_MNIST_WITH_CUDA)
    if (o.backend == "cuda") examples::check_cuda_device();
#endif
    check_data_dir(o.data);
    examples::Data data{vae::io::load_mnist(o.data, vae::io::Split::Train),
                        vae::io::load_mnist(o.data, vae::io::Split::Test),
                        examples::data_set_names(o.dataset_name, o.data)};
    // --binarize dynamic: the test set is binarised once, with a fixed seed.
    if (o.binarize == "dynamic") data.test = vae::binarize(data.test, examples::kTestBinarizeSeed);
    if (examples::lead_rank()) {
      check_output_dir(o.out);
      std::cerr << "vae_mnist: " << data.train.size() << " training and " << data.test.size() << " test images of "
                << data.names.name << " from " << o.data << ", " << vae::num_threads() << " threads"
                << blas_note()
                << (examples::world_size() > 1 ? " in each of " + std::to_string(examples::world_size()) + " processes"
                                               : std::string())
                << ", writing to " << o.out << "\n";
    }
    if (o.backend == "cuda") {
#if defined(VAE_MNIST_WITH_CUDA)
      return examples::run_cuda(o, data);
#else
      throw vae::ValueError("--backend cuda: this vae_mnist was built without CUDA (configure with VAE_WITH_CUDA=ON)");
#endif
    }
    return examples::run<vae::Cpu>(o, data);
  } catch (const std::exception& e) {
    return examples::fail(e);  // under mpirun: every process ends (ranks.hpp)
  }
}
