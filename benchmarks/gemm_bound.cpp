// The matrix products of one training step of the blog's VAE (784-512-2,
// batch 128) alone, through the same Ops<Cpu, float>::gemm the model uses:
// an upper bound on the step's throughput. Prints one JSON line.
//   gemm_bound [--steps N] [--threads N] [--batch N]
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <vae/backend/blas_kernels.hpp>
#include <vae/vae.hpp>

namespace {

struct Product {
  vae::Trans ta, tb;
  vae::Index m, n, k;  // C is m x n, the inner size k
};

}  // namespace

int main(int argc, char** argv) {
  vae::use_native_blas_kernels(argv);
  int steps = 200, threads = vae::num_threads();
  vae::Index batch = 128;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--steps") steps = std::stoi(argv[i + 1]);
    else if (flag == "--threads") threads = std::stoi(argv[i + 1]);
    else if (flag == "--batch") batch = std::stol(argv[i + 1]);
    else {
      std::fprintf(stderr, "gemm_bound: unknown flag %s (expected --steps, --threads, --batch)\n", argv[i]);
      return 2;
    }
  }
  vae::set_num_threads(threads);
  using T = vae::Trans;
  const vae::Index b = batch, in = 784, hid = 512, heads = 4, lat = 2;
  // Forward: encoder hidden, heads, decoder hidden, logits. Backward: dW and
  // dX of each layer except the input's dX, which the model skips too.
  const std::vector<Product> products = {
      {T::No, T::No, hid, b, in},   {T::No, T::No, heads, b, hid}, {T::No, T::No, hid, b, lat},
      {T::No, T::No, in, b, hid},   {T::No, T::Yes, in, hid, b},   {T::Yes, T::No, hid, b, in},
      {T::No, T::Yes, hid, lat, b}, {T::Yes, T::No, lat, b, hid},  {T::No, T::Yes, heads, hid, b},
      {T::Yes, T::No, hid, b, heads}, {T::No, T::Yes, hid, in, b}};
  std::vector<Eigen::MatrixXf> a, bm, c;
  for (const auto& p : products) {
    a.push_back(Eigen::MatrixXf::Random(p.ta == T::No ? p.m : p.k, p.ta == T::No ? p.k : p.m));
    bm.push_back(Eigen::MatrixXf::Random(p.tb == T::No ? p.k : p.n, p.tb == T::No ? p.n : p.k));
    c.push_back(Eigen::MatrixXf::Zero(p.m, p.n));
  }
  const vae::Cpu::Context ctx;
  auto run_step = [&] {
    for (std::size_t i = 0; i < products.size(); ++i) {
      const auto& p = products[i];
      vae::Ops<vae::Cpu, float>::gemm(ctx, p.ta, p.tb, 1.0f, vae::view_of<float>(a[i]), vae::view_of<float>(bm[i]), 0.0f,
                                      vae::make_view(c[i].data(), p.m, p.n));
    }
  };
  for (int i = 0; i < 10; ++i) run_step();
  std::vector<double> times;
  for (int i = 0; i < steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    run_step();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::printf("{\"name\": \"gemm_bound\", \"threads\": %d, \"batch\": %ld, \"step_ms\": %.4f, \"samples_per_s\": %.1f, "
              "\"peak_rss_mb\": %.1f}\n",
              threads, static_cast<long>(b), median * 1e3, double(b) / median, usage.ru_maxrss / 1024.0);
}
