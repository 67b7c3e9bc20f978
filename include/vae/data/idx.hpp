#pragma once
// Reading IDX files (the MNIST / Fashion-MNIST format), raw or gzip-compressed,
// into a byte Dataset whose pixels are a column-major `features x N` matrix.
//
// IDX layout (big-endian):
//   images: magic 0x00000803, count, rows, cols (4 x u32), then count*rows*cols
//           bytes, image after image, each image row after row;
//   labels: magic 0x00000801, count (2 x u32), then count bytes.
// With zlib (VAE_WITH_ZLIB, set by the vae::vae target when zlib is found)
// gzip files (one or more members) and raw files are read alike; without it,
// raw files are read and a gzip file is refused with a message that says so. Before any large allocation
// the payload is checked against what the file can hold: the file size for a
// raw file; for a gzip file the bytes are read in chunks, so memory grows only
// with data that is really there. A file must end exactly where its header
// says: truncation and trailing bytes are both errors, and so are bytes after
// a gzip file's last member.

#include <sys/stat.h>
#if defined(VAE_WITH_ZLIB)
#include <zlib.h>
#endif

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "vae/core/error.hpp"
#include "vae/core/types.hpp"

namespace vae::io {

/// First word of an IDX image file.
inline constexpr std::uint32_t kIdxImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
/// First word of an IDX label file.
inline constexpr std::uint32_t kIdxLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension
/// Largest image side accepted; anything larger is taken for a corrupt header.
inline constexpr std::uint32_t kIdxMaxSide = 4096;

/// Images as bytes, one image per column, with optional labels.
struct Dataset {
  /// `features() x size()` bytes, column-major: pixel (r, c) of image i is
  /// pixels[i * features() + r * cols + c] (each column is an image stored
  /// row after row, exactly as in the IDX file).
  std::vector<std::uint8_t> pixels;
  /// One label per image, or empty for images without labels. Values are
  /// kept as read (MNIST uses 0..9).
  std::vector<std::uint8_t> labels;
  Index rows = 0;  ///< image height
  Index cols = 0;  ///< image width

  /// Pixels per image: rows * cols.
  Index features() const { return rows * cols; }
  /// Number of images.
  Index size() const { return features() > 0 ? static_cast<Index>(pixels.size()) / features() : 0; }
  /// The `features() x size()` byte matrix, without copying.
  Eigen::Map<const Eigen::Matrix<std::uint8_t, Eigen::Dynamic, Eigen::Dynamic>> matrix() const {
    return {pixels.data(), features(), size()};
  }
};

/// Which of MNIST's files load_mnist reads: train-* (60,000 images) or t10k-* (10,000).
enum class Split { Train, Test };

namespace detail {

inline std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(v));
  return buf;
}

inline std::uint32_t big_endian32(const unsigned char* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | std::uint32_t(p[3]);
}

#if defined(VAE_WITH_ZLIB)
/// A gzip-or-raw input file: gzip when it starts with gzip's magic bytes
/// (1f 8b), raw otherwise. A gzip file may hold several members, read one
/// after the other as gunzip does; bytes after the last member that do not
/// start another one are an error (gzread would drop them silently), as
/// trailing bytes in a raw file are. Every error names the path.
class GzInput {
 public:
  explicit GzInput(std::string path) : path_(std::move(path)), in_(kInputBytes) {
    errno = 0;
    file_ = std::fopen(path_.c_str(), "rb");
    if (file_ == nullptr) throw IoError(path_ + ": cannot open: " + std::strerror(errno));
    try {
      fill();
      gzip_ = avail_ >= 2 && next_[0] == 0x1f && next_[1] == 0x8b;
      // 16 + MAX_WBITS: a gzip header and trailer around the deflate data.
      if (gzip_ && inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK)
        throw IoError(path_ + ": cannot start zlib's decompressor (out of memory)");
    } catch (...) {
      std::fclose(file_);
      throw;
    }
  }
  GzInput(const GzInput&) = delete;
  GzInput& operator=(const GzInput&) = delete;
  ~GzInput() {
    if (gzip_) inflateEnd(&zs_);
    std::fclose(file_);
  }

  /// Reads up to n bytes; fewer only at the end of the (decompressed) data.
  std::size_t read(void* dst, std::size_t n) {
    auto* out = static_cast<unsigned char*>(dst);
    if (!gzip_) {
      const std::size_t buffered = std::min(n, avail_);
      std::memcpy(out, next_, buffered);
      next_ += buffered;
      avail_ -= buffered;
      const std::size_t got = buffered + std::fread(out + buffered, 1, n - buffered, file_);
      if (std::ferror(file_)) throw IoError(path_ + ": cannot read: " + std::strerror(errno));
      return got;
    }
    std::size_t total = 0;
    while (total < n && !(member_ended_ && !next_member())) {
      if (avail_ == 0) fill();
      const auto want = static_cast<uInt>(std::min<std::size_t>(n - total, std::size_t(1) << 30));
      zs_.next_in = const_cast<unsigned char*>(next_);  // const only under ZLIB_CONST
      zs_.avail_in = static_cast<uInt>(avail_);
      zs_.next_out = out + total;
      zs_.avail_out = want;
      const int code = inflate(&zs_, Z_NO_FLUSH);
      next_ = zs_.next_in;
      avail_ = zs_.avail_in;
      total += want - zs_.avail_out;
      decompressed_ += want - zs_.avail_out;
      if (code == Z_STREAM_END) member_ended_ = true;
      // Z_BUF_ERROR: no progress possible, which with the input used up and
      // the file at its end means the stream was cut off.
      else if (code == Z_BUF_ERROR && avail_ == 0 && at_eof_)
        throw FormatError(path_ + ": the gzip stream is truncated (unexpected end of file after " +
                          std::to_string(decompressed_) + " decompressed bytes)");
      else if (code == Z_MEM_ERROR)
        throw IoError(path_ + ": out of memory while decompressing");
      else if (code != Z_OK && code != Z_BUF_ERROR)
        throw FormatError(path_ + ": corrupt gzip data: " + (zs_.msg != nullptr ? zs_.msg : "unknown zlib error"));
    }
    return total;
  }

  /// Counts the bytes left, without keeping them, stopping past `limit` (a
  /// small gzip file can inflate to terabytes).
  std::uint64_t skip_rest(std::uint64_t limit) {
    std::vector<unsigned char> scratch(1u << 16);
    std::uint64_t n = 0;
    for (std::size_t got; n <= limit && (got = read(scratch.data(), scratch.size())) > 0;) n += got;
    return n;
  }

  /// True when the file is gzip-compressed.
  bool compressed() const { return gzip_; }
  /// Size of the file on disk in bytes.
  std::uint64_t file_size() const {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) throw IoError(path_ + ": cannot stat: " + std::strerror(errno));
    return static_cast<std::uint64_t>(st.st_size);
  }
  const std::string& path() const { return path_; }

 private:
  static constexpr std::size_t kInputBytes = std::size_t(1) << 17;

  /// Moves the unread input to the front of the buffer and reads after it.
  void fill() {
    std::memmove(in_.data(), next_ == nullptr ? in_.data() : next_, avail_);
    next_ = in_.data();
    const std::size_t got = std::fread(in_.data() + avail_, 1, in_.size() - avail_, file_);
    if (std::ferror(file_)) throw IoError(path_ + ": cannot read: " + std::strerror(errno));
    avail_ += got;
    read_ += got;
    at_eof_ = std::feof(file_) != 0;
  }

  /// After a member's end: true when another member follows, false at the
  /// end of the file; throws for anything else.
  bool next_member() {
    if (avail_ < 2 && !at_eof_) fill();
    if (avail_ == 0) return false;
    if (avail_ < 2 || next_[0] != 0x1f || next_[1] != 0x8b) {
      const std::uint64_t offset = read_ - avail_;
      const std::uint64_t size = file_size();
      throw FormatError(path_ + ": " + (size > offset ? std::to_string(size - offset) : std::string("some")) +
                        " bytes after the end of the gzip data (from byte " + std::to_string(offset) +
                        ") are not another gzip member; expected the file to end there");
    }
    inflateReset(&zs_);
    member_ended_ = false;
    return true;
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  std::vector<unsigned char> in_;
  const unsigned char* next_ = nullptr;  // unread input: [next_, next_ + avail_)
  std::size_t avail_ = 0;
  std::uint64_t read_ = 0, decompressed_ = 0;  // bytes read from the file, bytes inflated
  bool at_eof_ = false, gzip_ = false, member_ended_ = false;
  z_stream zs_{};
};
#else
/// A raw input file (this build has no zlib). Every error names the path.
class GzInput {
 public:
  explicit GzInput(std::string path) : path_(std::move(path)) {
    errno = 0;
    file_ = std::fopen(path_.c_str(), "rb");
    if (file_ == nullptr) throw IoError(path_ + ": cannot open: " + std::strerror(errno));
  }
  GzInput(const GzInput&) = delete;
  GzInput& operator=(const GzInput&) = delete;
  ~GzInput() { std::fclose(file_); }

  /// Reads up to n bytes; fewer only at the end of the file.
  std::size_t read(void* dst, std::size_t n) {
    const std::size_t got = std::fread(dst, 1, n, file_);
    if (std::ferror(file_)) throw IoError(path_ + ": cannot read: " + std::strerror(errno));
    if (first_ && got >= 2) {
      const auto* p = static_cast<const unsigned char*>(dst);
      if (p[0] == 0x1f && p[1] == 0x8b)
        throw FormatError(path_ + ": is gzip-compressed, and this build of vae reads gzip only with zlib "
                          "(build with zlib found, which defines VAE_WITH_ZLIB), or decompress it with gunzip");
    }
    first_ = false;
    return got;
  }
  std::uint64_t skip_rest(std::uint64_t limit) {
    std::vector<unsigned char> scratch(1u << 16);
    std::uint64_t n = 0;
    for (std::size_t got; n <= limit && (got = read(scratch.data(), scratch.size())) > 0;) n += got;
    return n;
  }
  bool compressed() { return false; }
  std::uint64_t file_size() const {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) throw IoError(path_ + ": cannot stat: " + std::strerror(errno));
    return static_cast<std::uint64_t>(st.st_size);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  bool first_ = true;
};
#endif

/// Reads the `4 * words` header bytes, checking the magic number before the
/// rest so that a wrong file is named as such even when it is short. `what`
/// describes the expected file, e.g. "idx3 images".
inline std::array<std::uint32_t, 4> read_idx_header(GzInput& in, std::uint32_t magic, int words, const char* what) {
  unsigned char raw[16];
  const std::size_t want = 4 * static_cast<std::size_t>(words);
  std::size_t got = in.read(raw, 4);
  const auto too_short = [&] {
    return FormatError(in.path() + ": too short for an IDX header: " + std::to_string(got) + " bytes, expected " +
                       std::to_string(want) + " (" + what + ")");
  };
  if (got < 4) throw too_short();
  std::array<std::uint32_t, 4> h{};
  h[0] = big_endian32(raw);
  if (h[0] != magic) {
    std::string hint;
    if (h[0] == kIdxLabelsMagic) hint = "; this looks like an idx1 labels file";
    if (h[0] == kIdxImagesMagic) hint = "; this looks like an idx3 images file";
    throw FormatError(in.path() + ": magic number is " + hex32(h[0]) + ", expected " + hex32(magic) + " (" + what +
                      ")" + hint);
  }
  got += in.read(raw + 4, want - 4);
  if (got < want) throw too_short();
  for (int i = 1; i < words; ++i) h[i] = big_endian32(raw + 4 * i);
  return h;
}

/// Reads exactly `payload` bytes after a `header_bytes` header, then checks
/// that the file ends there. `promise` says what the header announced.
inline std::vector<std::uint8_t> read_idx_payload(GzInput& in, std::uint64_t payload, std::uint64_t header_bytes,
                                                  const std::string& promise) {
  const auto short_file = [&](std::uint64_t available) {
    return FormatError(in.path() + ": truncated: the header promises " + promise + " (" + std::to_string(payload) +
                       " bytes after the " + std::to_string(header_bytes) + "-byte header) but only " +
                       std::to_string(available) + " bytes are there");
  };
  constexpr std::uint64_t kTrailingCountLimit = std::uint64_t(1) << 20;
  const auto trailing = [&](std::uint64_t extra) {
    const std::string count =
        extra > kTrailingCountLimit ? "more than " + std::to_string(kTrailingCountLimit) : std::to_string(extra);
    return FormatError(in.path() + ": " + count + " trailing bytes after " + promise +
                       "; expected the data to end at byte " + std::to_string(header_bytes + payload));
  };
  if (payload > static_cast<std::uint64_t>(std::numeric_limits<std::ptrdiff_t>::max()))
    throw FormatError(in.path() + ": the header promises " + promise + ", too large to hold in memory");
  std::vector<std::uint8_t> data;
  if (!in.compressed()) {
    // Raw file: its size bounds the allocation before it is made.
    const std::uint64_t size = in.file_size();
    const std::uint64_t available = size > header_bytes ? size - header_bytes : 0;
    if (available < payload) throw short_file(available);
    if (available > payload) throw trailing(available - payload);
    data.resize(static_cast<std::size_t>(payload));
    const std::size_t got = in.read(data.data(), data.size());
    if (got < data.size()) throw short_file(got);  // the file shrank while being read
    return data;
  }
  // Gzip: grow with the data actually decompressed.
  constexpr std::size_t kChunk = std::size_t(1) << 22;
  std::size_t have = 0;
  while (have < payload) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, payload - have));
    data.resize(have + want);
    const std::size_t got = in.read(data.data() + have, want);
    have += got;
    if (got < want) throw short_file(have);
  }
  if (const std::uint64_t extra = in.skip_rest(kTrailingCountLimit); extra > 0) throw trailing(extra);
  return data;
}

inline void check_idx_dimension(const std::string& path, const char* field, std::uint32_t v, std::uint32_t max) {
  if (v == 0 || v > max)
    throw FormatError(path + ": " + field + " is " + std::to_string(v) + ", expected 1 to " + std::to_string(max));
}

inline bool is_regular_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace detail

/// Reads an idx3-ubyte images file (raw or .gz). The result has no labels.
inline Dataset read_idx_images(const std::string& path) {
  detail::GzInput in(path);
  const auto h = detail::read_idx_header(in, kIdxImagesMagic, 4, "idx3 images");
  detail::check_idx_dimension(path, "image count", h[1], std::numeric_limits<std::uint32_t>::max());
  detail::check_idx_dimension(path, "rows", h[2], kIdxMaxSide);
  detail::check_idx_dimension(path, "cols", h[3], kIdxMaxSide);
  // At most 2^32 * 2^24 bytes, so no overflow in 64 bits.
  const std::uint64_t payload = std::uint64_t(h[1]) * h[2] * h[3];
  const std::string promise =
      std::to_string(h[1]) + " images of " + std::to_string(h[2]) + "x" + std::to_string(h[3]) + " pixels";
  Dataset d;
  d.pixels = detail::read_idx_payload(in, payload, 16, promise);
  d.rows = h[2];
  d.cols = h[3];
  return d;
}

/// Reads an idx1-ubyte labels file (raw or .gz).
inline std::vector<std::uint8_t> read_idx_labels(const std::string& path) {
  detail::GzInput in(path);
  const auto h = detail::read_idx_header(in, kIdxLabelsMagic, 2, "idx1 labels");
  detail::check_idx_dimension(path, "label count", h[1], std::numeric_limits<std::uint32_t>::max());
  return detail::read_idx_payload(in, h[1], 8, std::to_string(h[1]) + " labels");
}

/// Reads images and their labels; the two counts must agree.
inline Dataset load_dataset(const std::string& images_path, const std::string& labels_path) {
  Dataset d = read_idx_images(images_path);
  d.labels = read_idx_labels(labels_path);
  if (static_cast<Index>(d.labels.size()) != d.size())
    throw FormatError(labels_path + ": label count is " + std::to_string(d.labels.size()) + ", expected " +
                      std::to_string(d.size()) + " (the image count of " + images_path + ")");
  return d;
}

/// Loads the MNIST-format training or test set from `dir`, which holds
/// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
/// t10k-labels-idx1-ubyte, each raw or with a .gz suffix (Fashion-MNIST uses
/// the same names).
inline Dataset load_mnist(const std::string& dir, Split split) {
  const std::string prefix = split == Split::Train ? "train" : "t10k";
  const auto find = [&](const std::string& name) {
    const std::string base = dir.empty() ? name : dir + "/" + name;
    for (const std::string& p : {base, base + ".gz"})
      if (detail::is_regular_file(p)) return p;
    throw IoError(base + ": not found (looked for " + name + " and " + name + ".gz in " + (dir.empty() ? "." : dir) +
                  ", the file names of the MNIST and Fashion-MNIST distributions)");
  };
  const std::string images = find(prefix + "-images-idx3-ubyte");  // images first: the error names them first
  return load_dataset(images, find(prefix + "-labels-idx1-ubyte"));
}

namespace detail {

/// byte / 255 for every byte value, computed by division so that the result
/// is the correctly rounded quotient.
template <class S>
const std::array<S, 256>& unit_table() {
  static const std::array<S, 256> table = [] {
    std::array<S, 256> t{};
    for (int i = 0; i < 256; ++i) t[i] = static_cast<S>(i) / static_cast<S>(255);
    return t;
  }();
  return table;
}

}  // namespace detail

/// Writes images `indices[0..n)` of `data` as values in [0, 1] (byte / 255)
/// into `out`, a column-major `features() x n` buffer (column j = image
/// indices[j]).
template <class S>
void to_unit_float(const Dataset& data, const Index* indices, Index n, S* out) {
  const Index f = data.features();
  const Index size = data.size();
  const auto& table = detail::unit_table<S>();
  for (Index j = 0; j < n; ++j) {
    const Index i = indices[j];
    if (i < 0 || i >= size)
      throw ShapeError("vae::io::to_unit_float: image index " + std::to_string(i) + " (entry " + std::to_string(j) +
                       ") is out of range, expected 0 to " + std::to_string(size - 1));
    const std::uint8_t* src = data.pixels.data() + i * f;
    S* dst = out + j * f;
    for (Index k = 0; k < f; ++k) dst[k] = table[src[k]];
  }
}

/// Images [first, first + n) as a `features() x n` matrix of values in [0, 1].
template <class S>
Matrix<S> batch(const Dataset& data, Index first, Index n) {
  if (first < 0 || n < 0 || first > data.size() - n)
    throw ShapeError("vae::io::batch: images [" + std::to_string(first) + ", " + std::to_string(first + n) +
                     ") are out of range for a dataset of " + std::to_string(data.size()) + " images");
  std::vector<Index> indices(static_cast<std::size_t>(n));
  for (Index j = 0; j < n; ++j) indices[static_cast<std::size_t>(j)] = first + j;
  Matrix<S> out(data.features(), n);
  to_unit_float(data, indices.data(), n, out.data());
  return out;
}

}  // namespace vae::io
