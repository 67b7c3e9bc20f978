// vae_mnist's processes: one, or several under mpirun when built with
// vae::mpi (data-parallel training; rank 0 alone writes files and reports).
#pragma once

#if defined(VAE_MNIST_WITH_MPI)
#include <vae/parallel/mpi.hpp>
#endif

namespace examples {

/// This process's rank and the number of processes training together.
inline int world_rank() {
#if defined(VAE_MNIST_WITH_MPI)
  return vae::mpi::rank();
#else
  return 0;
#endif
}
inline int world_size() {
#if defined(VAE_MNIST_WITH_MPI)
  return vae::mpi::size();
#else
  return 1;
#endif
}
/// Rank 0 writes checkpoints, pictures and metrics and prints the results.
inline bool lead_rank() { return world_rank() == 0; }

}  // namespace examples
