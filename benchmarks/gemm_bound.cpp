// The matrix products of one training step of the blog's VAE (784-512-2,
// batch 128) alone, through the same Ops<Cpu, float>::gemm the model uses:
// an upper bound on the step's throughput. Prints one JSON line.
//   gemm_bound [--steps N] [--threads N] [--batch N] [--arch blog|conv]
// --arch conv: the products of the Keras example's convolutional VAE
// (vae::keras_conv_networks, latent 2), derived from its layers as
// models/sequential.hpp computes them.
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

/// The products one training step of a network of `layers` computes at
/// batch b (models/sequential.hpp): each layer's forward, its weight
/// gradient and, but for the first layer, its input gradient.
void add_products(const std::vector<vae::LayerSpec>& layers, vae::Index b, bool input_grad_first,
                  std::vector<Product>& out) {
  using T = vae::Trans;
  using Kind = vae::detail::SequentialLayer::Kind;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto l = vae::detail::parse_layer(layers[i], i, "gemm_bound");
    const bool dx = i > 0 || input_grad_first;
    const vae::Index r = b * l.geometry.positions(), k = l.geometry.patch_size();
    if (l.kind == Kind::Dense) {
      out.push_back({T::No, T::No, l.out_c, b, l.in_c});
      out.push_back({T::No, T::Yes, l.out_c, l.in_c, b});
      if (dx) out.push_back({T::Yes, T::No, l.in_c, b, l.out_c});
    } else if (l.kind == Kind::Conv) {
      out.push_back({T::No, T::No, r, l.out_c, k});
      out.push_back({T::Yes, T::No, k, l.out_c, r});
      if (dx) out.push_back({T::No, T::Yes, r, k, l.out_c});
    } else if (l.kind == Kind::ConvTranspose) {
      out.push_back({T::No, T::Yes, r, k, l.in_c});
      out.push_back({T::Yes, T::No, k, l.in_c, r});
      if (dx) out.push_back({T::No, T::No, r, l.in_c, k});
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  vae::use_native_blas_kernels(argv);
  int steps = 200, threads = vae::num_threads();
  vae::Index batch = 128;
  std::string arch = "blog";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--steps") steps = std::stoi(argv[i + 1]);
    else if (flag == "--threads") threads = std::stoi(argv[i + 1]);
    else if (flag == "--batch") batch = std::stol(argv[i + 1]);
    else if (flag == "--arch") arch = argv[i + 1];
    else {
      std::fprintf(stderr, "gemm_bound: unknown flag %s (expected --steps, --threads, --batch, --arch)\n", argv[i]);
      return 2;
    }
  }
  vae::set_num_threads(threads);
  using T = vae::Trans;
  const vae::Index b = batch, in = 784, hid = 512, heads = 4, lat = 2;
  // Forward: encoder hidden, heads, decoder hidden, logits. Backward: dW and
  // dX of each layer except the input's dX, which the model skips too.
  std::vector<Product> products = {
      {T::No, T::No, hid, b, in},   {T::No, T::No, heads, b, hid}, {T::No, T::No, hid, b, lat},
      {T::No, T::No, in, b, hid},   {T::No, T::Yes, in, hid, b},   {T::Yes, T::No, hid, b, in},
      {T::No, T::Yes, hid, lat, b}, {T::Yes, T::No, lat, b, hid},  {T::No, T::Yes, heads, hid, b},
      {T::Yes, T::No, hid, b, heads}, {T::No, T::Yes, hid, in, b}};
  if (arch == "conv") {
    products.clear();
    const vae::ConvNetworks n = vae::keras_conv_networks(2);
    add_products(n.encoder, b, false, products);
    add_products(n.decoder, b, true, products);
  } else if (arch != "blog") {
    std::fprintf(stderr, "gemm_bound: --arch is %s, expected blog or conv\n", arch.c_str());
    return 2;
  }
  double flops = 0;
  for (const auto& p : products) flops += 2.0 * double(p.m) * double(p.n) * double(p.k);
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
  std::printf("{\"name\": \"gemm_bound\", \"arch\": \"%s\", \"threads\": %d, \"batch\": %ld, \"step_ms\": %.4f, "
              "\"samples_per_s\": %.1f, \"gflops\": %.1f, \"step_gflop\": %.3f, \"peak_rss_mb\": %.1f}\n",
              arch.c_str(), threads, static_cast<long>(b), median * 1e3, double(b) / median, flops / median * 1e-9,
              flops * 1e-9, usage.ru_maxrss / 1024.0);
}
