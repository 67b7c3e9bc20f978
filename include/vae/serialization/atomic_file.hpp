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
//
// A writer that crashes leaves its temporary file behind. The next write of
// the same target removes such files: those named `target.tmp-XXXXXX` that
// no live writer owns. A writer holds an exclusive flock(2) on its temporary
// file from the moment it creates it until after the rename, and the kernel
// drops the lock when its process dies; a temporary file is removed only
// when that lock is free and it has not been modified for
// kStaleTempSeconds, which covers the instant between a writer's creating
// its file and locking it. Temporary files of other targets, and files that
// are not regular files, are left alone.

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
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

/// How long (seconds) a temporary file must have gone unmodified, besides
/// being unlocked, before a writer of the same target removes it.
inline constexpr std::time_t kStaleTempSeconds = 60;

/// True when `name` is `base` + ".tmp-" + six letters or digits, the name
/// create_temp_beside gives a temporary file of `base`.
inline bool is_temp_name(const std::string& name, const std::string& base) {
  const std::string prefix = base + ".tmp-";
  if (name.size() != prefix.size() + 6 || name.compare(0, prefix.size(), prefix) != 0) return false;
  for (std::size_t i = prefix.size(); i < name.size(); ++i) {
    const char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

/// Removes the temporary files of `path` that a crashed writer left: regular
/// files, unlocked and unmodified for kStaleTempSeconds, other than `own`.
/// Best effort: whatever cannot be read or removed stays.
inline void remove_stale_temps(const std::string& path, const std::string& own) {
  const auto file_name = [](const std::string& p) { return p.substr(p.find_last_of('/') + 1); };  // npos + 1 is 0
  const std::string folder = parent_folder(path), base = file_name(path), own_name = file_name(own);
  DIR* dir = ::opendir(folder.c_str());
  if (!dir) return;
  const std::time_t now = std::time(nullptr);
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == own_name || !is_temp_name(name, base)) continue;
    const std::string full = folder + "/" + name;
    // O_NOFOLLOW | O_NONBLOCK: never follow a link, never wait on a FIFO.
    const int fd = ::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && now - st.st_mtime >= kStaleTempSeconds &&
        ::flock(fd, LOCK_EX | LOCK_NB) == 0)
      ::unlink(full.c_str());
    ::close(fd);
  }
  ::closedir(dir);
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
    // The lock marks the file as a live writer's (a file system without
    // flock leaves it unlocked, and then no other writer removes it either).
    if (fd >= 0) ::flock(fd, LOCK_EX | LOCK_NB);
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
  /// Opens a temporary file beside `path` for writing, and removes the
  /// temporary files of `path` that crashed writers left (see above).
  explicit AtomicFile(std::string path) : path_(std::move(path)) {
    fd_ = detail::create_temp_beside(path_, temp_);
    if (fd_ < 0) throw IoError(path_ + ": cannot create a temporary file beside it: " + std::strerror(errno));
    detail::remove_stale_temps(path_, temp_);
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  /// Without commit(), the temporary file is removed and the target untouched.
  ~AtomicFile() {
    if (fd_ >= 0) {
      ::unlink(temp_.c_str());  // before close() drops the lock
      ::close(fd_);
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
  /// entry to disk. Throws IoError if any of them fails; when only the
  /// closing or the folder's flush fails, the file is in place (its bytes
  /// flushed) but its entry may not survive a power cut.
  void commit() {
    if (::fsync(fd_) != 0) fail("cannot flush to disk", std::strerror(errno));
    // Renamed while still open, so still locked: a closed temporary file
    // would look abandoned to another writer of the same target.
    if (::rename(temp_.c_str(), path_.c_str()) != 0) fail("cannot rename the temporary file over it", std::strerror(errno));
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) throw IoError(path_ + ": written, but closing it failed: " + std::strerror(errno));
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
    ::unlink(temp_.c_str());  // before close() drops the lock
    ::close(fd_);
    fd_ = -1;
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
