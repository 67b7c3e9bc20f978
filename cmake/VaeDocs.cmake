# The API reference: target vae_docs runs Doxygen over include/vae/ with
# docs/Doxyfile.in, writing HTML into <build>/docs/api/html. Warnings
# (an undocumented public name, a broken comment) fail it. Added only when
# doxygen is found (Debian: doxygen); never part of the default build.
find_package(Doxygen QUIET COMPONENTS doxygen)
if(NOT DOXYGEN_FOUND)
  message(STATUS "vae: API reference (vae_docs) off: doxygen not found")
  return()
endif()

set(VAE_DOCS_OUTPUT_DIR ${PROJECT_BINARY_DIR}/docs/api)
configure_file(${PROJECT_SOURCE_DIR}/docs/Doxyfile.in ${PROJECT_BINARY_DIR}/docs/Doxyfile @ONLY)
add_custom_target(vae_docs
  COMMAND Doxygen::doxygen ${PROJECT_BINARY_DIR}/docs/Doxyfile
  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
  COMMENT "vae: API reference into ${VAE_DOCS_OUTPUT_DIR}/html"
  VERBATIM)
