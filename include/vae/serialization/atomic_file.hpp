#pragma once
// Writing a file so that readers see either the old contents or the complete
// new ones, never a half-written file, and so that a completed write survives
// a power cut: the bytes go to a temporary file in the same folder, which is
// flushed to disk (fsync) and renamed over the target (rename is atomic
// within a file system), and then the folder itself is flushed, so that the
// new directory entry is on disk too. On any failure the temporary file is
// removed and IoError names the target path.
//
// The file gets the mode any new file gets from open(2): 0666 less the
// process's umask (and as the folder's default ACL says), as std::ofstream's
// would; the temporary file is created with that mode, so there is no
// chmod to fail or to race with.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "vae/core/error.hpp"

namespace vae::io {

namespace detail {

/// The folder holding `path` ("." for a bare name), for flushing its entries.
inline std::string parent_folder(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

/// Creates `path` + ".tmp-XXXXXX" (six random letters and digits) with
/// O_EXCL, mode 0666 filtered by the umask; returns the descriptor and sets
/// `temp`, or -1 with errno set.
inline int create_temp_beside(const std::string& path, std::string& temp) {
  static constexpr char kLetters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  static std::atomic<std::uint64_t> calls{0};
  for (int attempt = 0; attempt < 100; ++attempt) {
    // splitmix64 of (pid, time, call count): distinct names across threads
    // and processes; O_EXCL settles any collision.
    std::uint64_t x = (std::uint64_t(::getpid()) << 40) ^ calls.fetch_add(1) ^
                      std::uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    temp = path + ".tmp-";
    for (int i = 0; i < 6; ++i, x /= 62) temp += kLetters[x % 62];
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;  // errno is EEXIST
}

}  // namespace detail

/// A file written so that readers see the old contents or all of the new ones:
/// write() into a temporary file beside `path`, then commit(). Every failure
/// throws IoError naming the path and removes the temporary file.
class AtomicFile {
 public:
  /// Opens a temporary file beside `path` for writing.
  explicit AtomicFile(std::string path) : path_(std::move(path)) {
    fd_ = detail::create_temp_beside(path_, temp_);
    if (fd_ < 0) throw IoError(path_ + ": cannot create a temporary file beside it: " + std::strerror(errno));
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

  /// Appends n bytes to the temporary file (retrying short writes).
  void write(const void* data, std::size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) fail("cannot write", std::strerror(errno));
      // write() returning 0 sets no errno: whatever errno holds is stale.
      if (w == 0) fail("cannot write", "write() wrote 0 of " + std::to_string(n) + " bytes (is the disk full?)");
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  /// Appends the bytes of s.
  void write(const std::string& s) { write(s.data(), s.size()); }

  /// Flushes to disk, renames over the target, and flushes the folder's new
  /// entry to disk. Throws IoError if any of them fails; when only the last
  /// fails, the file is in place but may not survive a power cut.
  void commit() {
    if (::fsync(fd_) != 0) fail("cannot flush to disk", std::strerror(errno));
    if (::close(fd_) != 0) {
      const std::string why = std::strerror(errno);
      fd_ = -1;
      ::unlink(temp_.c_str());
      throw IoError(path_ + ": cannot close the temporary file: " + why);
    }
    fd_ = -1;
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
      const std::string why = std::strerror(errno);
      ::unlink(temp_.c_str());
      throw IoError(path_ + ": cannot rename the temporary file over it: " + why);
    }
    sync_folder();
  }

  /// The target path.
  const std::string& path() const { return path_; }
  /// The temporary file's path (`path` + ".tmp-" + six letters or digits).
  const std::string& temp_path() const { return temp_; }

 private:
  /// fsync of the folder, which makes the rename durable (rename alone only
  /// changes the folder in memory).
  void sync_folder() const {
    const std::string folder = detail::parent_folder(path_);
    const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
      throw IoError(path_ + ": written, but its folder " + folder + " cannot be opened to flush it: " + std::strerror(errno));
    // EINVAL: a file system that cannot flush folders (nothing more to do).
    const bool ok = ::fsync(dir) == 0 || errno == EINVAL;
    const std::string why = ok ? std::string() : std::strerror(errno);
    ::close(dir);
    if (!ok) throw IoError(path_ + ": written, but its folder " + folder + " cannot be flushed to disk: " + why);
  }

  [[noreturn]] void fail(const char* what, const std::string& why) {
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
