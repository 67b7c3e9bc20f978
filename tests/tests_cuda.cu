// The CUDA test files as one program of one translation unit, as
// vae_add_test_group does for the C++ files (CMake's UNITY_BUILD does not
// take CUDA sources before CMake 3.31): nvcc then parses the library and
// instantiates what the files share once. Each file keeps its ctest entry,
// which selects its cases with doctest's --source-file (tests/CMakeLists.txt).
#include "doctest_main.cpp"

#include "test_cuda.cu"
#include "test_likelihood_cuda.cu"
#ifdef VAE_TEST_SAFETENSORS_CUDA
#include "test_safetensors_cuda.cu"
#endif
