// vae_mnist on the GPU: the same training and pictures with vae::Cuda, for
// every --hidden, --latent and --activation (networks shaped at run time),
// compiled into the module vae_mnist_cuda.so (options.hpp, CudaRunner).
#include <vae/vae.hpp>

#include "run.hpp"

namespace examples {
namespace {

void check_cuda_device() {
  if (vae::cuda_device_count() == 0) throw vae::DeviceError("--backend cuda: no CUDA device is present");
}

int run_cuda(const RunOptions& o, const Data& data) {
#if defined(VAE_MNIST_WITH_MPI)
  // Under mpirun, the ranks of one machine spread over its GPUs.
  if (mpi_active())
    vae::detail::cuda_check(cudaSetDevice(vae::mpi::device_for_rank(vae::cuda_device_count())), "cudaSetDevice");
#endif
  return run<vae::Cuda>(o, data);
}

}  // namespace
}  // namespace examples

/// What vae_mnist looks up after loading this module (cuda_module.cpp).
extern "C" __attribute__((visibility("default"))) const examples::CudaRunner* vae_mnist_cuda_runner() {
  static const examples::CudaRunner runner{&examples::run_cuda, &examples::check_cuda_device};
  return &runner;
}
