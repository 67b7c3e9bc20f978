#pragma once
// Moved to vae/train/sources.hpp; kept so existing includes work.
#include "vae/train/sources.hpp"
