// libFuzzer target: the IDX reader must turn any bytes, raw or gzipped, into
// a Dataset or a vae::Error; never a crash, a hang, another exception, or an
// allocation far beyond the input's size.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include <vae/io/idx.hpp>

namespace {

std::string temp_path() {
  static const std::string path = "/tmp/vae_fuzz_idx_" + std::to_string(::getpid());
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = temp_path();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
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
