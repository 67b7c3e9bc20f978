# Install rules: headers, the exported vae::vae target and a package config
# so that consumers can write find_package(vae CONFIG REQUIRED).
include(CMakePackageConfigHelpers)

install(TARGETS vae EXPORT vaeTargets)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/vae DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT vaeTargets NAMESPACE vae:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vae)
# vae::viz (the pictures), in an export set of its own that vaeConfig.cmake
# loads only where giflib and stb are found.
if(TARGET vae_viz)
  install(TARGETS vae_viz EXPORT vaeVizTargets)
  install(EXPORT vaeVizTargets NAMESPACE vae:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vae)
endif()
# vae::safetensors, likewise loaded only where nlohmann_json is found.
if(TARGET vae_safetensors)
  install(TARGETS vae_safetensors EXPORT vaeSafetensorsTargets)
  install(EXPORT vaeSafetensorsTargets NAMESPACE vae:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vae)
endif()
# vae::mpi, likewise loaded only where MPI is found.
if(TARGET vae_mpi)
  install(TARGETS vae_mpi EXPORT vaeMpiTargets)
  install(EXPORT vaeMpiTargets NAMESPACE vae:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vae)
endif()
# vae::cuda, in an export set of its own that vaeConfig.cmake loads only
# where the CUDA toolkit is found, so consumers without CUDA may ignore it.
if(TARGET vae_cuda)
  install(TARGETS vae_cuda EXPORT vaeCudaTargets)
  install(EXPORT vaeCudaTargets NAMESPACE vae:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vae)
endif()

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/vaeConfig.cmake.in
  ${PROJECT_BINARY_DIR}/vaeConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vae)
# Header-only: any architecture may use it.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/vaeConfigVersion.cmake
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${PROJECT_BINARY_DIR}/vaeConfig.cmake ${PROJECT_BINARY_DIR}/vaeConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/VaeDependencies.cmake
              ${PROJECT_SOURCE_DIR}/cmake/VaeVizDependencies.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vae)

# vae.pc, for pkg-config users (Make, Meson): the flags vae::vae carries,
# written out for this build. Cflags: the include folder, Eigen (Requires:
# eigen3), OpenMP, and the definitions vae::vae sets (VAE_USE_BLAS and
# VAE_OPENBLAS with OpenBLAS, VAE_WITH_ZLIB with zlib) with OpenBLAS's include
# folder. Libs: OpenMP, then OpenBLAS and zlib when this build has them, by
# path (with an rpath) unless they lie in the compiler's own search path.
# tests/consumer/pkgconfig.sh builds a program with these flags alone.
function(_vae_pc_link_flags out library)
  get_filename_component(dir "${library}" DIRECTORY)
  get_filename_component(name "${library}" NAME_WE)
  string(REGEX REPLACE "^lib" "" name "${name}")
  if(dir IN_LIST CMAKE_CXX_IMPLICIT_LINK_DIRECTORIES)
    set(${out} "-l${name}" PARENT_SCOPE)
  else()
    set(${out} "-Wl,-rpath,${dir} ${library}" PARENT_SCOPE)
  endif()
endfunction()

set(VAE_PC_CFLAGS "${OpenMP_CXX_FLAGS}")
set(VAE_PC_LIBS "${OpenMP_CXX_FLAGS}")
if(VAE_BLAS_FOUND)
  string(APPEND VAE_PC_CFLAGS " -DVAE_USE_BLAS -DVAE_OPENBLAS -I${VAE_OPENBLAS_INCLUDE_DIR}")
  _vae_pc_link_flags(_vae_pc_blas "${VAE_OPENBLAS_LIBRARY}")
  string(APPEND VAE_PC_LIBS " ${_vae_pc_blas}")
endif()
if(VAE_ZLIB_FOUND)
  string(APPEND VAE_PC_CFLAGS " -DVAE_WITH_ZLIB")
  foreach(_vae_dir ${ZLIB_INCLUDE_DIRS})
    if(NOT _vae_dir IN_LIST CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES)
      string(APPEND VAE_PC_CFLAGS " -I${_vae_dir}")
    endif()
  endforeach()
  foreach(_vae_lib ${ZLIB_LIBRARIES})
    _vae_pc_link_flags(_vae_pc_zlib "${_vae_lib}")
    string(APPEND VAE_PC_LIBS " ${_vae_pc_zlib}")
  endforeach()
endif()
# Relocatable: the prefix is found from the folder the .pc file is in.
set(VAE_PC_DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
if(IS_ABSOLUTE "${VAE_PC_DESTINATION}")
  set(VAE_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH _vae_up "/${VAE_PC_DESTINATION}" "/")
  string(REGEX REPLACE "/$" "" _vae_up "${_vae_up}")
  set(VAE_PC_PREFIX "\${pcfiledir}/${_vae_up}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(VAE_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(VAE_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/vae.pc.in ${PROJECT_BINARY_DIR}/vae.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/vae.pc DESTINATION ${VAE_PC_DESTINATION})
