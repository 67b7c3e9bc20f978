# Finds what vae::vae needs and links it into a target. Shared by the build
# tree and by the installed package config (vaeConfig.cmake), so a consumer of
# find_package(vae) gets exactly the dependencies the build had.
include(GNUInstallDirs)
include(CMakeFindDependencyMacro)

macro(_vae_find name)
  if(CMAKE_FIND_PACKAGE_NAME STREQUAL "vae")
    find_dependency(${name} ${ARGN})
  else()
    find_package(${name} ${ARGN} REQUIRED)
  endif()
endmacro()

_vae_find(Eigen3 3.4 NO_MODULE)
_vae_find(OpenMP COMPONENTS CXX)
_vae_find(ZLIB)
_vae_find(GIF)

# stb ships headers only (Debian: libstb-dev, /usr/include/stb).
find_path(VAE_STB_INCLUDE_DIR stb_image_write.h PATH_SUFFIXES stb
          DOC "Directory holding stb_image_write.h and stb_easy_font.h")
if(NOT VAE_STB_INCLUDE_DIR)
  message(FATAL_ERROR "vae: stb_image_write.h not found (Debian package libstb-dev); "
                      "set VAE_STB_INCLUDE_DIR to the folder that holds it")
endif()

function(vae_link_dependencies target)
  target_link_libraries(${target} INTERFACE Eigen3::Eigen OpenMP::OpenMP_CXX ZLIB::ZLIB GIF::GIF)
  target_include_directories(${target} SYSTEM INTERFACE "${VAE_STB_INCLUDE_DIR}")
endfunction()
