// The blog's pictures, for an autoencoder or a VAE: the latent space of the
// test set coloured by class, a mosaic decoded from a uniform latent grid, an
// interpolation row and GIF between the test set's second '1' and second
// '0', images decoded from prior samples, and test originals above their
// reconstructions. A latent space of more than two dimensions is drawn in
// the plane of its codes' first two principal components. A conditional
// VAE's pictures are its samples by class and its latent grid per class.
//
// The pictures see a model through FigureModel, so they are compiled once
// (figures.cpp), not once per model type.
//
// Memory: the test set is encoded 1000 images at a time, so the pictures
// never hold it, or the model's activations for it, as floats at once.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <vae/vae.hpp>
#include <vae/viz/plot.hpp>

#include "data_set.hpp"

namespace examples {

using vae::viz::Range;

/// The latent grid's extent: x across, y up.
struct GridRange {
  Range x, y;
};

/// What the pictures need of a model, whatever its type.
struct FigureModel {
  vae::Index latent = 2;    ///< size of the code
  bool variational = false; ///< z ~ N(0, I) makes sense (else a Gaussian fitted to the codes)
  vae::Index classes = 0;   ///< a conditional VAE's classes; 0 otherwise
  /// Codes of images (features x B); a conditional model uses the labels (one per column).
  std::function<Eigen::MatrixXf(const Eigen::MatrixXf&, const std::vector<int>&)> encode;
  /// Images from codes (Latent x B); a conditional model uses the labels.
  std::function<Eigen::MatrixXf(const Eigen::MatrixXf&, const std::vector<int>&)> decode;
  /// decode(encode(x)).
  std::function<Eigen::MatrixXf(const Eigen::MatrixXf&, const std::vector<int>&)> reconstruct;
};

/// `model` seen by the pictures (it must outlive the result).
template <class Model>
FigureModel figure_model(const Model& model) {
  FigureModel f;
  f.latent = model.num_latent();
  f.variational = Model::is_variational;
  f.classes = Model::classes;
  if constexpr (Model::classes > 0) {
    f.encode = [&model](const Eigen::MatrixXf& x, const std::vector<int>& y) -> Eigen::MatrixXf { return model.encode(x, y); };
    f.decode = [&model](const Eigen::MatrixXf& z, const std::vector<int>& y) -> Eigen::MatrixXf { return model.decode(z, y); };
    f.reconstruct = [&model](const Eigen::MatrixXf& x, const std::vector<int>& y) -> Eigen::MatrixXf {
      return model.reconstruct(x, y);
    };
  } else {
    f.encode = [&model](const Eigen::MatrixXf& x, const std::vector<int>&) -> Eigen::MatrixXf { return model.encode(x); };
    f.decode = [&model](const Eigen::MatrixXf& z, const std::vector<int>&) -> Eigen::MatrixXf { return model.decode(z); };
    f.reconstruct = [&model](const Eigen::MatrixXf& x, const std::vector<int>&) -> Eigen::MatrixXf {
      return model.reconstruct(x);
    };
  }
  return f;
}

/// Writes <out>/<name>_{latent,grid,interpolation,samples,reconstructions}.png
/// and <name>_interpolation.gif; for a conditional VAE
/// <name>_{samples,reconstructions,latent}.png and, for a 2-d latent space,
/// <name>_grid.png (one panel per class). The n x n grid spans `grid`, or
/// without one, the middle 98% of the codes along each axis of the pictures
/// (z[0] and z[1], or the two principal components).
void write_figures(const FigureModel& model, const vae::io::Dataset& test, const DataSetNames& data, const std::string& out,
                   const std::string& name, const std::optional<GridRange>& grid, int n, std::uint64_t seed);

}  // namespace examples
