#pragma once
// A small 8-bit raster image, PNG output through stb_image_write, and the
// helpers that turn decoded samples into pictures: floats in [0, 1] to gray
// images, a mosaic of tiles, nearest-neighbour scaling.
//
// stb_image_write is compiled into every translation unit that includes this
// header, as static functions (STB_IMAGE_WRITE_STATIC), so the header-only
// library needs no .c file and never clashes at link time. A translation unit
// that includes this header must not define STB_IMAGE_WRITE_IMPLEMENTATION
// itself.
//
// Part of vae::viz, the optional pictures target (links giflib and finds
// stb); the core library never includes anything under vae/viz/.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "vae/core/error.hpp"
#include "vae/core/types.hpp"
#include "vae/serialization/atomic_file.hpp"

#ifndef VAE_STB_IMAGE_WRITE_INCLUDED
#define VAE_STB_IMAGE_WRITE_INCLUDED
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO  // files are written through AtomicFile, never fopen
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wcast-qual"
#endif
#include <stb_image_write.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#endif

namespace vae::viz {

/// An 8-bit image: `height` rows of `width` pixels, top row first, each pixel
/// `channels` interleaved bytes (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA).
struct Image {
  /// Pixels per row.
  int width = 0;
  /// Rows.
  int height = 0;
  /// Bytes per pixel, 1 to 4.
  int channels = 1;
  /// height * width * channels bytes, row after row.
  std::vector<std::uint8_t> data;

  Image() = default;
  /// A `width x height` image with every byte set to `fill`.
  Image(int w, int h, int c, std::uint8_t fill = 0) : width(w), height(h), channels(c) {
    if (w < 1 || h < 1 || c < 1 || c > 4)
      throw ShapeError("vae::viz::Image: " + std::to_string(w) + "x" + std::to_string(h) + " with " + std::to_string(c) +
                       " channels, expected positive sizes and 1 to 4 channels");
    data.assign(std::size_t(w) * std::size_t(h) * std::size_t(c), fill);
  }

  /// The first byte of pixel (x, y): column x, row y from the top.
  std::uint8_t* at(int x, int y) { return data.data() + offset(x, y); }
  /// The same, read-only.
  const std::uint8_t* at(int x, int y) const { return data.data() + offset(x, y); }

 private:
  std::size_t offset(int x, int y) const {
    return (std::size_t(y) * std::size_t(width) + std::size_t(x)) * std::size_t(channels);
  }
};

namespace detail {

/// Throws ShapeError naming `what` unless `im` is non-empty and consistent.
inline void check_image(const Image& im, const std::string& what) {
  const std::string shape = std::to_string(im.width) + "x" + std::to_string(im.height) + " with " +
                            std::to_string(im.channels) + " channels";
  if (im.width < 1 || im.height < 1 || im.channels < 1 || im.channels > 4)
    throw ShapeError(what + ": image is " + shape + ", expected a positive size and 1 to 4 channels");
  const std::size_t want = std::size_t(im.width) * std::size_t(im.height) * std::size_t(im.channels);
  if (im.data.size() != want)
    throw ShapeError(what + ": image is " + shape + " but holds " + std::to_string(im.data.size()) +
                     " bytes, expected " + std::to_string(want));
}

inline void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<unsigned char>*>(context);
  const auto* p = static_cast<const unsigned char*>(data);
  out->insert(out->end(), p, p + size);
}

/// [0, 1] to 0..255, rounded; clamped, NaN to 0.
inline std::uint8_t unit_to_byte(double v) {
  if (!(v > 0)) return 0;
  if (v >= 1) return 255;
  return static_cast<std::uint8_t>(std::lround(v * 255));
}

}  // namespace detail

/// Writes `image` as a PNG file, atomically: readers see the old file or the
/// complete new one, never a partial one.
inline void write_png(const std::string& path, const Image& image) {
  detail::check_image(image, path);
  if (image.data.size() > std::size_t(std::numeric_limits<int>::max() / 2))  // stb sizes the output in int
    throw ShapeError(path + ": an image of " + std::to_string(image.data.size()) + " bytes is too large for a PNG");
  std::vector<unsigned char> png;
  if (stbi_write_png_to_func(detail::append_bytes, &png, image.width, image.height, image.channels,
                             image.data.data(), image.width * image.channels) == 0 ||
      png.empty())
    throw IoError(path + ": PNG encoding failed (out of memory?)");
  io::AtomicFile file(path);
  file.write(png.data(), png.size());
  file.commit();
}

/// A gray image from `height * width` values in [0, 1] stored row after row
/// (pixel (r, c) at values[r * width + c], as in one MNIST column). Values
/// outside [0, 1] are clamped; NaN becomes black.
template <class S>
Image gray_image(const S* values, int height, int width) {
  Image im(width, height, 1);
  for (std::size_t i = 0; i < im.data.size(); ++i) im.data[i] = detail::unit_to_byte(static_cast<double>(values[i]));
  return im;
}

/// One gray image per column of `columns` (`height * width x N`, values in
/// [0, 1], each column stored row after row, as a decoder's output).
template <class S>
std::vector<Image> gray_images(const Matrix<S>& columns, int height, int width) {
  if (columns.rows() != Index(height) * width)
    throw ShapeError("vae::viz::gray_images: columns have " + std::to_string(columns.rows()) + " rows, expected " +
                     std::to_string(height) + "x" + std::to_string(width) + " = " +
                     std::to_string(Index(height) * width));
  std::vector<Image> out;
  out.reserve(std::size_t(columns.cols()));
  for (Index j = 0; j < columns.cols(); ++j) out.push_back(gray_image(columns.col(j).data(), height, width));
  return out;
}

/// Lays `tiles` (all the same size and channel count) out `grid_cols` to a
/// row, row by row from the top left, with `padding` pixels of `background`
/// between the tiles and around the edge; ceil(n / grid_cols) rows, the cells
/// past the last tile left as background.
inline Image tile(const std::vector<Image>& tiles, int grid_cols, int padding = 0, std::uint8_t background = 0) {
  if (tiles.empty() || grid_cols < 1 || padding < 0)
    throw ShapeError("vae::viz::tile: " + std::to_string(tiles.size()) + " tiles, " + std::to_string(grid_cols) +
                     " columns, padding " + std::to_string(padding) +
                     "; expected at least one tile and column and padding >= 0");
  const Image& first = tiles.front();
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    const Image& t = tiles[i];
    detail::check_image(t, "vae::viz::tile: tile " + std::to_string(i));
    if (t.width != first.width || t.height != first.height || t.channels != first.channels)
      throw ShapeError("vae::viz::tile: tile " + std::to_string(i) + " is " + std::to_string(t.width) + "x" +
                       std::to_string(t.height) + "x" + std::to_string(t.channels) + ", expected " +
                       std::to_string(first.width) + "x" + std::to_string(first.height) + "x" +
                       std::to_string(first.channels) + " like tile 0");
  }
  const int w = first.width, h = first.height, c = first.channels;
  const int rows = int((tiles.size() + std::size_t(grid_cols) - 1) / std::size_t(grid_cols));
  Image out(grid_cols * (w + padding) + padding, rows * (h + padding) + padding, c, background);
  for (std::size_t i = 0; i < tiles.size(); ++i) {
    const int x0 = padding + int(i % std::size_t(grid_cols)) * (w + padding);
    const int y0 = padding + int(i / std::size_t(grid_cols)) * (h + padding);
    for (int y = 0; y < h; ++y) std::copy_n(tiles[i].at(0, y), std::size_t(w) * std::size_t(c), out.at(x0, y0 + y));
  }
  return out;
}

/// Nearest-neighbour resize to `width x height` (output pixel (x, y) takes
/// input pixel (x * in.width / width, y * in.height / height)).
inline Image resize_nearest(const Image& image, int width, int height) {
  detail::check_image(image, "vae::viz::resize_nearest");
  Image out(width, height, image.channels);
  const std::size_t c = std::size_t(image.channels);
  for (int y = 0; y < height; ++y) {
    const int sy = int(std::int64_t(y) * image.height / height);
    for (int x = 0; x < width; ++x) std::copy_n(image.at(int(std::int64_t(x) * image.width / width), sy), c, out.at(x, y));
  }
  return out;
}

/// Each pixel becomes a `factor x factor` block.
inline Image upscale(const Image& image, int factor) {
  if (factor < 1) throw ShapeError("vae::viz::upscale: factor is " + std::to_string(factor) + ", expected >= 1");
  return resize_nearest(image, image.width * factor, image.height * factor);
}

/// The image as 3-channel RGB (gray replicated, alpha dropped).
inline Image to_rgb(const Image& image) {
  detail::check_image(image, "vae::viz::to_rgb");
  if (image.channels == 3) return image;
  Image out(image.width, image.height, 3);
  const std::size_t n = std::size_t(image.width) * std::size_t(image.height), c = std::size_t(image.channels);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t* p = image.data.data() + i * c;
    std::uint8_t* q = out.data.data() + 3 * i;
    if (c <= 2)
      q[0] = q[1] = q[2] = p[0];
    else
      std::copy_n(p, 3, q);
  }
  return out;
}

}  // namespace vae::viz

/// The pictures lived in vae::io before vae::viz split from the core; the
/// old names (vae::io::Image, vae::io::write_png, ...) still work.
namespace vae::io {
using namespace vae::viz;
}  // namespace vae::io
