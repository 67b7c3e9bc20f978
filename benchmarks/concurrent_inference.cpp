// Calls per second of encode, decode and reconstruct on one const model
// (the blog's VAE, 784-512-2) from 1, 2, 4, 8 and 16 caller threads at once,
// as a server calling the model from its request threads would. Each caller
// loops over the three calls for --seconds; a "call" is one of them. Prints
// one JSON line per thread count.
//   concurrent_inference [--batch N] [--seconds S] [--callers 1,2,4,8,16] [--threads N]
// --threads sets vae::set_num_threads on the main thread first (default: left
// as the OpenMP runtime set it).
#include <atomic>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <vae/backend/blas_kernels.hpp>
#include <vae/vae.hpp>

int main(int argc, char** argv) try {
  vae::use_native_blas_kernels(argv);
  vae::Index batch = 64;
  double seconds = 2.0;
  std::vector<int> callers = {1, 2, 4, 8, 16};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--batch") {
      batch = std::stol(value);
    } else if (flag == "--seconds") {
      seconds = std::stod(value);
    } else if (flag == "--threads") {
      vae::set_num_threads(std::stoi(value));
    } else if (flag == "--callers") {
      callers.clear();
      std::stringstream list(value);
      for (std::string item; std::getline(list, item, ',');) callers.push_back(std::stoi(item));
    } else {
      std::fprintf(stderr, "concurrent_inference: unknown flag %s (expected --batch, --seconds, --callers, --threads)\n",
                   argv[i]);
      return 2;
    }
  }
  const vae::VariationalAutoencoder<784, 512, 2> model(0);
  const Eigen::MatrixXf x = (Eigen::MatrixXf::Random(784, batch).array() + 1) / 2;
  const Eigen::MatrixXf z = model.encode(x);
  for (const int n : callers) {
    std::atomic<bool> go{false}, stop{false};
    std::vector<long> calls(static_cast<std::size_t>(n), 0);
    std::vector<std::thread> pool;
    for (int t = 0; t < n; ++t)
      pool.emplace_back([&, t] {
        while (!go) std::this_thread::yield();
        long done = 0;
        float sink = 0;
        while (!stop) {
          sink += model.encode(x)(0, 0);
          sink += model.decode(z)(0, 0);
          sink += model.reconstruct(x)(0, 0);
          done += 3;
        }
        calls[static_cast<std::size_t>(t)] = sink == sink ? done : -1;  // keeps the calls from being elided
      });
    const auto t0 = std::chrono::steady_clock::now();
    go = true;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& th : pool) th.join();
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    long total = 0;
    for (const long c : calls) total += c;
    std::printf("{\"callers\": %d, \"batch\": %ld, \"library_threads\": %d, \"calls\": %ld, \"seconds\": %.2f, "
                "\"calls_per_s\": %.1f}\n",
                n, static_cast<long>(batch), vae::num_threads(), total, elapsed, double(total) / elapsed);
    std::fflush(stdout);
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "concurrent_inference: %s\n", e.what());
  return 1;
}
