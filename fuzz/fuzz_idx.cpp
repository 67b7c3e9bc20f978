// libFuzzer target: the IDX reader must turn any bytes, raw or gzipped, into
// a Dataset or a vae::Error; never a crash, a hang, another exception, or an
// allocation far beyond the input's size.
#include <cstdint>
#include <string>

#include <vae/io/idx.hpp>

#include "input_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = vae::fuzz::write_input("idx", data, size);
  if (path.empty()) return 0;
  // The first byte picks the reader, so one corpus covers both.
  try {
    if (size > 0 && data[0] == 0 && size > 3 && data[3] == 1) {
      const auto labels = vae::io::read_idx_labels(path);
      if (labels.empty()) __builtin_trap();
    } else {
      const vae::io::Dataset d = vae::io::read_idx_images(path);
      if (d.pixels.size() != std::size_t(d.size() * d.features())) __builtin_trap();
    }
  } catch (const vae::Error&) {
  }
  return 0;
}
