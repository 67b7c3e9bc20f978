#pragma once
// Moved to vae/data/idx.hpp; kept so existing includes work.
#include "vae/data/idx.hpp"
