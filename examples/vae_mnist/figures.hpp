// The blog's pictures, for an autoencoder or a VAE: the latent space coloured
// by digit, a mosaic decoded from a uniform latent grid, an interpolation row
// and GIF between a '1' and a '0', images decoded from prior samples, and test
// originals above their reconstructions.
#pragma once

#include <array>
#include <iostream>
#include <string>
#include <vector>

#include <vae/io/gif.hpp>
#include <vae/io/image.hpp>
#include <vae/io/plot.hpp>
#include <vae/vae.hpp>

namespace examples {

using vae::io::Range;

constexpr int kSide = 28;  // MNIST images are 28 x 28

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

/// Latent grid: n x n points, x across and y up as in the blog's imshow
/// (first row of the mosaic is the top, y = hi); further latent
/// coordinates are 0.
template <class Model>
vae::io::Image grid_mosaic(const Model& model, Range x, Range y, int n) {
  Eigen::MatrixXf z = Eigen::MatrixXf::Zero(Model::latent_size, n * n);
  for (int row = 0; row < n; ++row)
    for (int col = 0; col < n; ++col) {
      z(0, row * n + col) = float(x.lo + (x.hi - x.lo) * col / (n - 1));
      z(1, row * n + col) = float(y.hi - (y.hi - y.lo) * row / (n - 1));
    }
  return vae::io::tile(vae::io::gray_images<float>(model.decode(z), kSide, kSide), n);
}

template <class Model>
void write_figures(const Model& model, const vae::io::Dataset& test, const std::string& out, const std::string& name,
                   Range x, Range y, int n, std::uint64_t seed) {
  const std::string dir = out + "/" + name + "_";
  const std::string who = Model::is_variational ? "VAE" : "autoencoder";
  const std::string dims = Model::latent_size > 2 ? " (first 2 of " + std::to_string(Model::latent_size) + " latent dims)" : "";
  const Eigen::MatrixXf all = vae::io::batch<float>(test, 0, test.size());
  const Eigen::MatrixXf codes = model.encode(all);

  // a. The latent space of the test set, coloured by digit.
  vae::io::PlotOptions scatter;
  scatter.title = who + " latent space, MNIST test set" + dims;
  scatter.x_label = "z[0]";
  scatter.y_label = "z[1]";
  std::vector<double> xs(std::size_t(codes.cols())), ys(xs.size());
  std::vector<int> labels(xs.size());
  for (vae::Index i = 0; i < codes.cols(); ++i) {
    xs[std::size_t(i)] = codes(0, i);
    ys[std::size_t(i)] = codes(1, i);
    labels[std::size_t(i)] = test.labels[std::size_t(i)];
  }
  vae::io::write_png(dir + "latent.png", vae::io::scatter_plot(xs, ys, labels, scatter));

  // b. Decoded uniform n x n grid of latent points (the blog's n = 12).
  const vae::io::Image mosaic = grid_mosaic(model, x, y, n);
  vae::io::write_png(dir + "grid.png",
                     vae::io::image_with_axes(vae::io::upscale(mosaic, 2), x.lo, x.hi, y.lo, y.hi, who + " decoded latent grid" + dims));

  // c, d. Interpolation from a '1' to a '0': a row of 20 and a GIF of 100
  // frames (256 x 256, forward then back, looping).
  const Eigen::MatrixXf one = vae::io::batch<float>(test, second_with_label(test, 1), 1);
  const Eigen::MatrixXf zero = vae::io::batch<float>(test, second_with_label(test, 0), 1);
  const Eigen::VectorXf z1 = model.encode(one).col(0), z2 = model.encode(zero).col(0);
  const auto row = vae::io::gray_images<float>(model.decode(interpolate(z1, z2, 20)), kSide, kSide);
  vae::io::write_png(dir + "interpolation.png", vae::io::resize_nearest(vae::io::tile(row, 20), 20 * kSide * 2, kSide * 2));
  auto frames = vae::io::gray_images<float>(model.decode(interpolate(z1, z2, 100)), kSide, kSide);
  for (auto& f : frames) f = vae::io::resize_nearest(f, 256, 256);
  for (int i = 99; i >= 0; --i) frames.push_back(frames[std::size_t(i)]);
  vae::io::write_gif(dir + "interpolation.gif", frames, 4);

  // e. Images decoded from prior samples: z ~ N(0, I) for the VAE; for the
  // autoencoder, which has no prior, from a Gaussian fitted to the test codes.
  vae::Rng rng(seed ^ 0x5eed);
  Eigen::MatrixXf z(Model::latent_size, 100);
  rng.fill_normal(z.data(), z.size());
  if (!Model::is_variational) {
    const Eigen::VectorXf mean = codes.rowwise().mean();
    const Eigen::VectorXf sd = ((codes.colwise() - mean).array().square().rowwise().mean()).sqrt();
    z = (z.array().colwise() * sd.array()).colwise() + mean.array();
  }
  vae::io::write_png(dir + "samples.png",
                     vae::io::resize_nearest(vae::io::tile(vae::io::gray_images<float>(model.decode(z), kSide, kSide), 10, 2, 40),
                                             2 * (10 * kSide + 22), 2 * (10 * kSide + 22)));

  // f. Test originals (top) above their reconstructions (bottom).
  const Eigen::MatrixXf originals = all.leftCols(12);
  auto tiles = vae::io::gray_images<float>(originals, kSide, kSide);
  const auto recon = vae::io::gray_images<float>(model.reconstruct(originals), kSide, kSide);
  tiles.insert(tiles.end(), recon.begin(), recon.end());
  const vae::io::Image pair = vae::io::tile(tiles, 12, 2, 40);
  vae::io::write_png(dir + "reconstructions.png", vae::io::resize_nearest(pair, pair.width * 2, pair.height * 2));
  std::cerr << "wrote " << dir << "{latent,grid,interpolation,samples,reconstructions}.png and " << dir
            << "interpolation.gif\n";
}

}  // namespace examples
