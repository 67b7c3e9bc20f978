// The pictures of vae_mnist (figures.hpp), drawn once for every model type
// through FigureModel.
#include "figures.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <vae/viz.hpp>

namespace examples {

namespace {

/// What every picture of one model shares.
struct FigureSetup {
  std::string path;    ///< "<out>/<name>_", to which each picture adds its name
  std::string who;     ///< "VAE" or "autoencoder"
  DataSetNames data;   ///< the data set's name and class names
  int height, width;   ///< image size in pixels (28 x 28)
};

/// The two coordinates the latent pictures show: z[0] and z[1] of a 2-d
/// latent space; for a larger one, (a, b) in the plane of the codes' first
/// two principal components, z = mean + a pc1 + b pc2.
struct LatentAxes {
  std::optional<vae::viz::PrincipalPlane> plane;  ///< none for a 2-d latent space
  vae::Index latent = 2;

  /// 2 x N: the picture's coordinates of codes (Latent x N).
  Eigen::MatrixXf to_plane(const Eigen::MatrixXf& codes) const { return plane ? plane->project(codes) : codes; }
  /// Latent x N: the codes at picture coordinates (2 x N).
  Eigen::MatrixXf to_latent(const Eigen::MatrixXf& ab) const { return plane ? plane->lift(ab) : ab; }
  /// Appended to a title: what the axes are.
  std::string what() const {
    return plane ? ": first two principal components of the " + std::to_string(latent) + "-d codes" : "";
  }
  /// "z[0]", or "principal component 1 (41% of the variance)".
  std::string label(int axis) const {
    if (!plane) return "z[" + std::to_string(axis) + "]";
    const double share = 100 * plane->variance(axis) / std::max(plane->total_variance, 1e-30);
    return "principal component " + std::to_string(axis + 1) + " (" + std::to_string(int(std::lround(share))) +
           "% of the variance)";
  }
};

inline LatentAxes latent_axes(const Eigen::MatrixXf& codes) {
  LatentAxes axes;
  axes.latent = codes.rows();
  if (codes.rows() > 2) axes.plane = vae::viz::principal_plane(codes);
  return axes;
}

/// The labels of test images [first, first + n).
std::vector<int> labels_of(const vae::io::Dataset& test, vae::Index first, vae::Index n) {
  return {test.labels.begin() + first, test.labels.begin() + first + n};
}

/// The codes of the whole test set (Latent x N), encoded 1000 images at a time.
Eigen::MatrixXf encode_all(const FigureModel& model, const vae::io::Dataset& test) {
  constexpr vae::Index kBatch = 1000;
  Eigen::MatrixXf codes(model.latent, test.size());
  for (vae::Index first = 0; first < test.size(); first += kBatch) {
    const vae::Index n = std::min(kBatch, test.size() - first);
    codes.middleCols(first, n) = model.encode(vae::io::batch<float>(test, first, n), labels_of(test, first, n));
  }
  return codes;
}

/// The interval holding the middle 98% of `values`: the grid of a projected
/// latent space spans where the codes are, not their few outliers.
inline Range central_range(const Eigen::RowVectorXf& values) {
  std::vector<float> v(values.data(), values.data() + values.size());
  const auto at = [&](double q) {
    const auto k = std::size_t(q * double(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(k), v.end());
    return double(v[k]);
  };
  const double lo = at(0.01), hi = at(0.99);
  return hi > lo ? Range{lo, hi} : Range{lo - 1, lo + 1};
}

/// z(t) = z1 + (z2 - z1) t for n values of t evenly spaced in [0, 1].
inline Eigen::MatrixXf interpolate(const Eigen::VectorXf& z1, const Eigen::VectorXf& z2, int n) {
  Eigen::MatrixXf z(z1.size(), n);
  for (int i = 0; i < n; ++i) z.col(i) = z1 + (z2 - z1) * (n == 1 ? 0.0f : float(i) / float(n - 1));
  return z;
}

/// The index of the second test image with `label` (the blog takes x[y == label][1]).
inline vae::Index second_with_label(const vae::io::Dataset& d, int label) {
  int seen = 0;
  for (vae::Index i = 0; i < d.size(); ++i)
    if (d.labels[std::size_t(i)] == label && ++seen == 2) return i;
  throw vae::ShapeError("the test set has fewer than two images labelled " + std::to_string(label));
}

/// Decoded columns as gray images of the data's size.
inline std::vector<vae::viz::Image> images_of(const Eigen::MatrixXf& decoded, const FigureSetup& f) {
  return vae::viz::gray_images<float>(decoded, f.height, f.width);
}

/// a. The latent space of the test set, coloured by class.
inline void draw_latent(const Eigen::MatrixXf& plane_codes, const vae::io::Dataset& test, const LatentAxes& axes,
                        const FigureSetup& f) {
  vae::viz::PlotOptions scatter;
  scatter.title = f.who + " latent space, " + f.data.name + " test set" + axes.what();
  scatter.x_label = axes.label(0);
  scatter.y_label = axes.label(1);
  scatter.class_names = f.data.classes;
  std::vector<double> xs(std::size_t(plane_codes.cols())), ys(xs.size());
  std::vector<int> labels(xs.size());
  for (vae::Index i = 0; i < plane_codes.cols(); ++i) {
    xs[std::size_t(i)] = plane_codes(0, i);
    ys[std::size_t(i)] = plane_codes(1, i);
    labels[std::size_t(i)] = test.labels[std::size_t(i)];
  }
  vae::viz::write_png(f.path + "latent.png", vae::viz::scatter_plot(xs, ys, labels, scatter));
}

/// The n x n grid's points (2 x n^2), row by row from the top: x across
/// from x.lo to x.hi, y down from y.hi to y.lo, as the blog's imshow shows them.
Eigen::MatrixXf grid_points(Range x, Range y, int n) {
  Eigen::MatrixXf ab(2, n * n);
  for (int row = 0; row < n; ++row)
    for (int col = 0; col < n; ++col) {
      ab(0, row * n + col) = float(x.lo + (x.hi - x.lo) * col / (n - 1));
      ab(1, row * n + col) = float(y.hi - (y.hi - y.lo) * row / (n - 1));
    }
  return ab;
}

/// b. The decoder's output on an n x n grid of the picture's coordinates, x
/// across and y up as in the blog's imshow (the mosaic's first row is y = hi).
void draw_grid(const FigureModel& model, const LatentAxes& axes, Range x, Range y, int n, const FigureSetup& f) {
  const vae::viz::Image mosaic = vae::viz::tile(images_of(model.decode(axes.to_latent(grid_points(x, y, n)), {}), f), n);
  vae::viz::PlotOptions o;
  o.title = f.who + " decoded latent grid" + axes.what();
  if (axes.plane) {
    o.x_label = "a, along principal component 1: z = mean + a pc1 + b pc2";
    o.y_label = "b, along principal component 2";
  }
  vae::viz::write_png(f.path + "grid.png", vae::viz::image_with_axes(vae::viz::upscale(mosaic, 2), x, y, o));
}

/// c, d. From the test set's second '1' to its second '0': a row of 20 and a
/// GIF of 100 frames (256 x 256, forward then back, looping).
void draw_interpolation(const FigureModel& model, const vae::io::Dataset& test, const FigureSetup& f) {
  const Eigen::VectorXf z1 = model.encode(vae::io::batch<float>(test, second_with_label(test, 1), 1), {}).col(0);
  const Eigen::VectorXf z2 = model.encode(vae::io::batch<float>(test, second_with_label(test, 0), 1), {}).col(0);
  const auto row = images_of(model.decode(interpolate(z1, z2, 20), {}), f);
  vae::viz::write_png(f.path + "interpolation.png",
                      vae::viz::resize_nearest(vae::viz::tile(row, 20), 20 * f.width * 2, f.height * 2));
  auto frames = images_of(model.decode(interpolate(z1, z2, 100), {}), f);
  for (auto& frame : frames) frame = vae::viz::resize_nearest(frame, 256, 256);
  for (int i = 99; i >= 0; --i) frames.push_back(frames[std::size_t(i)]);
  vae::viz::write_gif(f.path + "interpolation.gif", frames, 4);
}

/// e. Images decoded from prior samples: z ~ N(0, I) for the VAE; for the
/// autoencoder, which has no prior, from a Gaussian fitted to the test codes.
void draw_samples(const FigureModel& model, const Eigen::MatrixXf& codes, std::uint64_t seed, const FigureSetup& f) {
  vae::Rng rng(seed ^ 0x5eed);
  Eigen::MatrixXf z(model.latent, 100);
  rng.fill_normal(z.data(), z.size());
  if (!model.variational) {
    const Eigen::VectorXf mean = codes.rowwise().mean();
    const Eigen::VectorXf sd = ((codes.colwise() - mean).array().square().rowwise().mean()).sqrt();
    z = (z.array().colwise() * sd.array()).colwise() + mean.array();
  }
  const vae::viz::Image mosaic = vae::viz::tile(images_of(model.decode(z, {}), f), 10, 2, 40);
  vae::viz::write_png(f.path + "samples.png", vae::viz::resize_nearest(mosaic, 2 * mosaic.width, 2 * mosaic.height));
}

/// f. The first 12 test images (top) above their reconstructions (bottom).
void draw_reconstructions(const FigureModel& model, const vae::io::Dataset& test, const FigureSetup& f) {
  const Eigen::MatrixXf originals = vae::io::batch<float>(test, 0, 12);
  auto tiles = images_of(originals, f);
  const auto recon = images_of(model.reconstruct(originals, labels_of(test, 0, 12)), f);
  tiles.insert(tiles.end(), recon.begin(), recon.end());
  const vae::viz::Image pair = vae::viz::tile(tiles, 12, 2, 40);
  vae::viz::write_png(f.path + "reconstructions.png", vae::viz::resize_nearest(pair, pair.width * 2, pair.height * 2));
}


/// A conditional VAE's pictures: a 10 x 10 grid of samples (row d drawn
/// given class d), originals above their reconstructions (given their
/// labels), the test codes coloured by class and, for a 2-d latent space,
/// the n x n latent grid decoded once for each class.
void write_conditional_figures(const FigureModel& model, const vae::io::Dataset& test, const DataSetNames& data,
                               const std::string& out, const std::string& name, const std::optional<GridRange>& grid,
                               int n, std::uint64_t seed) {
  const FigureSetup f{out + "/" + name + "_", "conditional VAE", data, int(test.rows), int(test.cols)};
  const int classes = int(model.classes);
  const auto class_name = [&](int c) {
    return c < int(data.classes.size()) ? data.classes[std::size_t(c)] : std::to_string(c);
  };
  // Samples: row d holds 10 draws of z ~ N(0, I) decoded given class d.
  vae::Rng rng(seed ^ 0x5eed);
  Eigen::MatrixXf z(model.latent, classes * 10);
  rng.fill_normal(z.data(), z.size());
  std::vector<int> rows(std::size_t(classes) * 10);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = int(i / 10);
  vae::viz::write_png(f.path + "samples.png",
                      vae::viz::upscale(vae::viz::tile(images_of(model.decode(z, rows), f), 10, 2, 40), 2));
  draw_reconstructions(model, test, f);
  const Eigen::MatrixXf codes = encode_all(model, test);
  const LatentAxes axes = latent_axes(codes);
  const Eigen::MatrixXf plane_codes = axes.to_plane(codes);
  draw_latent(plane_codes, test, axes, f);
  std::string grids;
  if (model.latent == 2) {
    // One n x n mosaic of the latent grid per class, five classes to a row.
    const GridRange span = grid.value_or(GridRange{central_range(plane_codes.row(0)), central_range(plane_codes.row(1))});
    const Eigen::MatrixXf ab = grid_points(span.x, span.y, n);
    std::vector<vae::viz::Image> panels;
    for (int c = 0; c < classes; ++c) {
      vae::viz::PlotOptions po;
      po.title = "given " + class_name(c);
      const auto mosaic = vae::viz::tile(images_of(model.decode(ab, std::vector<int>(std::size_t(n * n), c)), f), n);
      panels.push_back(vae::viz::to_rgb(vae::viz::image_with_axes(mosaic, span.x, span.y, po)));
    }
    vae::viz::write_png(f.path + "grid.png", vae::viz::tile(panels, 5, 8, 255));
    grids = ",grid";
  }
  std::cerr << "wrote " << f.path << "{samples,reconstructions,latent" << grids << "}.png\n";
}

/// Writes <out>/<name>_{latent,grid,interpolation,samples,reconstructions}.png
/// and <name>_interpolation.gif. The n x n grid spans `grid`, or without
/// one, the middle 98% of the codes along each axis of the pictures (z[0] and
/// z[1], or the two principal components).
}  // namespace

void write_figures(const FigureModel& model, const vae::io::Dataset& test, const DataSetNames& data,
                   const std::string& out, const std::string& name, const std::optional<GridRange>& grid, int n,
                   std::uint64_t seed) {
  if (model.classes > 0) return write_conditional_figures(model, test, data, out, name, grid, n, seed);
  const FigureSetup f{out + "/" + name + "_", model.variational ? "VAE" : "autoencoder", data, int(test.rows),
                      int(test.cols)};
  const Eigen::MatrixXf codes = encode_all(model, test);
  const LatentAxes axes = latent_axes(codes);
  const Eigen::MatrixXf plane_codes = axes.to_plane(codes);
  draw_latent(plane_codes, test, axes, f);
  const GridRange span = grid.value_or(GridRange{central_range(plane_codes.row(0)), central_range(plane_codes.row(1))});
  draw_grid(model, axes, span.x, span.y, n, f);
  draw_interpolation(model, test, f);
  draw_samples(model, codes, seed, f);
  draw_reconstructions(model, test, f);
  std::cerr << "wrote " << f.path << "{latent,grid,interpolation,samples,reconstructions}.png and " << f.path
            << "interpolation.gif\n";
}


}  // namespace examples
