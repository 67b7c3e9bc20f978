// Loads vae_mnist's --backend cuda from its module, vae_mnist_cuda.so in the
// program's folder (options.hpp, CudaRunner).
#include <dlfcn.h>

#include <filesystem>
#include <string>

#include <vae/core/error.hpp>

#include "options.hpp"

namespace examples {

const CudaRunner& cuda_runner() {
  static const CudaRunner* const runner = [] {
    namespace fs = std::filesystem;
    std::error_code error;
    const fs::path program = fs::read_symlink("/proc/self/exe", error);
    const fs::path module = (error ? fs::path(".") : program.parent_path()) / VAE_MNIST_CUDA_MODULE;
    void* handle = ::dlopen(module.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr)
      throw vae::DeviceError("--backend cuda: cannot load " + module.string() + ": " + ::dlerror());
    using Get = const CudaRunner* (*)();
    const auto get = reinterpret_cast<Get>(::dlsym(handle, "vae_mnist_cuda_runner"));
    if (get == nullptr)
      throw vae::DeviceError("--backend cuda: " + module.string() + " has no vae_mnist_cuda_runner: not a module of "
                             "this vae_mnist");
    return get();
  }();
  return *runner;
}

}  // namespace examples
