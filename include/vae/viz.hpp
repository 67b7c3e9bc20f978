#pragma once
// vae::viz: the pictures. PNG output (stb_image_write), animated GIFs
// (giflib), matplotlib-style figures (stb_easy_font text) and the principal
// plane that shows a latent space of any size in two dimensions. Link the
// CMake target vae::viz; vae::vae alone never needs giflib or stb.

#include "vae/viz/image.hpp"
#include "vae/viz/gif.hpp"
#include "vae/viz/plot.hpp"
#include "vae/viz/projection.hpp"
