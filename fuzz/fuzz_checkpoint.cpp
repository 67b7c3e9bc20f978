// libFuzzer target: loading any bytes as a checkpoint either succeeds with a
// finite model or throws vae::Error, and a failed load leaves the model as
// it was.
#include <cmath>
#include <cstdint>
#include <string>

#include <vae/io/checkpoint.hpp>
#include <vae/vae.hpp>

#include "input_file.hpp"
#include "printable_message.hpp"

namespace {
using Model = vae::VariationalAutoencoder<16, 8, 2>;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = vae::fuzz::write_input("ckpt", data, size);
  if (path.empty()) return 0;
  static Model model(1);
  static vae::Adam<float> optimizer;
  const Eigen::VectorXf before = model.parameters_host();
  vae::io::TrainingPosition position;
  try {
    // With and without the optional parts, as a program would ask.
    vae::io::load_checkpoint(path, model, &optimizer, &position);
    if (!model.parameters_host().allFinite()) __builtin_trap();
  } catch (const vae::Error& e) {
    vae::fuzz::require_printable(e.what());
    if (model.parameters_host() != before) __builtin_trap();  // a failed load changed the model
  }
  try {
    vae::io::load_checkpoint(path, model);
  } catch (const vae::Error& e) {
    vae::fuzz::require_printable(e.what());
  }
  try {
    vae::DataStatistics data;
    vae::io::load_checkpoint(path, model, nullptr, nullptr, &data);
    for (const double s : data.scale)
      if (!(s > 0) || !std::isfinite(s)) __builtin_trap();  // a scale the reader should have refused
  } catch (const vae::Error& e) {
    vae::fuzz::require_printable(e.what());
  }
  return 0;
}
