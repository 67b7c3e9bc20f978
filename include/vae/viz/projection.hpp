#pragma once
// The plane that shows the most of a set of latent codes' spread: through
// their mean, along their first two principal components. Pictures of a
// latent space of more than two dimensions (a scatter plot of the codes, a
// decoded grid) are drawn in this plane.

#include <cmath>
#include <string>

#include <Eigen/Core>
#include <Eigen/Eigenvalues>

#include "vae/core/error.hpp"
#include "vae/core/types.hpp"

namespace vae::viz {

/// z = mean + a * axes.col(0) + b * axes.col(1): the plane of the first two
/// principal components of a set of codes, in double precision.
struct PrincipalPlane {
  Eigen::VectorXd mean;      ///< Latent: the codes' mean
  Eigen::MatrixXd axes;      ///< Latent x 2: orthonormal directions, the larger variance first
  Eigen::Vector2d variance;  ///< the codes' variance along each axis
  double total_variance = 0; ///< the trace of their covariance: the variance in all Latent directions

  /// (a, b) of each code (Latent x N): 2 x N, the codes projected onto the plane.
  template <class D>
  Matrix<typename D::Scalar> project(const Eigen::MatrixBase<D>& codes) const {
    check_rows(codes.rows(), "project");
    const Eigen::MatrixXd centred = codes.template cast<double>().colwise() - mean;
    return (axes.transpose() * centred).template cast<typename D::Scalar>();
  }

  /// mean + a * axes.col(0) + b * axes.col(1) for each column (a, b) of
  /// `ab` (2 x N): Latent x N.
  template <class D>
  Matrix<typename D::Scalar> lift(const Eigen::MatrixBase<D>& ab) const {
    if (ab.rows() != 2)
      throw ShapeError("vae::viz::PrincipalPlane::lift: the points have " + std::to_string(ab.rows()) +
                       " rows, expected 2 (a, b)");
    const Eigen::MatrixXd z = axes * ab.template cast<double>();
    return (z.colwise() + mean).template cast<typename D::Scalar>();
  }

 private:
  void check_rows(Index rows, const char* what) const {
    if (rows != mean.size())
      throw ShapeError(std::string("vae::viz::PrincipalPlane::") + what + ": the codes have " + std::to_string(rows) +
                       " rows, expected the plane's latent size " + std::to_string(mean.size()));
  }
};

namespace detail {

/// Flips `v` so that its entry of largest magnitude is positive: an
/// eigenvector's sign is arbitrary, a picture's orientation should not be.
inline void fix_sign(Eigen::Ref<Eigen::VectorXd> v) {
  Index k = 0;
  v.cwiseAbs().maxCoeff(&k);
  if (v(k) < 0) v = -v;
}

}  // namespace detail

/// The plane of the first two principal components of `codes` (Latent x N,
/// one code per column; Latent >= 2, N >= 2, all finite): the two leading
/// eigenvectors of the codes' mean-centred covariance
/// C = (Z - mean)(Z - mean)^T / (N - 1), from Eigen's SelfAdjointEigenSolver.
template <class D>
PrincipalPlane principal_plane(const Eigen::MatrixBase<D>& codes) {
  const Index latent = codes.rows(), n = codes.cols();
  if (latent < 2 || n < 2)
    throw ShapeError("vae::viz::principal_plane: codes are " + std::to_string(latent) + " x " + std::to_string(n) +
                     ", expected at least 2 latent dimensions and 2 codes");
  for (Index j = 0; j < n; ++j)
    if (!codes.col(j).allFinite())
      throw ValueError("vae::viz::principal_plane: code " + std::to_string(j) + " is not finite");
  PrincipalPlane p;
  const Eigen::MatrixXd z = codes.template cast<double>();
  p.mean = z.rowwise().mean();
  const Eigen::MatrixXd centred = z.colwise() - p.mean;
  const Eigen::MatrixXd cov = centred * centred.transpose() / double(n - 1);
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
  if (eig.info() != Eigen::Success)
    throw NumericError("vae::viz::principal_plane: the eigen-decomposition of the codes' " + std::to_string(latent) +
                       " x " + std::to_string(latent) + " covariance did not converge");
  // Eigenvalues come in increasing order: the last two are the largest.
  p.axes.resize(latent, 2);
  for (int i = 0; i < 2; ++i) {
    p.axes.col(i) = eig.eigenvectors().col(latent - 1 - i);
    detail::fix_sign(p.axes.col(i));
    p.variance(i) = std::max(0.0, eig.eigenvalues()(latent - 1 - i));
  }
  p.total_variance = cov.trace();
  return p;
}

}  // namespace vae::viz
