#pragma once
// Animated GIF output through giflib (link with -lgif), for latent-space walks.
// The GIF is encoded in memory and then written atomically (AtomicFile), so a
// reader never sees a half-written file.
//
// Gray frames share one global 256-level gray palette, so gray is exact.
// Colour frames are reduced to 256 colours each by giflib's median-cut
// quantizer and carry their own palette.

#include <gif_lib.h>

#include <memory>
#include <string>
#include <vector>

#include "vae/core/error.hpp"
#include "vae/serialization/atomic_file.hpp"
#include "vae/viz/image.hpp"

namespace vae::viz {

namespace detail {

struct GifMapDeleter {
  void operator()(ColorMapObject* m) const { GifFreeMapObject(m); }
};
using GifMap = std::unique_ptr<ColorMapObject, GifMapDeleter>;

inline std::string gif_error(int code) {
  const char* s = GifErrorString(code);
  return s != nullptr ? s : "giflib error " + std::to_string(code);
}

/// An in-memory giflib encoder: opened on construction, closed (and freed) by
/// finish() or, after a failure, by the destructor. Errors name `path`.
class GifEncoder {
 public:
  explicit GifEncoder(std::string path) : path_(std::move(path)) {
    int err = 0;
    gif_ = EGifOpen(&bytes_, &GifEncoder::write, &err);
    if (gif_ == nullptr) throw IoError(path_ + ": cannot start a GIF encoder: " + gif_error(err));
  }
  GifEncoder(const GifEncoder&) = delete;
  GifEncoder& operator=(const GifEncoder&) = delete;
  ~GifEncoder() {
    if (gif_ != nullptr) EGifCloseFile(gif_, nullptr);
  }

  GifFileType* get() const { return gif_; }
  /// Throws IoError naming the step unless a giflib call returned GIF_OK.
  void check(int status, const char* step) const {
    if (status != GIF_OK) throw IoError(path_ + ": GIF " + step + " failed: " + gif_error(gif_->Error));
  }
  /// Writes the trailer and returns the encoded file.
  std::vector<unsigned char> finish() {
    int err = 0;
    const int status = EGifCloseFile(gif_, &err);
    gif_ = nullptr;
    if (status != GIF_OK) throw IoError(path_ + ": GIF close failed: " + gif_error(err));
    return std::move(bytes_);
  }

 private:
  static int write(GifFileType* gif, const GifByteType* data, int n) {
    try {
      auto* out = static_cast<std::vector<unsigned char>*>(gif->UserData);
      out->insert(out->end(), data, data + n);
      return n;
    } catch (...) {  // never unwind through C code; giflib reports the short write
      return 0;
    }
  }

  std::string path_;
  std::vector<unsigned char> bytes_;
  GifFileType* gif_ = nullptr;
};

inline GifMap gray_palette() {
  GifColorType colors[256];
  for (int i = 0; i < 256; ++i) colors[i].Red = colors[i].Green = colors[i].Blue = static_cast<GifByteType>(i);
  return GifMap(GifMakeMapObject(256, colors));
}

/// The NETSCAPE2.0 application extension with loop count 0: repeat forever.
inline void put_loop_extension(const GifEncoder& enc) {
  static const unsigned char kLoopForever[3] = {1, 0, 0};  // sub-block id 1, loop count 0 (16-bit LE)
  enc.check(EGifPutExtensionLeader(enc.get(), APPLICATION_EXT_FUNC_CODE), "loop extension");
  enc.check(EGifPutExtensionBlock(enc.get(), 11, "NETSCAPE2.0"), "loop extension");
  enc.check(EGifPutExtensionBlock(enc.get(), 3, kLoopForever), "loop extension");
  enc.check(EGifPutExtensionTrailer(enc.get()), "loop extension");
}

/// One frame: graphics control block (the delay), image descriptor, then
/// `indices` (height rows of width palette indices).
inline void put_frame(const GifEncoder& enc, int width, int height, int delay, std::vector<GifByteType>& indices,
                      const ColorMapObject* local_palette) {
  GraphicsControlBlock gcb{};
  gcb.DisposalMode = DISPOSE_DO_NOT;
  gcb.UserInputFlag = false;
  gcb.DelayTime = delay;
  gcb.TransparentColor = NO_TRANSPARENT_COLOR;
  GifByteType ext[4];
  const std::size_t n = EGifGCBToExtension(&gcb, ext);
  enc.check(EGifPutExtension(enc.get(), GRAPHICS_EXT_FUNC_CODE, static_cast<int>(n), ext), "frame delay");
  enc.check(EGifPutImageDesc(enc.get(), 0, 0, width, height, false, local_palette), "image descriptor");
  // EGifPutLine masks the row in place, hence the mutable buffer.
  for (int y = 0; y < height; ++y)
    enc.check(EGifPutLine(enc.get(), indices.data() + std::size_t(y) * std::size_t(width), width), "pixel data");
}

/// A colour frame as 256-colour palette indices and its palette (median cut).
inline GifMap quantize(const Image& frame, std::vector<GifByteType>& indices, const std::string& path) {
  const Image rgb = to_rgb(frame);
  const std::size_t n = std::size_t(rgb.width) * std::size_t(rgb.height);
  std::vector<GifByteType> r(n), g(n), b(n);
  for (std::size_t i = 0; i < n; ++i) {
    r[i] = rgb.data[3 * i];
    g[i] = rgb.data[3 * i + 1];
    b[i] = rgb.data[3 * i + 2];
  }
  GifColorType colors[256] = {};
  int count = 256;
  indices.resize(n);
  if (GifQuantizeBuffer(unsigned(rgb.width), unsigned(rgb.height), &count, r.data(), g.data(), b.data(),
                        indices.data(), colors) != GIF_OK)
    throw IoError(path + ": GIF colour quantization failed (out of memory?)");
  GifMap map(GifMakeMapObject(256, colors));
  if (!map) throw IoError(path + ": cannot allocate a GIF palette");
  return map;
}

inline void check_gif_frames(const std::string& path, const std::vector<Image>& frames, int delay) {
  if (frames.empty()) throw ShapeError(path + ": no frames to write, expected at least one");
  if (delay < 0 || delay > 65535)
    throw ValueError(path + ": frame delay is " + std::to_string(delay) + " centiseconds, expected 0 to 65535");
  const Image& first = frames.front();
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const Image& f = frames[i];
    check_image(f, path + ": frame " + std::to_string(i));
    if (f.width != first.width || f.height != first.height)
      throw ShapeError(path + ": frame " + std::to_string(i) + " is " + std::to_string(f.width) + "x" +
                       std::to_string(f.height) + ", expected " + std::to_string(first.width) + "x" +
                       std::to_string(first.height) + " like frame 0");
  }
  if (first.width > 65535 || first.height > 65535)
    throw ShapeError(path + ": frames are " + std::to_string(first.width) + "x" + std::to_string(first.height) +
                     ", expected at most 65535x65535 for a GIF");
}

}  // namespace detail

/// Writes `frames` (all the same size; 1 or 2 channels for gray, 3 or 4 for
/// colour, alpha ignored) as an animated GIF that shows each frame for
/// `delay_centiseconds` hundredths of a second and, when `loop`, repeats
/// forever. Any colour frame makes every frame go through the quantizer.
inline void write_gif(const std::string& path, const std::vector<Image>& frames, int delay_centiseconds,
                      bool loop = true) {
  detail::check_gif_frames(path, frames, delay_centiseconds);
  bool gray = true;
  for (const Image& f : frames) gray = gray && f.channels <= 2;
  const int w = frames.front().width, h = frames.front().height;

  detail::GifEncoder enc(path);
  const detail::GifMap global = gray ? detail::gray_palette() : nullptr;
  if (gray && !global) throw IoError(path + ": cannot allocate the GIF palette");
  EGifSetGifVersion(enc.get(), true);  // GIF89a: needed for delays and the loop extension
  enc.check(EGifPutScreenDesc(enc.get(), w, h, 8, 0, global.get()), "screen descriptor");
  if (loop) detail::put_loop_extension(enc);

  std::vector<GifByteType> indices;
  for (const Image& f : frames) {
    detail::GifMap local;
    if (gray) {
      indices.resize(std::size_t(w) * std::size_t(h));
      for (std::size_t i = 0; i < indices.size(); ++i) indices[i] = f.data[i * std::size_t(f.channels)];
    } else {
      local = detail::quantize(f, indices, path);
    }
    detail::put_frame(enc, w, h, delay_centiseconds, indices, local.get());
  }
  const std::vector<unsigned char> bytes = enc.finish();
  io::AtomicFile file(path);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace vae::viz
