#pragma once
// A file opened once for reading, in pieces whose sizes the caller has
// checked: the checkpoint and safetensors readers never read more than a
// file's header declares, so a corrupted size or a path such as /dev/zero
// cannot exhaust memory. A regular file's size is known before anything is
// read; a pipe, a FIFO or a device is read as its bytes come.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "vae/core/error.hpp"

namespace vae::io::detail {

class InputFile {
 public:
  /// size() of a file whose size cannot be known before reading it.
  static constexpr std::uint64_t kUnknownSize = std::numeric_limits<std::uint64_t>::max();

  /// Opens `path`; `kind` names what it should hold ("checkpoint",
  /// "safetensors file") in the messages. Throws IoError naming the path and
  /// the reason when it cannot be opened or is a folder.
  InputFile(std::string path, const char* kind) : path_(std::move(path)) {
    do fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    while (fd_ < 0 && errno == EINTR);
    if (fd_ < 0) throw IoError(path_ + ": cannot open the " + kind + " for reading: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      const std::string why = std::strerror(errno);
      ::close(fd_);
      throw IoError(path_ + ": cannot tell what kind of file it is: " + why);
    }
    if (S_ISDIR(st.st_mode)) {
      ::close(fd_);
      throw IoError(path_ + ": is a folder, expected a " + kind);
    }
    if (S_ISREG(st.st_mode)) size_ = static_cast<std::uint64_t>(st.st_size);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile() { ::close(fd_); }

  /// The size of a regular file, or kUnknownSize.
  std::uint64_t size() const { return size_; }
  /// The path, as given.
  const std::string& path() const { return path_; }

  /// Appends up to `n` bytes to `out` in 64 KiB chunks, so that memory grows
  /// only with bytes really there; returns how many were read (fewer at the
  /// end of the file). Throws IoError naming the path and the reason.
  std::uint64_t read_up_to(std::uint64_t n, std::vector<unsigned char>& out) {
    unsigned char chunk[1 << 16];
    std::uint64_t got = 0;
    while (got < n) {
      const ssize_t k = ::read(fd_, chunk, static_cast<std::size_t>(std::min<std::uint64_t>(sizeof chunk, n - got)));
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) throw IoError(path_ + ": read error: " + std::strerror(errno));
      if (k == 0) break;
      out.insert(out.end(), chunk, chunk + k);
      got += static_cast<std::uint64_t>(k);
    }
    return got;
  }

 private:
  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = kUnknownSize;
};

}  // namespace vae::io::detail
