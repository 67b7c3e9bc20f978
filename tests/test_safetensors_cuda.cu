// Safetensors with the CUDA backend: weights saved from a vae::Cuda model load
// bit for bit into a vae::Cpu model and back, and both compute the same
// reconstructions. Needs a GPU; without one, prints "no CUDA device: skipping"
// and ctest reports the test as skipped.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <vae/io/safetensors.hpp>
#include <vae/vae.hpp>

namespace test_safetensors_cuda {

namespace {

template <class B>
using Model = vae::MlpVae<vae::Layers<64, 32, 16, 4>, vae::Tanh, float, B>;

std::string temp_path(const char* name) {
  return (std::filesystem::temp_directory_path() / (std::string("vae_safetensors_cuda_") + name)).string();
}

}  // namespace

TEST_CASE("a GPU model's weights load into a CPU model and back, bit for bit") {
  if (vae::cuda_device_count() == 0) {
    std::printf("no CUDA device: skipping the safetensors round trips through vae::Cuda\n");
    return;
  }
  const Model<vae::Cuda> gpu(3);
  Model<vae::Cpu> cpu(4);
  const std::string from_gpu = temp_path("from_gpu.safetensors"), from_cpu = temp_path("from_cpu.safetensors");
  vae::io::save_safetensors(gpu, from_gpu);
  vae::io::load_safetensors(from_gpu, cpu);
  CHECK(cpu.parameters_host() == gpu.parameters_host());

  Model<vae::Cpu> other(5);
  vae::io::save_safetensors(other, from_cpu);
  Model<vae::Cuda> back(6);
  vae::io::load_safetensors(from_cpu, back);
  CHECK(back.parameters_host() == other.parameters_host());

  const vae::Matrix<float> x = (vae::Matrix<float>::Random(64, 16).array() + 1) / 2;
  CHECK((back.reconstruct(x) - other.reconstruct(x)).cwiseAbs().maxCoeff() < 1e-5f);
  // A refused load leaves the device parameters as they were.
  const auto before = back.parameters_host();
  vae::VariationalAutoencoder<64, 32, 4> wrong(1);
  vae::io::save_safetensors(wrong, from_cpu);
  CHECK_THROWS_AS(vae::io::load_safetensors(from_cpu, back), vae::FormatError);
  CHECK(back.parameters_host() == before);
  std::filesystem::remove(from_gpu);
  std::filesystem::remove(from_cpu);
}

}  // namespace test_safetensors_cuda
