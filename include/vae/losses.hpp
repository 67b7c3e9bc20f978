#pragma once
// Every loss of the library: the run-time objective (losses/objective.hpp),
// the reconstruction losses and the KL forms, each formula written once.

#include "vae/losses/importance.hpp"
#include "vae/losses/kl.hpp"
#include "vae/losses/objective.hpp"
#include "vae/losses/reconstruction.hpp"
