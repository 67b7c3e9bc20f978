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

# Matrix products: OpenBLAS built for OpenMP, so that its threads are the
# same OpenMP team as the element-wise loops (the pthread build of OpenBLAS
# and OpenMP spin against each other and run several times slower on 2
# cores; docs/performance.md has the numbers). Without it, Eigen's own GEMM.
option(VAE_WITH_BLAS "Use OpenBLAS (OpenMP build) for matrix products" ON)
set(VAE_BLAS_FOUND OFF)
if(VAE_WITH_BLAS)
  find_library(VAE_OPENBLAS_LIBRARY NAMES openblas
               PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp NO_DEFAULT_PATH
               DOC "OpenBLAS built with OpenMP threading")
  find_path(VAE_OPENBLAS_INCLUDE_DIR cblas.h
            PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp NO_DEFAULT_PATH)
  if(VAE_OPENBLAS_LIBRARY AND VAE_OPENBLAS_INCLUDE_DIR)
    set(VAE_BLAS_FOUND ON)
  elseif(NOT CMAKE_FIND_PACKAGE_NAME STREQUAL "vae")
    message(STATUS "vae: OpenBLAS (OpenMP build, Debian: libopenblas-openmp-dev) not found; using Eigen's GEMM")
  endif()
endif()

function(vae_link_dependencies target)
  target_link_libraries(${target} INTERFACE Eigen3::Eigen OpenMP::OpenMP_CXX ZLIB::ZLIB GIF::GIF)
  target_include_directories(${target} SYSTEM INTERFACE "${VAE_STB_INCLUDE_DIR}")
  if(VAE_BLAS_FOUND)
    get_filename_component(blas_dir "${VAE_OPENBLAS_LIBRARY}" DIRECTORY)
    target_compile_definitions(${target} INTERFACE VAE_USE_BLAS VAE_OPENBLAS)
    target_include_directories(${target} SYSTEM INTERFACE "${VAE_OPENBLAS_INCLUDE_DIR}")
    # The soname libopenblas.so.0 would otherwise resolve, through Debian's
    # alternatives, to whichever build is the system default.
    target_link_libraries(${target} INTERFACE "${VAE_OPENBLAS_LIBRARY}" "-Wl,-rpath,${blas_dir}")
  endif()
endfunction()
