#pragma once
// Moved to vae/serialization/atomic_file.hpp; kept so existing includes work.
#include "vae/serialization/atomic_file.hpp"
