#pragma once
// Moved to vae/serialization/checkpoint.hpp; kept so existing includes work.
#include "vae/serialization/checkpoint.hpp"
