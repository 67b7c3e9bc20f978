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
