// Time of one in-place all-reduce (sum) of the blog VAE's gradient buffer
// (807,700 floats, 3.2 MB) across the ranks of an mpirun, as
// DistributedOptimizer does once per step, and of the failure agreement
// (a 1-int all-reduce) that it runs before it. Prints one JSON line from
// rank 0:
//   mpirun -np 2 build/benchmarks/allreduce [--repeats N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <vae/parallel/mpi.hpp>
#include <vae/vae.hpp>

namespace {

/// Median, 10th and 90th percentile in microseconds of `repeats` calls of f
/// (after 10 unmeasured ones), each started together on every rank.
template <class F>
std::vector<double> percentiles(int repeats, const F& f) {
  std::vector<double> us;
  for (int r = 0; r < repeats + 10; ++r) {
    MPI_Barrier(MPI_COMM_WORLD);
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const auto t1 = std::chrono::steady_clock::now();
    if (r >= 10) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(us.begin(), us.end());
  return {us[us.size() / 2], us[us.size() / 10], us[us.size() * 9 / 10]};
}

}  // namespace

int main(int argc, char** argv) {
  const vae::mpi::Session mpi(&argc, &argv);
  try {
    int repeats = 200;
    for (int i = 1; i + 1 < argc; i += 2)
      if (std::string(argv[i]) == "--repeats") repeats = std::stoi(argv[i + 1]);
    constexpr vae::Index n = vae::VariationalAutoencoder<784, 512, 2>::parameter_count;
    std::vector<float> grads(n, 1.0f), staging;
    const vae::View<float> view = vae::make_view(grads.data(), n, 1);
    const auto sum = percentiles(repeats, [&] { vae::mpi::sum_in_place<vae::Cpu, float>({}, view, staging); });
    const auto agree = percentiles(repeats, [] { vae::mpi::detail::check_peers(MPI_COMM_WORLD); });
    if (vae::mpi::rank() == 0)
      std::printf("{\"name\": \"allreduce\", \"ranks\": %d, \"floats\": %ld, \"megabytes\": %.2f, \"median_us\": %.1f, "
                  "\"p10_us\": %.1f, \"p90_us\": %.1f, \"agreement_median_us\": %.1f, \"agreement_p90_us\": %.1f}\n",
                  vae::mpi::size(), static_cast<long>(n), n * 4.0 / 1e6, sum[0], sum[1], sum[2], agree[0], agree[2]);
    return 0;
  } catch (const std::exception& e) {
    // Inside the Session's scope, so that the message is printed before every rank ends.
    std::fprintf(stderr, "allreduce: %s\n", e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
  }
}
