# Builds and runs the consumer project one way (cmake -P, from ctest):
#   -DMODE=package|subdirectory|fetchcontent -DVAE_SOURCE_DIR=... -DVAE_BUILD_DIR=... -DWORK_DIR=...
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "command failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

set(args -DVAE_CONSUME=${MODE} -DVAE_SOURCE_DIR=${VAE_SOURCE_DIR} -DCMAKE_BUILD_TYPE=Release)
if(MODE STREQUAL "package")
  run(${CMAKE_COMMAND} --install ${VAE_BUILD_DIR} --prefix ${WORK_DIR}/prefix)
  list(APPEND args -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
endif()
run(${CMAKE_COMMAND} -S ${VAE_SOURCE_DIR}/tests/consumer -B ${WORK_DIR}/build ${args})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
message(STATUS "${last_output}")
if(MODE STREQUAL "subdirectory" OR MODE STREQUAL "fetchcontent")
  # Embedded, vae must not build its own tests, examples or benchmarks.
  if(EXISTS ${WORK_DIR}/build/vae-build/tests OR EXISTS ${WORK_DIR}/build/_deps/vae-build/tests)
    message(FATAL_ERROR "embedded vae configured its tests; they must default OFF when vae is not top level")
  endif()
endif()
