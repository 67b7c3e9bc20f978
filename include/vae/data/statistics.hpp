#pragma once
// What a model was trained on, kept with it: the features' names, their means
// and standard deviations over the training data, whether the model sees the
// data standardised, x' = (x - mean) / scale, and a further divisor sigma:
// the model sees x' / sigma, so that its unit-variance Gaussian is, in x's
// units, a Gaussian of standard deviation sigma * scale per feature.
// Checkpoints store it (serialization/checkpoint.hpp), so that a model
// applies and undoes its own transform on new data.
//
//   vae::DataStatistics stats = vae::statistics_of(train.values, train.columns, /*standardize=*/true);
//   Eigen::MatrixXf x = vae::to_model<float>(stats, table.values);        // what the model takes
//   Eigen::MatrixXd back = vae::from_model(stats, model.reconstruct(x));  // in the data's units

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "vae/core/error.hpp"
#include "vae/core/types.hpp"

namespace vae {

/// The features a model was trained on.
struct DataStatistics {
  /// The features' names (a CSV header's; "0", "1", ... for .npy).
  std::vector<std::string> columns;
  /// Each feature's mean over the training data.
  std::vector<double> mean;
  /// Each feature's standard deviation over the training data (population,
  /// divided by N); 1 for a feature that is constant there, so that it is
  /// centred but not divided by 0.
  std::vector<double> scale;
  /// Whether the model sees (x - mean) / scale instead of x.
  bool standardize = false;
  /// The model sees (standardised) x divided by sigma (> 0, finite): a unit
  /// Gaussian on x / sigma is a Gaussian of standard deviation sigma on x.
  double sigma = 1.0;

  /// The number of features.
  Index features() const { return static_cast<Index>(mean.size()); }
  /// What to_model subtracts from feature i: its mean when standardising, else 0.
  double shift(Index i) const { return standardize ? mean[std::size_t(i)] : 0.0; }
  /// What to_model then divides feature i by: its scale when standardising (else 1), times sigma.
  double divisor(Index i) const { return (standardize ? scale[std::size_t(i)] : 1.0) * sigma; }
  /// The log-determinant of the transform to the model's input: the sum of
  /// log scale when standardising, plus features * log sigma. log p(x) =
  /// log p(x') - log_scale_sum() for the model's density p(x') of what it
  /// sees, x'.
  double log_scale_sum() const {
    double s = 0;
    for (Index i = 0; i < features(); ++i) s += std::log(divisor(i));
    return s;
  }
  /// Equal in every field.
  bool operator==(const DataStatistics& o) const {
    return columns == o.columns && mean == o.mean && scale == o.scale && standardize == o.standardize &&
           sigma == o.sigma;
  }
  /// Not equal in some field.
  bool operator!=(const DataStatistics& o) const { return !(*this == o); }
};

/// The statistics of `x` (features x samples): mean and standard deviation
/// per feature, `columns` its names (empty: "0", "1", ...). Throws ShapeError
/// for an empty x or a names list of another length, ValueError for a value
/// that is not finite.
inline DataStatistics statistics_of(const Matrix<double>& x, std::vector<std::string> columns = {},
                                    bool standardize = false, double sigma = 1.0) {
  if (!(sigma > 0) || !std::isfinite(sigma))
    throw ValueError("vae::statistics_of: sigma is " + std::to_string(sigma) + ", expected a finite value > 0");
  if (x.rows() == 0 || x.cols() == 0)
    throw ShapeError("vae::statistics_of: the data is " + std::to_string(x.rows()) + " x " + std::to_string(x.cols()) +
                     ", expected at least one feature and one sample");
  if (columns.empty())
    for (Index i = 0; i < x.rows(); ++i) columns.push_back(std::to_string(i));
  if (static_cast<Index>(columns.size()) != x.rows())
    throw ShapeError("vae::statistics_of: " + std::to_string(columns.size()) + " column names for " +
                     std::to_string(x.rows()) + " features");
  if (!x.allFinite()) throw ValueError("vae::statistics_of: the data holds NaN or infinite values");
  DataStatistics s;
  s.columns = std::move(columns);
  s.standardize = standardize;
  s.sigma = sigma;
  for (Index i = 0; i < x.rows(); ++i) {
    const double m = x.row(i).mean();
    const double var = (x.row(i).array() - m).square().mean();
    const double sd = std::sqrt(var);
    if (!std::isfinite(sd))
      throw ValueError("vae::statistics_of: the spread of feature " + std::to_string(i) + " ('" +
                       s.columns[std::size_t(i)] + "') overflows a double; rescale it first");
    s.mean.push_back(m);
    // A constant feature (or one whose spread is lost in rounding) is centred only.
    s.scale.push_back(sd > 1e-12 * std::max(1.0, std::abs(m)) ? sd : 1.0);
  }
  return s;
}

namespace detail {
inline void check_statistics_rows(const DataStatistics& s, Index rows, const char* where) {
  if (rows != s.features())
    throw ShapeError(std::string(where) + ": the data has " + std::to_string(rows) + " features, the statistics " +
                     std::to_string(s.features()));
}
}  // namespace detail

/// x (features x samples, the data's units) as the model takes it, in S:
/// standardised when s.standardize, then divided by s.sigma.
template <class S>
Matrix<S> to_model(const DataStatistics& s, const Matrix<double>& x) {
  detail::check_statistics_rows(s, x.rows(), "vae::to_model");
  Matrix<double> y = x;
  for (Index i = 0; i < y.rows(); ++i) y.row(i) = (y.row(i).array() - s.shift(i)) / s.divisor(i);
  return y.cast<S>();
}

/// y (features x samples, as the model outputs it) in the data's units:
/// to_model undone.
template <class S>
Matrix<double> from_model(const DataStatistics& s, const Matrix<S>& y) {
  detail::check_statistics_rows(s, y.rows(), "vae::from_model");
  Matrix<double> x = y.template cast<double>();
  for (Index i = 0; i < x.rows(); ++i) x.row(i) = x.row(i).array() * s.divisor(i) + s.shift(i);
  return x;
}

}  // namespace vae
