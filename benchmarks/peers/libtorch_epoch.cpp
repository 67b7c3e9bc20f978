// Timing peer: one training epoch of the blog's VAE (784-512-2, batch 128, Adam) in libtorch.
//
// Same protocol as torch_epoch.py: the 60,000 MNIST training images are loaded
// as float32 (pixels / 255) and permuted once with a fixed seed before timing;
// batch i is the slice [128 i, 128 i + 128) of the permuted tensor.  Five
// warm-up steps on a throw-away model run before the clock starts.  Then the
// single-sample encode latency (mean head only, NoGradGuard) is the median over
// 2000 calls.  Prints exactly one JSON line on stdout; diagnostics go to stderr.
//
//   cmake -S benchmarks/peers -B build-peers -DCMAKE_BUILD_TYPE=Release
//   cmake --build build-peers && build-peers/libtorch_epoch --threads 1
//
// --threads N sets at::set_num_threads(N) and, by default, OpenBLAS's own
// thread pool too (Debian's libtorch does its sgemm in OpenBLAS, whose pthread
// pool ignores at::set_num_threads); --blas-threads overrides the latter.
// This is a peer program, not part of the vae library.

#include <torch/torch.h>

#include <dlfcn.h>
#include <sys/resource.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// Reads an IDX file of unsigned bytes; zlib's gzread also reads uncompressed
// files, so `path` or `path.gz` both work.
std::vector<uint8_t> read_idx(std::string path, std::vector<int64_t>& shape) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) f = gzopen((path + ".gz").c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path);
  auto read = [&](void* dst, unsigned n) {
    if (gzread(f, dst, n) != static_cast<int>(n)) throw std::runtime_error("short read in " + path);
  };
  uint8_t magic[4];
  read(magic, 4);
  if (magic[2] != 0x08) throw std::runtime_error(path + ": not an unsigned-byte IDX file");
  size_t count = 1;
  shape.assign(magic[3], 0);
  for (auto& d : shape) {
    uint8_t b[4];
    read(b, 4);
    d = (int64_t(b[0]) << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    count *= size_t(d);
  }
  std::vector<uint8_t> data(count);
  read(data.data(), unsigned(count));
  gzclose(f);
  return data;
}

// The blog's VariationalEncoder + Decoder with the blog's KL.
struct VAEImpl : torch::nn::Module {
  torch::nn::Linear linear1{784, 512}, linear2{512, 2}, linear3{512, 2};  // encoder, mu, log sigma
  torch::nn::Linear dec1{2, 512}, dec2{512, 784};

  VAEImpl() {
    register_module("linear1", linear1);
    register_module("linear2", linear2);
    register_module("linear3", linear3);
    register_module("dec1", dec1);
    register_module("dec2", dec2);
  }
  torch::Tensor encode_mean(const torch::Tensor& x) { return linear2(torch::relu(linear1(x))); }
  torch::Tensor loss(const torch::Tensor& x) {
    auto h = torch::relu(linear1(x));
    auto mu = linear2(h);
    auto sigma = torch::exp(linear3(h));
    auto z = mu + sigma * torch::randn_like(mu);
    auto kl = (sigma.pow(2) + mu.pow(2) - torch::log(sigma) - 0.5).sum();
    auto x_hat = torch::sigmoid(dec2(torch::relu(dec1(z))));
    return (x - x_hat).pow(2).sum() + kl;
  }
};
TORCH_MODULE(VAE);

double train_steps(VAE& model, torch::optim::Adam& opt, const torch::Tensor& data, int64_t batch,
                   int64_t steps = -1) {
  auto total = torch::zeros({});
  const int64_t n = data.size(0);
  for (int64_t i = 0, step = 0; i < n && step != steps; i += batch, ++step) {
    opt.zero_grad();
    auto loss = model->loss(data.slice(0, i, std::min(i + batch, n)));
    loss.backward();
    opt.step();
    total += loss.detach();
  }
  return total.item<double>();
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, blas_threads = 0, warmup = 5, latency_calls = 2000;
  int64_t batch = 128, seed = 0;
  std::string data_dir = "data/mnist";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--threads") threads = std::stoi(next());
    else if (a == "--blas-threads") blas_threads = std::stoi(next());
    else if (a == "--data") data_dir = next();
    else if (a == "--batch") batch = std::stoll(next());
    else if (a == "--seed") seed = std::stoll(next());
    else if (a == "--warmup") warmup = std::stoi(next());
    else if (a == "--latency-calls") latency_calls = std::stoi(next());
    else {
      std::fprintf(stderr,
                   "usage: %s [--threads N] [--blas-threads N] [--data DIR] [--batch B] [--seed S]"
                   " [--warmup STEPS] [--latency-calls N]\n", argv[0]);
      return 2;
    }
  }
  if (blas_threads <= 0) blas_threads = threads;

  at::set_num_threads(threads);
  std::string blas_info = "no OpenBLAS loaded";
  using set_fn = void (*)(int);
  using get_fn = int (*)();
  using name_fn = char* (*)();
  if (auto set = reinterpret_cast<set_fn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    set(blas_threads);
    auto get = reinterpret_cast<get_fn>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    auto name = reinterpret_cast<name_fn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
    blas_info = std::string("OpenBLAS ") + (name ? name() : "?") + " x" + std::to_string(get ? get() : -1);
  }
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  std::fprintf(stderr, "libtorch: %d intra-op threads, %s, OMP_WAIT_POLICY=%s\n", at::get_num_threads(),
               blas_info.c_str(), wait ? wait : "");

  std::vector<int64_t> shape;
  auto pixels = read_idx(data_dir + "/train-images-idx3-ubyte", shape);
  const int64_t n = shape.at(0);
  // Permute the bytes, then convert once: a single float32 copy of the data set is held.
  auto images = torch::from_blob(pixels.data(), {n, 784}, torch::kUInt8);
  auto gen = at::detail::createCPUGenerator(uint64_t(seed));
  auto data = images.index_select(0, torch::randperm(n, gen, torch::kLong)).to(torch::kFloat32).div_(255.0);
  auto x0 = images.slice(0, 0, 1).to(torch::kFloat32).div_(255.0);  // the latency probe: the first image
  images = torch::Tensor();
  std::vector<uint8_t>().swap(pixels);

  torch::manual_seed(uint64_t(seed));
  VAE model;
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
  {
    VAE scratch;  // warm-up on a throw-away model: the timed epoch starts from the fresh init
    torch::optim::Adam scratch_opt(scratch->parameters(), torch::optim::AdamOptions(1e-3));
    train_steps(scratch, scratch_opt, data, batch, warmup);
  }

  auto t0 = std::chrono::steady_clock::now();
  double total = train_steps(model, opt, data, batch);
  double epoch_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::vector<double> times;
  {
    torch::NoGradGuard no_grad;
    for (int i = 0; i < 200 + latency_calls; ++i) {
      auto t = std::chrono::steady_clock::now();
      auto z = model->encode_mean(x0);
      double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t).count();
      if (i >= 200) times.push_back(us);
    }
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  double latency_us = times.empty() ? 0.0 : times[times.size() / 2];

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("{\"name\": \"libtorch\", \"threads\": %d, \"samples_per_s\": %.1f, \"epoch_s\": %.4f, "
              "\"peak_rss_mb\": %.1f, \"encode_latency_us\": %.2f, \"final_loss\": %.4f}\n",
              threads, double(n) / epoch_s, epoch_s, ru.ru_maxrss / 1024.0, latency_us, total / double(n));
  return 0;
}
