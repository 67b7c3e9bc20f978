#pragma once
// vae: header-only autoencoders and variational autoencoders on Eigen.
// The one header a user includes.

#include "vae/version.hpp"
#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"
#include "vae/core/types.hpp"
#include "vae/backend/backend.hpp"
#include "vae/backend/cpu.hpp"
#if defined(VAE_WITH_CUDA) && defined(__CUDACC__)
#include "vae/backend/cuda.hpp"  // vae::Cuda: nvcc and the vae::cuda target (docs/cuda.md)
#endif
#include "vae/layers/activations.hpp"
#include "vae/layers/dense.hpp"
#include "vae/losses.hpp"
#include "vae/models/encoder.hpp"
#include "vae/models/variational_encoder.hpp"
#include "vae/models/decoder.hpp"
#include "vae/models/autoencoder.hpp"
#include "vae/models/variational_autoencoder.hpp"
#include "vae/optim/adam.hpp"
#include "vae/io/atomic_file.hpp"
#include "vae/io/idx.hpp"
#include "vae/io/checkpoint.hpp"
#include "vae/train/batcher.hpp"
#include "vae/train/progress.hpp"
#include "vae/train/trainer.hpp"
#include "vae/io/image.hpp"
#include "vae/io/gif.hpp"
#include "vae/io/plot.hpp"
