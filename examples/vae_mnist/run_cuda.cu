// vae_mnist on the GPU: the same training and pictures with vae::Cuda, for
// every --hidden, --latent and --activation (networks shaped at run time).
#include <vae/vae.hpp>

#include "run.hpp"

namespace examples {

template int run<vae::Cuda>(const RunOptions&, const Data&);

void check_cuda_device() {
  if (vae::cuda_device_count() == 0) throw vae::DeviceError("--backend cuda: no CUDA device is present");
}

int run_cuda(const RunOptions& o, const Data& data) {
#if defined(VAE_MNIST_WITH_MPI)
  // Under mpirun, the ranks of one machine spread over its GPUs.
  vae::detail::cuda_check(cudaSetDevice(vae::mpi::device_for_rank(vae::cuda_device_count())), "cudaSetDevice");
#endif
  return run<vae::Cuda>(o, data);
}

}  // namespace examples
