#pragma once
// A fresh folder per test program and prefix, removed when the program exits.

#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <system_error>

namespace vae::test {

inline std::filesystem::path temp_dir(const std::string& prefix) {
  struct Owned {
    std::filesystem::path path;
    explicit Owned(const std::string& p)
        : path(std::filesystem::temp_directory_path() / (p + "_" + std::to_string(::getpid()))) {
      std::filesystem::remove_all(path);
      std::filesystem::create_directories(path);
    }
    ~Owned() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static std::map<std::string, Owned> dirs;
  return dirs.try_emplace(prefix, prefix).first->second.path;
}

}  // namespace vae::test
