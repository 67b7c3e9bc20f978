#pragma once
// vae: header-only autoencoders and variational autoencoders on Eigen.
// The one header a user includes: the core (models, layers, losses,
// optimizer, training, data input, checkpoints) with no dependency beyond
// Eigen, OpenMP and, when found, OpenBLAS and zlib. Pictures (PNG, GIF,
// plots) are in vae/viz.hpp, target vae::viz; weights as safetensors
// (PyTorch's names) in vae/io/safetensors.hpp, target vae::safetensors.

#include "vae/version.hpp"
#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"
#include "vae/core/types.hpp"
#include "vae/core/elementwise.hpp"
#include "vae/backend/backend.hpp"
#include "vae/backend/cpu.hpp"
#if defined(VAE_WITH_CUDA) && defined(__CUDACC__)
#include "vae/backend/cuda.hpp"  // vae::Cuda: nvcc and the vae::cuda target (docs/cuda.md)
#endif
#include "vae/layers/activations.hpp"
#include "vae/layers/dense.hpp"
#include "vae/layers/conv.hpp"
#include "vae/layers/latent.hpp"
#include "vae/layers/layer_sizes.hpp"
#include "vae/losses.hpp"
#include "vae/models/encoder.hpp"
#include "vae/models/variational_encoder.hpp"
#include "vae/models/decoder.hpp"
#include "vae/models/autoencoder.hpp"
#include "vae/models/variational_autoencoder.hpp"
#include "vae/models/conditional_variational_autoencoder.hpp"
#include "vae/models/dynamic.hpp"
#include "vae/models/sequential.hpp"
#include "vae/models/stack.hpp"
#include "vae/models/initialize.hpp"
#include "vae/optim/adam.hpp"
#include "vae/optim/schedule.hpp"
#include "vae/data/idx.hpp"
#include "vae/data/statistics.hpp"
#include "vae/data/table.hpp"
#include "vae/serialization/atomic_file.hpp"
#include "vae/serialization/checkpoint.hpp"
#include "vae/train/sources.hpp"
#include "vae/train/binarize.hpp"
#include "vae/train/progress.hpp"
#include "vae/train/trainer.hpp"
#include "vae/train/resume.hpp"
