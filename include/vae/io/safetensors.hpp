#pragma once
// Weights in the safetensors format, under PyTorch's names (docs/weights.md).
// Needs nlohmann/json: link the target vae::safetensors.
#include "vae/serialization/safetensors.hpp"
