#pragma once
// Sources of training batches. fit() and evaluate() take any type with
//   Index features() const;       rows of every batch (one sample per column)
//   Index size() const;           samples per epoch, or 0 when unknown
//   void start_epoch(int epoch);  rewind; reorder for that epoch if it can
//   X next();                     the next batch, convertible to
//                                 MatrixRef<S>; 0 columns at the epoch's end
// (checked by is_batch_source_v). The library has two:
//   Batcher<S>:       a byte io::Dataset, scaled to [0, 1] batch by batch;
//   MatrixBatcher<S>: an Eigen matrix of any values held in memory.
// Both shuffle fully every epoch, the order a pure function of (seed, epoch),
// so a run resumed at an epoch boundary sees the batches of one that never
// stopped. For data larger than memory, write a source that streams from
// disk: it reads in its own order, and its start_epoch(epoch) can reorder
// what it can afford to (the order of shards or files, a shuffle buffer).

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"
#include "vae/data/idx.hpp"

namespace vae {

namespace detail {

/// The key of the shuffling stream: apart from weight initialisation's
/// Rng(seed) and the trainer's noise streams.
inline constexpr std::uint64_t kShuffleStream = 0x5851F42D4C957F2Dull;

inline void shuffle_epoch(std::vector<Index>& order, std::uint64_t seed, int epoch, bool shuffle) {
  std::iota(order.begin(), order.end(), Index(0));
  if (shuffle) {
    Rng rng(seed ^ kShuffleStream, static_cast<std::uint64_t>(epoch) << 40);
    rng.shuffle(order.begin(), order.end());
  }
}

inline void check_batching(Index batch_size, Index size, const char* who) {
  if (batch_size < 1) throw ValueError(std::string(who) + ": batch size is " + std::to_string(batch_size) + ", expected >= 1");
  if (size < 1) throw ShapeError(std::string(who) + ": the data set is empty");
}

template <class Src, class S, class = void>
struct is_batch_source : std::false_type {};
template <class Src, class S>
struct is_batch_source<Src, S,
                       std::void_t<decltype(std::declval<const Src&>().features()),
                                   decltype(std::declval<const Src&>().size()),
                                   decltype(std::declval<Src&>().start_epoch(0)), decltype(std::declval<Src&>().next())>>
    : std::is_convertible<decltype(std::declval<Src&>().next()), MatrixRef<S>> {};

}  // namespace detail

/// Whether Src is a source of batches of scalar S (see above).
template <class Src, class S>
inline constexpr bool is_batch_source_v = detail::is_batch_source<Src, S>::value;

/// Batches of a byte data set as values in [0, 1].
template <class S = float>
class Batcher {
 public:
  /// Batches of `batch_size` samples (the last one of an epoch may be
  /// smaller) from `data`, which must outlive the batcher.
  Batcher(const io::Dataset& data, Index batch_size, std::uint64_t seed, bool shuffle = true)
      : data_(&data), batch_size_(batch_size), seed_(seed), shuffle_(shuffle), order_(static_cast<std::size_t>(data.size())) {
    detail::check_batching(batch_size, data.size(), "vae::Batcher");
    buffer_.resize(data.features(), std::min(batch_size, data.size()));
  }

  Index features() const { return data_->features(); }
  Index size() const { return data_->size(); }
  Index batch_size() const { return batch_size_; }
  /// Number of batches in one epoch.
  Index batches_per_epoch() const { return (data_->size() + batch_size_ - 1) / batch_size_; }

  /// Starts epoch `epoch`: resets the order (shuffled when enabled).
  void start_epoch(int epoch) {
    detail::shuffle_epoch(order_, seed_, epoch, shuffle_);
    position_ = 0;
  }

  /// The next batch (features x n, values in [0, 1]) or an empty block at the
  /// end of the epoch. The returned block stays valid until the next call.
  Eigen::Block<Matrix<S>, Eigen::Dynamic, Eigen::Dynamic, true> next() {
    const Index n = std::min(batch_size_, data_->size() - position_);
    io::to_unit_float(*data_, order_.data() + position_, n, buffer_.data());
    position_ += n;
    return buffer_.leftCols(n);
  }

 private:
  const io::Dataset* data_;
  Index batch_size_;
  std::uint64_t seed_;
  bool shuffle_;
  std::vector<Index> order_;
  Matrix<S> buffer_;
  Index position_ = 0;
};

/// Batches of the columns of a matrix held in memory (features x N, any
/// values: sensor readings, embeddings, tabular rows).
template <class S = float>
class MatrixBatcher {
 public:
  /// `data` must outlive the batcher.
  MatrixBatcher(const Matrix<S>& data, Index batch_size, std::uint64_t seed, bool shuffle = true)
      : data_(&data), batch_size_(batch_size), seed_(seed), shuffle_(shuffle), order_(static_cast<std::size_t>(data.cols())) {
    detail::check_batching(batch_size, data.cols(), "vae::MatrixBatcher");
    buffer_.resize(data.rows(), std::min(batch_size, data.cols()));
  }

  Index features() const { return data_->rows(); }
  Index size() const { return data_->cols(); }
  Index batch_size() const { return batch_size_; }
  Index batches_per_epoch() const { return (size() + batch_size_ - 1) / batch_size_; }

  void start_epoch(int epoch) {
    detail::shuffle_epoch(order_, seed_, epoch, shuffle_);
    position_ = 0;
  }

  /// The next batch (columns of the data in this epoch's order), or an empty
  /// block at the end of the epoch; valid until the next call.
  Eigen::Block<Matrix<S>, Eigen::Dynamic, Eigen::Dynamic, true> next() {
    const Index n = std::min(batch_size_, size() - position_);
    for (Index j = 0; j < n; ++j) buffer_.col(j) = data_->col(order_[static_cast<std::size_t>(position_ + j)]);
    position_ += n;
    return buffer_.leftCols(n);
  }

 private:
  const Matrix<S>* data_;
  Index batch_size_;
  std::uint64_t seed_;
  bool shuffle_;
  std::vector<Index> order_;
  Matrix<S> buffer_;
  Index position_ = 0;
};

}  // namespace vae
