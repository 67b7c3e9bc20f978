# Finds what vae::vae needs and links it into a target: Eigen3, OpenMP,
# OpenBLAS (OpenMP build) when found, zlib when found. Shared by the build tree
# and by the installed package config (vaeConfig.cmake): a consumer of
# find_package(vae) finds each dependency again on its own machine, and the
# exported targets name imported targets, never a path of the machine that
# built vae. The pictures' dependencies (giflib, stb) are in
# VaeVizDependencies.cmake; vae::vae never needs them.
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

# zlib: gzip-compressed IDX input (vae/data/idx.hpp, compiled in under
# VAE_WITH_ZLIB). Optional when building vae; a package built with it needs it
# (vaeConfig.cmake sets VAE_ZLIB_REQUIRED), because its vae::vae links ZLIB::ZLIB.
if(VAE_ZLIB_REQUIRED)
  _vae_find(ZLIB)
elseif(NOT CMAKE_FIND_PACKAGE_NAME STREQUAL "vae")
  find_package(ZLIB QUIET)
  if(NOT ZLIB_FOUND)
    message(STATUS "vae: zlib not found (Debian: zlib1g-dev); IDX files must be uncompressed")
  endif()
endif()
set(VAE_ZLIB_FOUND ${ZLIB_FOUND})

# Matrix products: OpenBLAS built for OpenMP, so that its threads are the
# same OpenMP team as the element-wise loops (the pthread build of OpenBLAS
# and OpenMP spin against each other and run several times slower on 2
# cores; docs/performance.md has the numbers). Without it, Eigen's own GEMM.
#
# Whatever is found becomes the imported target vae::openblas (empty without
# OpenBLAS), which vae::vae links by name; vaeConfig.cmake recreates it from
# the consumer's own OpenBLAS. There VAE_WITH_BLAS defaults to the build's
# choice; a consumer may set it OFF before find_package(vae) for Eigen's GEMM.
if(NOT CMAKE_FIND_PACKAGE_NAME STREQUAL "vae")
  option(VAE_WITH_BLAS "Use OpenBLAS (OpenMP build) for matrix products" ON)
endif()
set(VAE_BLAS_FOUND OFF)
if(VAE_WITH_BLAS)
  find_library(VAE_OPENBLAS_LIBRARY NAMES openblas
               PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp NO_DEFAULT_PATH
               DOC "OpenBLAS built with OpenMP threading")
  find_path(VAE_OPENBLAS_INCLUDE_DIR cblas.h
            PATHS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp NO_DEFAULT_PATH)
  if(VAE_OPENBLAS_LIBRARY AND VAE_OPENBLAS_INCLUDE_DIR)
    set(VAE_BLAS_FOUND ON)
  elseif(CMAKE_FIND_PACKAGE_NAME STREQUAL "vae")
    set(vae_FOUND FALSE)
    string(CONCAT vae_NOT_FOUND_MESSAGE "vae was built with OpenBLAS (OpenMP build) and this machine has none "
           "(Debian: libopenblas-openmp-dev); install it, or set VAE_WITH_BLAS to OFF before find_package(vae) "
           "to use Eigen's GEMM")
    return()
  else()
    message(STATUS "vae: OpenBLAS (OpenMP build, Debian: libopenblas-openmp-dev) not found; using Eigen's GEMM")
  endif()
endif()
if(NOT TARGET vae::openblas)
  add_library(vae::openblas INTERFACE IMPORTED)
  if(VAE_BLAS_FOUND)
    get_filename_component(_vae_blas_dir "${VAE_OPENBLAS_LIBRARY}" DIRECTORY)
    # The rpath: the soname libopenblas.so.0 would otherwise resolve, through
    # Debian's alternatives, to whichever build is the system default.
    set_target_properties(vae::openblas PROPERTIES
      INTERFACE_COMPILE_DEFINITIONS "VAE_USE_BLAS;VAE_OPENBLAS"
      INTERFACE_INCLUDE_DIRECTORIES "${VAE_OPENBLAS_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES "${VAE_OPENBLAS_LIBRARY}"
      INTERFACE_LINK_OPTIONS "LINKER:-rpath,${_vae_blas_dir}")
  endif()
endif()

function(vae_link_dependencies target)
  target_link_libraries(${target} INTERFACE Eigen3::Eigen OpenMP::OpenMP_CXX vae::openblas)
  if(VAE_ZLIB_FOUND)
    target_link_libraries(${target} INTERFACE ZLIB::ZLIB)
    target_compile_definitions(${target} INTERFACE VAE_WITH_ZLIB)
  endif()
endfunction()
