// The timing peer of benchmarks/side_by_side.py for this library: one epoch
// of the blog's VAE (784-512-2, batch 128, Adam, squared error + blog KL) over
// the 60,000 MNIST training images held in memory, then the median latency of
// encoding one image. Prints one JSON line, like the PyTorch and libtorch peers.
//   vae_epoch [--data DIR] [--threads N] [--batch N] [--fit 0|1]
//             [--arch blog|iwae|conv] [--k N] [--steps N] [--flush-denormals 0|1]
//             [--shape fixed|runtime]
// --fit 1 times the epoch through vae::fit instead of a loop of train_step
// calls: the same steps, plus fit's own work, including its thread tuner
// (docs/reliability.md measures training beside a process that holds a core).
// --arch conv trains the Keras example's convolutional VAE (vae::make_conv_vae,
// latent 2) with a Bernoulli decoder on logits and the exact KL, batch 128.
// --arch iwae trains Burda et al.'s IWAE model instead: 784-200-200-50 tanh,
// Bernoulli decoder (binary cross-entropy with logits), the importance-weighted
// bound with --k samples per input (default 1), batch 20 unless --batch is
// given, Adam with eps 1e-4, on the training images binarised once (seed 0)
// before timing. --steps N times N steps instead of one epoch (continuing into
// the next epoch's order if N is larger; not with --fit). --flush-denormals 1
// sets the x86 MXCSR flush-to-zero and denormals-are-zero bits before any
// thread starts (threads inherit them): a diagnostic of what subnormal floats
// cost (docs/performance.md), not something the library does. --shape
// runtime trains the same network built at run time (vae::make_mlp_vae)
// instead of the fixed-size type: the same bits, and this measures its speed.
#include <sys/resource.h>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define VAE_EPOCH_HAVE_MXCSR 1
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <vae/backend/blas_kernels.hpp>
#include <vae/vae.hpp>

namespace {

struct Settings {
  std::string data = "data/mnist";
  int threads = vae::num_threads();
  vae::Index batch = 0;  // 0: the architecture's own (128, or 20 for iwae)
  bool through_fit = false;
  std::string arch = "blog";
  vae::Index k = 1;
  vae::Index steps = 0;  // 0: one epoch
  bool flush_denormals = false;
  bool runtime_shape = false;
};

template <class Model>
int run(Model& model, vae::Adam<float>& opt, const vae::io::Dataset& train, const Settings& s) {
  vae::Rng noise(1);
  vae::Batcher<float> batches(train, s.batch, /*seed=*/0);
  batches.start_epoch(0);
  // Warm-up outside the timing, like the peers: the workspace is sized here.
  for (int i = 0; i < 5; ++i) model.train_step(batches.next(), opt, noise);

  int epoch = 1;
  batches.start_epoch(epoch);
  float loss = 0;
  vae::Index samples = train.size();
  const auto t0 = std::chrono::steady_clock::now();
  if (s.through_fit) {
    vae::TrainOptions options;
    options.epochs = 2;
    options.start_epoch = 1;  // one epoch, the same one as the loop's
    options.batch_size = s.batch;
    loss = float(vae::fit(model, opt, batches, static_cast<vae::Batcher<float>*>(nullptr), options).back().train.total);
  } else if (s.steps > 0) {
    samples = 0;
    for (vae::Index b = 0, in_epoch = 0; b < s.steps; ++b, ++in_epoch) {
      if (in_epoch == batches.batches_per_epoch()) {
        batches.start_epoch(++epoch);
        in_epoch = 0;
      }
      const auto x = batches.next();
      samples += x.cols();
      loss = model.train_step(x, opt, noise).total;
    }
  } else {
    for (vae::Index b = 0; b < batches.batches_per_epoch(); ++b) loss = model.train_step(batches.next(), opt, noise).total;
  }
  const double epoch_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const Eigen::MatrixXf one = vae::io::batch<float>(train, 0, 1);
  std::vector<double> latencies;
  for (int i = 0; i < 2200; ++i) {
    const auto s0 = std::chrono::steady_clock::now();
    const Eigen::MatrixXf z = model.encode(one);
    const auto s1 = std::chrono::steady_clock::now();
    if (i >= 200) latencies.push_back(std::chrono::duration<double, std::micro>(s1 - s0).count());
    if (!z.allFinite()) return 1;
  }
  std::nth_element(latencies.begin(), latencies.begin() + latencies.size() / 2, latencies.end());
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::string extra = ", \"blas_core\": \"" + vae::blas_kernels().core + "\"";
  if (s.flush_denormals) extra += ", \"flush_denormals\": 1";
  extra += std::string(", \"shape\": \"") + (s.runtime_shape ? "runtime" : "fixed") + "\"";
  if (s.arch != "blog")
    extra += ", \"arch\": \"" + s.arch + "\", \"k\": " + std::to_string(s.k) + ", \"batch\": " + std::to_string(s.batch) +
            ", \"samples\": " + std::to_string(samples);
  std::printf("{\"name\": \"vae\", \"threads\": %d, \"samples_per_s\": %.1f, \"epoch_s\": %.3f, \"peak_rss_mb\": %.1f, "
              "\"encode_latency_us\": %.2f, \"final_loss\": %.3f%s}\n",
              s.threads, double(samples) / epoch_s, epoch_s, usage.ru_maxrss / 1024.0,
              latencies[latencies.size() / 2], double(loss), extra.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) try {
  vae::use_native_blas_kernels(argv);
  Settings s;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--data") s.data = argv[i + 1];
    else if (flag == "--threads") s.threads = std::stoi(argv[i + 1]);
    else if (flag == "--batch") s.batch = std::stol(argv[i + 1]);
    else if (flag == "--fit") s.through_fit = std::stoi(argv[i + 1]) != 0;
    else if (flag == "--arch") s.arch = argv[i + 1];
    else if (flag == "--k") s.k = std::stol(argv[i + 1]);
    else if (flag == "--steps") s.steps = std::stol(argv[i + 1]);
    else if (flag == "--flush-denormals") s.flush_denormals = std::stoi(argv[i + 1]) != 0;
    else if (flag == "--shape" && (std::string(argv[i + 1]) == "fixed" || std::string(argv[i + 1]) == "runtime"))
      s.runtime_shape = std::string(argv[i + 1]) == "runtime";
    else {
      std::fprintf(stderr,
                   "vae_epoch: unknown flag %s (expected --data, --threads, --batch, --fit, --arch, --k, --steps, "
                   "--flush-denormals, --shape fixed|runtime)\n",
                   argv[i]);
      return 2;
    }
  }
  if (s.arch != "blog" && s.arch != "iwae" && s.arch != "conv") {
    std::fprintf(stderr, "vae_epoch: --arch is %s, expected blog, iwae or conv\n", s.arch.c_str());
    return 2;
  }
  if (s.k < 1 || (s.arch == "blog" && s.k != 1)) {
    std::fprintf(stderr, "vae_epoch: --k is %ld, expected >= 1 (and 1 for --arch blog)\n", long(s.k));
    return 2;
  }
  if (s.steps < 0 || (s.steps > 0 && s.through_fit)) {
    std::fprintf(stderr, "vae_epoch: --steps is %ld, expected >= 0 (and 0 with --fit 1)\n", long(s.steps));
    return 2;
  }
  if (s.flush_denormals) {
#ifdef VAE_EPOCH_HAVE_MXCSR
    _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ (bit 15) | DAZ (bit 6)
#else
    std::fprintf(stderr, "vae_epoch: --flush-denormals needs x86 (MXCSR)\n");
    return 2;
#endif
  }
  if (s.batch == 0) s.batch = s.arch == "iwae" ? 20 : 128;
  vae::set_num_threads(s.threads);
  const vae::io::Dataset train = vae::io::load_mnist(s.data, vae::io::Split::Train);

  if (s.arch == "iwae") {
    vae::Objective<float> objective;
    objective.reconstruction = vae::Reconstruction::BinaryCrossEntropy;
    objective.bound = vae::Bound::ImportanceWeighted;
    objective.samples = s.k;
    vae::AdamOptions adam;
    adam.eps = 1e-4;  // Burda et al.'s
    vae::Adam<float> opt(adam);
    const vae::io::Dataset binary = vae::binarize(train, /*seed=*/0);
    if (s.runtime_shape) {
      auto model = vae::make_mlp_vae<float>({784, 200, 200, 50}, vae::ActivationKind::Tanh, 0, objective);
      return run(model, opt, binary, s);
    }
    vae::MlpVae<vae::Layers<784, 200, 200, 50>, vae::Tanh> model(0, objective);
    return run(model, opt, binary, s);
  }
  if (s.arch == "conv") {
    const vae::Objective<float> bernoulli{vae::Reconstruction::BinaryCrossEntropy, vae::KlForm::Exact, 1.0f};
    vae::Adam<float> opt;
    auto model = vae::make_conv_vae<float>(2, 0, bernoulli);
    return run(model, opt, train, s);
  }
  const vae::Objective<float> blog{vae::Reconstruction::SquaredError, vae::KlForm::Blog, 1.0f};
  vae::Adam<float> opt;
  if (s.runtime_shape) {
    auto model = vae::make_mlp_vae<float>({784, 512, 2}, vae::ActivationKind::Relu, 0, blog);
    return run(model, opt, train, s);
  }
  vae::VariationalAutoencoder<784, 512, 2> model(0, blog);
  return run(model, opt, train, s);
} catch (const std::exception& e) {
  std::fprintf(stderr, "vae_epoch: %s\n", e.what());
  return 1;
}
