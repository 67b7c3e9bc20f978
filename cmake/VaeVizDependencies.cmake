# Finds what vae::viz (the pictures: include/vae/viz/) needs beyond vae::vae:
# giflib (GIF::GIF) and the stb headers, wrapped in the imported target
# vae::stb. Sets VAE_VIZ_FOUND, and VAE_VIZ_MISSING to what was not found.
# Shared by the build tree (when VAE_WITH_VIZ is ON) and the installed package
# config, which includes it only when vae::viz was built. A missing dependency
# is not an error: vae::vae never needs it. In the package config, a consumer
# that asks for the component (find_package(vae COMPONENTS viz)) gets
# find_dependency's error instead.
set(VAE_VIZ_MISSING "")

if(CMAKE_FIND_PACKAGE_NAME STREQUAL "vae" AND vae_FIND_REQUIRED_viz)
  find_dependency(GIF)
else()
  find_package(GIF QUIET)
endif()
if(NOT GIF_FOUND)
  list(APPEND VAE_VIZ_MISSING "giflib (Debian: libgif-dev)")
endif()

# stb ships headers only (Debian: libstb-dev, /usr/include/stb).
find_path(VAE_STB_INCLUDE_DIR stb_image_write.h PATH_SUFFIXES stb
          DOC "Directory holding stb_image_write.h and stb_easy_font.h")
if(NOT VAE_STB_INCLUDE_DIR)
  list(APPEND VAE_VIZ_MISSING "stb_image_write.h (Debian: libstb-dev; or set VAE_STB_INCLUDE_DIR)")
elseif(NOT TARGET vae::stb)
  add_library(vae::stb INTERFACE IMPORTED)
  set_target_properties(vae::stb PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${VAE_STB_INCLUDE_DIR}")
endif()

if(VAE_VIZ_MISSING)
  set(VAE_VIZ_FOUND FALSE)
else()
  set(VAE_VIZ_FOUND TRUE)
endif()
