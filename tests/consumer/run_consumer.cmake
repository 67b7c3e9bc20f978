# Builds and runs the consumer project one way (cmake -P, from ctest):
#   -DMODE=package|subdirectory|fetchcontent|lean_package|lean_subdirectory
#   -DVAE_SOURCE_DIR=... -DVAE_BUILD_DIR=... -DWORK_DIR=... -DWITH_VIZ=ON|OFF
#   [-DWITH_SAFETENSORS=ON|OFF] [-DSTB_DIR=...]
# WITH_VIZ: vae's build has vae::viz; the other modes then draw through it
# too, and the lean modes hide it. WITH_SAFETENSORS: likewise vae::safetensors,
# whose nlohmann/json header the lean modes poison.
# The lean modes configure the consumer as on a machine without giflib and
# stb: find_package(GIF) is disabled, STB_DIR (where vae's build found stb)
# is ignored by every find_path, and poisoned copies of the picture headers
# come first on the include path (tests/consumer/CMakeLists.txt).
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

set(consume ${MODE})
set(lean OFF)
if(MODE MATCHES "^lean_(.*)$")
  set(consume ${CMAKE_MATCH_1})
  set(lean ON)
endif()

# No build type: the consumer compiles without optimisation, a third less time
# than Release; what these tests check is how the library is found, included
# and linked, not its speed. Of the modes that embed vae, fetchcontent and
# lean_subdirectory skip its CUDA check (10 s of configuring each);
# subdirectory runs it, as a consumer's own configure would.
set(args -DVAE_CONSUME=${consume} -DVAE_SOURCE_DIR=${VAE_SOURCE_DIR}
         -DVAE_CONSUMER_VIZ=${WITH_VIZ} -DVAE_CONSUMER_SAFETENSORS=${WITH_SAFETENSORS})
if(MODE STREQUAL "fetchcontent" OR MODE STREQUAL "lean_subdirectory")
  list(APPEND args -DVAE_WITH_CUDA=OFF)
endif()
if(consume STREQUAL "package")
  run(${CMAKE_COMMAND} --install ${VAE_BUILD_DIR} --prefix ${WORK_DIR}/prefix)
  list(APPEND args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
  # The vae tool is installed with the package (where the examples are built).
  if(EXISTS ${VAE_BUILD_DIR}/examples/vae)
    run(${WORK_DIR}/prefix/bin/vae info --help)
  endif()
  # The exported targets name their dependencies (vae::openblas, GIF::GIF,
  # ...), found again on the consumer's machine: no absolute path of this one.
  file(GLOB_RECURSE exports ${WORK_DIR}/prefix/*Targets.cmake)
  foreach(export ${exports})
    file(STRINGS ${export} absolute REGEX "INTERFACE_[A-Z_]+ \"([^\"]*;)?/")
    if(absolute)
      message(FATAL_ERROR "${export} holds an absolute path of the build machine:\n${absolute}")
    endif()
  endforeach()
  file(GLOB_RECURSE viz_export ${WORK_DIR}/prefix/*/vaeVizTargets.cmake)
  if(lean AND WITH_VIZ AND NOT viz_export)
    message(FATAL_ERROR "the installed vae has no vae::viz (vaeVizTargets.cmake); the lean test needs one to hide")
  endif()
endif()
if(lean)
  set(poison ${WORK_DIR}/poison)
  # nlohmann/json belongs to vae::safetensors: the core must not include it either.
  foreach(header gif_lib.h stb_image_write.h stb_easy_font.h nlohmann/json.hpp)
    file(WRITE ${poison}/${header}
         "#error \"${header} included by a consumer of vae::vae alone; only vae/viz/ and vae::safetensors may include it\"\n")
  endforeach()
  list(APPEND args -DVAE_CONSUMER_LEAN=ON -DVAE_CONSUMER_POISON_DIR=${poison} -DCMAKE_DISABLE_FIND_PACKAGE_GIF=TRUE
       -DVAE_STB_INCLUDE_DIR=VAE_STB_INCLUDE_DIR-NOTFOUND)
  if(STB_DIR)
    list(APPEND args "-DCMAKE_IGNORE_PATH=${STB_DIR}")
  endif()
endif()
run(${CMAKE_COMMAND} -S ${VAE_SOURCE_DIR}/tests/consumer -B ${WORK_DIR}/build ${args})
if(lean AND consume STREQUAL "subdirectory" AND NOT last_output MATCHES "vae::viz[^\n]*off")
  message(FATAL_ERROR "the embedded vae did not report vae::viz off:\n${last_output}")
endif()
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
message(STATUS "${last_output}")
if(WITH_VIZ AND NOT lean)
  run(${WORK_DIR}/build/consumer_viz ${WORK_DIR})
  message(STATUS "${last_output}")
endif()
if(WITH_SAFETENSORS AND NOT lean)
  run(${WORK_DIR}/build/consumer_safetensors ${WORK_DIR})
  message(STATUS "${last_output}")
endif()
if(consume STREQUAL "subdirectory" OR consume STREQUAL "fetchcontent")
  # Embedded, vae must not build its own tests, examples or benchmarks.
  if(EXISTS ${WORK_DIR}/build/vae-build/tests OR EXISTS ${WORK_DIR}/build/_deps/vae-build/tests)
    message(FATAL_ERROR "embedded vae configured its tests; they must default OFF when vae is not top level")
  endif()
endif()
