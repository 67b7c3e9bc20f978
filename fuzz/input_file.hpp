#pragma once
// The readers under test take paths, so each fuzz input is written to a file
// of this process first.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace vae::fuzz {

/// Writes data to /tmp/vae_fuzz_<name>_<pid>; returns the path, or "" if the
/// file could not be written (the input is then skipped).
inline std::string write_input(const char* name, const std::uint8_t* data, std::size_t size) {
  static const std::string path = std::string("/tmp/vae_fuzz_") + name + "_" + std::to_string(::getpid());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return "";
  const bool ok = std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && ok ? path : "";
}

}  // namespace vae::fuzz
