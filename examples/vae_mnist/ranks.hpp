// vae_mnist's processes: one, or several under mpirun when built with
// vae::mpi (data-parallel training; rank 0 alone writes files and reports).
#pragma once

#include <exception>
#include <iostream>

#if defined(VAE_MNIST_WITH_MPI)
#include <vae/parallel/mpi.hpp>
#endif

namespace examples {

/// Whether MPI runs: main's Session starts it only under an MPI launcher.
inline bool mpi_active() {
#if defined(VAE_MNIST_WITH_MPI)
  int done = 0;
  MPI_Initialized(&done);
  return done != 0;
#else
  return false;
#endif
}

/// This process's rank and the number of processes training together.
inline int world_rank() {
#if defined(VAE_MNIST_WITH_MPI)
  if (mpi_active()) return vae::mpi::rank();
#endif
  return 0;
}
inline int world_size() {
#if defined(VAE_MNIST_WITH_MPI)
  if (mpi_active()) return vae::mpi::size();
#endif
  return 1;
}
/// Rank 0 writes checkpoints, pictures and metrics and prints the results.
inline bool lead_rank() { return world_rank() == 0; }

/// The end of a failed run: prints the error and returns the exit status, 1.
/// With more than one process it ends them all (MPI_Abort) instead: the
/// others would wait for this one forever in their next collective call.
inline int fail(const std::exception& e) {
#if defined(VAE_MNIST_WITH_MPI)
  if (world_size() > 1) {
    std::cerr << "vae_mnist: error on rank " << world_rank() << " of " << world_size() << ": " << e.what() << std::endl;
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
#endif
  std::cerr << "vae_mnist: error: " << e.what() << "\n";
  return 1;
}

}  // namespace examples
