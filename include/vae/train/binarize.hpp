#pragma once
// Binarised data, as the likelihood benchmarks on MNIST use it: each value v
// in [0, 1] becomes 1 with probability v and 0 otherwise.
//   DynamicBinarizer: wraps any batch source (train/sources.hpp) and redraws
//     every value of every batch each time it is used (dynamic
//     binarisation), from a stream of its own keyed by the seed and the
//     epoch, so a run resumed at an epoch boundary draws what one that never
//     stopped draws.
//   binarize(data, seed): a data set (a test set) binarised once.
// Value (i, j) of a draw is 1 when the 32-bit uniform u of its place in the
// stream satisfies (u + 1/2) / 2^32 < v, so v = 0 is always 0 and v = 1
// always 1.

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"
#include "vae/data/idx.hpp"

namespace vae {

namespace detail {

/// The key of the binarisation stream: apart from weight initialisation's
/// Rng(seed), the shuffle (kShuffleStream) and the trainer's noise streams.
inline constexpr std::uint64_t kBinarizeStream = 0x2545F4914F6CDD1Dull;

/// Bernoulli(x[i]) in place for the n values at x (each in [0, 1]), four
/// values per Philox block of rng.
template <class S>
void bernoulli_in_place(S* x, Index n, Rng& rng) {
  for (Index i = 0; i < n; i += 4) {
    const auto w = rng.next_words();
    for (Index t = 0; t < 4 && i + t < n; ++t)
      x[i + t] = open_unit<double>(w[std::size_t(t)]) < static_cast<double>(x[i + t]) ? S(1) : S(0);
  }
}

/// Throws ValueError unless every value of x is in [0, 1].
template <class D>
void check_unit_range(const Eigen::MatrixBase<D>& x, const char* who) {
  if (x.size() > 0 && !(x.minCoeff() >= 0 && x.maxCoeff() <= 1))
    throw ValueError(std::string(who) + ": values must lie in [0, 1] to be binarised, got a value in [" +
                     std::to_string(static_cast<double>(x.minCoeff())) + ", " +
                     std::to_string(static_cast<double>(x.maxCoeff())) + "]");
}

}  // namespace detail

/// A batch source whose batches are those of `Src` with each value v (in
/// [0, 1]) redrawn as Bernoulli(v) every time it is served. Epoch e draws
/// from Rng(seed ^ key, e << 40), its own stream, so the same seed gives the
/// same pixels, every epoch new ones, and a resumed run the pixels of an
/// uninterrupted one. Pass fit()'s TrainOptions::seed as `seed`; under data
/// parallelism pass the process's rank as `part`, so that processes draw
/// different noise.
template <class Src>
class DynamicBinarizer {
 public:
  /// The scalar of the batches.
  using Scalar = typename std::decay_t<decltype(std::declval<Src&>().next())>::Scalar;

  /// Binarises the batches of `source`, which must outlive this object.
  DynamicBinarizer(Src& source, std::uint64_t seed, std::uint64_t part = 0)
      : source_(&source), key_((seed ^ detail::kBinarizeStream) + part * 0xD1342543DE82EF95ull) {}

  /// Rows of a batch: the source's.
  Index features() const { return source_->features(); }
  /// Samples per epoch: the source's.
  Index size() const { return source_->size(); }

  /// Starts epoch `epoch` of the source and of the binarisation stream.
  void start_epoch(int epoch) {
    source_->start_epoch(epoch);
    rng_ = Rng(key_, static_cast<std::uint64_t>(epoch) << 40);
  }

  /// The source's next batch (features x n), binarised; 0 columns at the
  /// end of the epoch. Valid until the next call. Throws ValueError for a
  /// value outside [0, 1].
  Eigen::Block<Matrix<Scalar>, Eigen::Dynamic, Eigen::Dynamic, true> next() {
    const auto x = source_->next();
    const Index n = x.cols();
    if (buffer_.rows() != x.rows() || buffer_.cols() < n) buffer_.resize(x.rows(), n);
    auto out = buffer_.leftCols(n);
    out = x;
    detail::check_unit_range(out, "vae::DynamicBinarizer");
    detail::bernoulli_in_place(out.data(), out.size(), rng_);
    return out;
  }

 private:
  Src* source_;
  std::uint64_t key_;
  Rng rng_;
  Matrix<Scalar> buffer_;
};

/// x (values in [0, 1]) binarised once: value v becomes 1 with probability
/// v, drawn from Rng(seed ^ key), the stream of DynamicBinarizer's epoch 0.
/// For a fixed binarised test set. Throws ValueError for a value outside [0, 1].
template <class S>
Matrix<S> binarize(const MatrixRef<S>& x, std::uint64_t seed) {
  detail::check_unit_range(x, "vae::binarize");
  Matrix<S> out = x;
  Rng rng(seed ^ detail::kBinarizeStream);
  detail::bernoulli_in_place(out.data(), out.size(), rng);
  return out;
}

/// A byte data set binarised once: pixel b becomes 255 with probability
/// b / 255, else 0 (so a Batcher reads 1 or 0); labels and sizes kept.
/// Draws from the stream binarize() uses for the same seed.
inline io::Dataset binarize(const io::Dataset& data, std::uint64_t seed) {
  io::Dataset out = data;
  Rng rng(seed ^ detail::kBinarizeStream);
  const Index n = static_cast<Index>(out.pixels.size());
  for (Index i = 0; i < n; i += 4) {
    const auto w = rng.next_words();
    for (Index t = 0; t < 4 && i + t < n; ++t) {
      std::uint8_t& p = out.pixels[std::size_t(i + t)];
      p = detail::open_unit<double>(w[std::size_t(t)]) < static_cast<double>(p) / 255.0 ? 255 : 0;
    }
  }
  return out;
}

}  // namespace vae
