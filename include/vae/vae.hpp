#pragma once
// vae: header-only autoencoders and variational autoencoders on Eigen.
// The one header a user includes.

#include "vae/version.hpp"
#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"
#include "vae/core/types.hpp"
#include "vae/backend/backend.hpp"
#include "vae/backend/cpu.hpp"
#include "vae/layers/activations.hpp"
#include "vae/layers/dense.hpp"
#include "vae/losses.hpp"
#include "vae/models/encoder.hpp"
#include "vae/models/variational_encoder.hpp"
#include "vae/models/decoder.hpp"
#include "vae/models/autoencoder.hpp"
#include "vae/models/variational_autoencoder.hpp"
#include "vae/optim/adam.hpp"
