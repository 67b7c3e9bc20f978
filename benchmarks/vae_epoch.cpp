// The timing peer of benchmarks/side_by_side.py for this library: one epoch
// of the blog's VAE (784-512-2, batch 128, Adam, squared error + blog KL) over
// the 60,000 MNIST training images held in memory, then the median latency of
// encoding one image. Prints one JSON line, like the PyTorch and libtorch peers.
//   vae_epoch [--data DIR] [--threads N] [--batch N] [--fit 0|1]
// --fit 1 times the epoch through vae::fit instead of a loop of train_step
// calls: the same steps, plus fit's own work, including its thread tuner
// (docs/reliability.md measures training beside a process that holds a core).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <vae/vae.hpp>

int main(int argc, char** argv) try {
  std::string data = "data/mnist";
  int threads = vae::num_threads();
  vae::Index batch = 128;
  bool through_fit = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--data") data = argv[i + 1];
    else if (flag == "--threads") threads = std::stoi(argv[i + 1]);
    else if (flag == "--batch") batch = std::stol(argv[i + 1]);
    else if (flag == "--fit") through_fit = std::stoi(argv[i + 1]) != 0;
    else {
      std::fprintf(stderr, "vae_epoch: unknown flag %s (expected --data, --threads, --batch, --fit)\n", argv[i]);
      return 2;
    }
  }
  vae::set_num_threads(threads);
  const vae::io::Dataset train = vae::io::load_mnist(data, vae::io::Split::Train);

  using Model = vae::VariationalAutoencoder<784, 512, 2>;
  Model model(0, {vae::Reconstruction::SquaredError, vae::KlForm::Blog, 1.0f});
  vae::Adam<float> opt;
  vae::Rng noise(1);
  vae::Batcher<float> batches(train, batch, /*seed=*/0);
  batches.start_epoch(0);
  // Warm-up outside the timing, like the peers: the workspace is sized here.
  for (int i = 0; i < 5; ++i) model.train_step(batches.next(), opt, noise);

  batches.start_epoch(1);
  float loss = 0;
  const auto t0 = std::chrono::steady_clock::now();
  if (through_fit) {
    vae::TrainOptions options;
    options.epochs = 2;
    options.start_epoch = 1;  // one epoch, the same one as the loop's
    options.batch_size = batch;
    loss = float(vae::fit(model, opt, batches, static_cast<vae::Batcher<float>*>(nullptr), options).back().train.total);
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
  std::printf("{\"name\": \"vae\", \"threads\": %d, \"samples_per_s\": %.1f, \"epoch_s\": %.3f, \"peak_rss_mb\": %.1f, "
              "\"encode_latency_us\": %.2f, \"final_loss\": %.3f}\n",
              threads, double(train.size()) / epoch_s, epoch_s, usage.ru_maxrss / 1024.0,
              latencies[latencies.size() / 2], double(loss));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "vae_epoch: %s\n", e.what());
  return 1;
}
