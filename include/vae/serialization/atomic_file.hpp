#pragma once
// Writing a file so that readers see either the old contents or the complete
// new ones, never a half-written file: the bytes go to a temporary file in the
// same folder, which is flushed to disk (fsync) and then renamed over the
// target (rename is atomic within a file system). On any failure the
// temporary file is removed and IoError names the target path.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "vae/core/error.hpp"

namespace vae::io {

class AtomicFile {
 public:
  /// Opens a temporary file beside `path` for writing.
  explicit AtomicFile(std::string path) : path_(std::move(path)), temp_(path_ + ".tmp-XXXXXX") {
    fd_ = ::mkstemp(temp_.data());
    if (fd_ < 0) throw IoError(path_ + ": cannot create a temporary file beside it: " + std::strerror(errno));
    ::fchmod(fd_, 0644);
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  /// Without commit(), the temporary file is removed and the target untouched.
  ~AtomicFile() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(temp_.c_str());
    }
  }

  void write(const void* data, std::size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail("cannot write");
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  void write(const std::string& s) { write(s.data(), s.size()); }

  /// Flushes to disk and renames over the target.
  void commit() {
    if (::fsync(fd_) != 0) fail("cannot flush to disk");
    if (::close(fd_) != 0) {
      fd_ = -1;
      ::unlink(temp_.c_str());
      throw IoError(path_ + ": cannot close the temporary file: " + std::strerror(errno));
    }
    fd_ = -1;
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      const std::string why = std::strerror(errno);
      ::unlink(temp_.c_str());
      throw IoError(path_ + ": cannot rename the temporary file over it: " + why);
    }
  }

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_; }

 private:
  [[noreturn]] void fail(const char* what) {
    const std::string why = std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    ::unlink(temp_.c_str());
    throw IoError(path_ + ": " + what + ": " + why);
  }

  std::string path_;
  std::string temp_;
  int fd_ = -1;
};

/// Writes `contents` to `path` atomically.
inline void write_text_file(const std::string& path, const std::string& contents) {
  AtomicFile f(path);
  f.write(contents);
  f.commit();
}

}  // namespace vae::io
