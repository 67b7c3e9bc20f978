#pragma once
// Basic types shared by every part of the library: the index type, the
// host-side Eigen matrix aliases and the strided matrix view that the
// backends compute on.

#include <cstddef>

#include <Eigen/Core>

#if defined(__CUDACC__)
#define VAE_HOST_DEVICE __host__ __device__
#else
#define VAE_HOST_DEVICE
#endif

namespace vae {

/// Sizes and indices: signed, as Eigen's.
using Index = std::ptrdiff_t;

/// A size known only at run time, in Eigen's manner: a network type whose
/// input_size, latent_size, output_size or parameter_count is Dynamic takes
/// its sizes as values when it is built (models/dynamic.hpp).
inline constexpr Index Dynamic = -1;

/// A host matrix with one sample per column (features x batch), column-major.
template <class S>
using Matrix = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

/// A host column vector.
template <class S>
using Vector = Eigen::Matrix<S, Eigen::Dynamic, 1>;

/// Read-only reference to any column-major host matrix whose columns are
/// contiguous (a Matrix, a block of whole columns, a Map with outer stride).
template <class S>
using MatrixRef = Eigen::Ref<const Matrix<S>, 0, Eigen::OuterStride<>>;

/// A column-major view of `rows x cols` elements of backend memory, column j
/// starting at `data + j * ld` (ld >= rows). Views never own memory; the
/// model code passes them to Ops<Backend, S>, which knows whether `data`
/// lives on the host or on a device.
template <class S>
struct View {
  /// @{
  /// The first element, the size and the leading dimension (column j starts at data + j * ld).
  S* data = nullptr;
  Index rows = 0;
  Index cols = 0;
  Index ld = 0;
  /// @}

  /// Element (r, c).
  VAE_HOST_DEVICE S& operator()(Index r, Index c) const { return data[r + c * ld]; }
  /// Columns [first, first + n).
  View col_block(Index first, Index n) const { return {data + first * ld, rows, n, ld}; }
  /// Rows [first, first + n) of every column (keeps the leading dimension).
  View row_block(Index first, Index n) const { return {data + first, n, cols, ld}; }
  /// True when the columns follow each other with no gap (ld == rows).
  bool contiguous() const { return ld == rows; }
  /// rows * cols.
  Index size() const { return rows * cols; }
};

/// The read-only counterpart of View.
template <class S>
struct ConstView {
  /// @{
  /// The first element, the size and the leading dimension (column j starts at data + j * ld).
  const S* data = nullptr;
  Index rows = 0;
  Index cols = 0;
  Index ld = 0;
  /// @}

  ConstView() = default;
  /// `r x c` elements at `d`, leading dimension `l`.
  ConstView(const S* d, Index r, Index c, Index l) : data(d), rows(r), cols(c), ld(l) {}
  /// Any View converts implicitly to a read-only one.
  ConstView(const View<S>& v) : data(v.data), rows(v.rows), cols(v.cols), ld(v.ld) {}  // NOLINT

  /// Element (r, c).
  VAE_HOST_DEVICE const S& operator()(Index r, Index c) const { return data[r + c * ld]; }
  /// Columns [first, first + n).
  ConstView col_block(Index first, Index n) const { return {data + first * ld, rows, n, ld}; }
  /// Rows [first, first + n) of every column (keeps the leading dimension).
  ConstView row_block(Index first, Index n) const { return {data + first, n, cols, ld}; }
  /// True when the columns follow each other with no gap (ld == rows).
  bool contiguous() const { return ld == rows; }
  /// rows * cols.
  Index size() const { return rows * cols; }
};

/// A contiguous `rows x cols` view starting at `data`.
template <class S>
View<S> make_view(S* data, Index rows, Index cols) {
  return {data, rows, cols, rows};
}
/// The same, read-only.
template <class S>
ConstView<S> make_view(const S* data, Index rows, Index cols) {
  return {data, rows, cols, rows};
}

/// A view of a host Eigen matrix (the data must outlive the view).
template <class S>
ConstView<S> view_of(const MatrixRef<S>& m) {
  return {m.data(), m.rows(), m.cols(), m.outerStride()};
}

}  // namespace vae
