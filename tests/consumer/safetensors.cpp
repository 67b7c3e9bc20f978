// Saves a model's weights as safetensors and loads them back through
// vae::safetensors; the consumer tests check that the installed or embedded
// vae brings nlohmann/json along. Usage: consumer_safetensors FOLDER
#include <cstdio>
#include <string>

#include <vae/io/safetensors.hpp>
#include <vae/vae.hpp>

int main(int argc, char** argv) {
  const std::string path = std::string(argc > 1 ? argv[1] : ".") + "/consumer.safetensors";
  const vae::VariationalAutoencoder<32, 16, 2> saved(1);
  vae::VariationalAutoencoder<32, 16, 2> loaded(2);
  vae::io::save_safetensors(saved, path);
  vae::io::load_safetensors(path, loaded);
  const bool same = saved.parameters_host() == loaded.parameters_host();
  std::printf("consumer: safetensors round trip of %zu tensors %s\n", vae::io::read_safetensors_header(path).tensors.size(),
              same ? "exact" : "DIFFERS");
  return same ? 0 : 1;
}
