#pragma once
// Sources of training batches. fit() and evaluate() take any type with
//   Index features() const;       rows of every batch (one sample per column)
//   Index size() const;           samples per epoch, or 0 when unknown
//   void start_epoch(int epoch);  rewind; reorder for that epoch if it can
//   X next();                     the next batch, convertible to
//                                 MatrixRef<S>; 0 columns at the epoch's end
// (checked by is_batch_source_v). The library has two:
//   Batcher<S>:       a byte io::Dataset, scaled to [0, 1] batch by batch
//                     (with one-hot labels below the pixels for a
//                     conditional model);
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

/// The part of every epoch one process trains on, for data-parallel training
/// (DistributedSampler's semantics): every process draws the same shuffle,
/// `pad` repeats its first samples until the count divides by `count` (so
/// every process takes the same number of steps), and each global batch of
/// count x batch_size samples is cut into `count` consecutive slices, slice
/// `rank` going to process `rank`. The slices are disjoint and cover the
/// epoch, and together they are the batch one process would take at
/// count x batch_size. The default is the whole data set.
struct Shard {
  /// This process's slice, in [0, count).
  Index rank = 0;
  /// Number of processes.
  Index count = 1;
  /// Repeat the first samples so that every process gets as many (training);
  /// false for evaluation, where every sample counts once.
  bool pad = true;
};

namespace detail {

/// The key of the shuffling stream: apart from weight initialisation's
/// Rng(seed) and the trainer's noise streams.
inline constexpr std::uint64_t kShuffleStream = 0x5851F42D4C957F2Dull;

/// The order of one epoch and this process's walk through it.
class EpochOrder {
 public:
  EpochOrder(Index size, Index batch_size, std::uint64_t seed, bool shuffle, Shard shard, const char* who)
      : size_(size), batch_(batch_size), seed_(seed), shuffle_(shuffle), shard_(shard) {
    if (batch_size < 1) throw ValueError(std::string(who) + ": batch size is " + std::to_string(batch_size) + ", expected >= 1");
    if (size < 1) throw ShapeError(std::string(who) + ": the data set is empty");
    if (shard.count < 1 || shard.rank < 0 || shard.rank >= shard.count)
      throw ValueError(std::string(who) + ": shard " + std::to_string(shard.rank) + " of " +
                       std::to_string(shard.count) + ", expected a rank in [0, count)");
    const Index padded = shard.pad ? (size + shard.count - 1) / shard.count * shard.count : size;
    order_.resize(static_cast<std::size_t>(padded));
  }

  /// Samples this process takes per epoch.
  Index samples() const {
    const Index n = static_cast<Index>(order_.size()), c = shard_.count;
    Index mine = 0;
    for (Index first = 0; first < n; first += c * batch_) mine += slice(std::min(c * batch_, n - first)).second;
    return mine;
  }
  Index batch_size() const { return batch_; }

  void start_epoch(int epoch) {
    std::iota(order_.begin(), order_.begin() + size_, Index(0));
    if (shuffle_) {
      Rng rng(seed_ ^ kShuffleStream, static_cast<std::uint64_t>(epoch) << 40);
      rng.shuffle(order_.begin(), order_.begin() + size_);
    }
    for (std::size_t k = static_cast<std::size_t>(size_); k < order_.size(); ++k) order_[k] = order_[k - std::size_t(size_)];
    position_ = 0;
  }

  /// Indices of this process's next batch (n of them at `first`); n = 0 at
  /// the end of the epoch.
  std::pair<const Index*, Index> next() {
    const Index n = static_cast<Index>(order_.size()) - position_;
    if (n <= 0) return {nullptr, 0};
    const Index global = std::min(shard_.count * batch_, n);
    const auto [offset, count] = slice(global);
    const Index* first = order_.data() + position_ + offset;
    position_ += global;
    return {first, count};
  }

 private:
  /// This rank's slice of a global batch of m samples: offset and count.
  std::pair<Index, Index> slice(Index m) const {
    const Index per = m / shard_.count, extra = m % shard_.count, r = shard_.rank;
    return {r * per + std::min(r, extra), per + (r < extra ? 1 : 0)};
  }

  Index size_, batch_;
  std::uint64_t seed_;
  bool shuffle_;
  Shard shard_;
  std::vector<Index> order_;
  Index position_ = 0;
};

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
  /// smaller) from `data`, which must outlive the batcher. With
  /// `label_classes` > 0 each column also carries its image's label, one-hot
  /// in label_classes rows after the pixels (a conditional model's input);
  /// throws ShapeError when the data set has no labels and ValueError naming
  /// the first label outside [0, label_classes).
  Batcher(const io::Dataset& data, Index batch_size, std::uint64_t seed, bool shuffle = true, Shard shard = {},
          Index label_classes = 0)
      : data_(&data), order_(data.size(), batch_size, seed, shuffle, shard, "vae::Batcher"), classes_(label_classes) {
    if (classes_ < 0) throw ValueError("vae::Batcher: label_classes is " + std::to_string(classes_) + ", expected >= 0");
    if (classes_ > 0) {
      if (static_cast<Index>(data.labels.size()) != data.size())
        throw ShapeError("vae::Batcher: a conditional model needs one label per image; the data set has " +
                         std::to_string(data.labels.size()) + " labels for " + std::to_string(data.size()) + " images");
      for (std::size_t i = 0; i < data.labels.size(); ++i)
        if (data.labels[i] >= classes_)
          throw ValueError("vae::Batcher: label " + std::to_string(int(data.labels[i])) + " of image " +
                           std::to_string(i) + " is outside [0, " + std::to_string(classes_) + ")");
    }
    buffer_.resize(data.features() + classes_, std::min(batch_size, data.size()));
  }

  /// Rows of a batch: the pixels of an image (and the one-hot label's rows).
  Index features() const { return data_->features() + classes_; }
  /// Samples per epoch (this process's share of them under a Shard).
  Index size() const { return order_.samples(); }
  /// Samples per batch (the last batch of an epoch may have fewer).
  Index batch_size() const { return order_.batch_size(); }
  /// Number of batches in one epoch.
  Index batches_per_epoch() const { return (size() + batch_size() - 1) / batch_size(); }

  /// Starts epoch `epoch`: resets the order (shuffled when enabled).
  void start_epoch(int epoch) { order_.start_epoch(epoch); }

  /// The next batch (features x n, values in [0, 1]) or an empty block at the
  /// end of the epoch. The returned block stays valid until the next call.
  Eigen::Block<Matrix<S>, Eigen::Dynamic, Eigen::Dynamic, true> next() {
    const auto [indices, n] = order_.next();
    if (classes_ == 0) {
      io::to_unit_float(*data_, indices, n, buffer_.data());
    } else {
      const Index pixels = data_->features();
      for (Index j = 0; j < n; ++j) {
        io::to_unit_float(*data_, indices + j, 1, buffer_.col(j).data());
        buffer_.col(j).tail(classes_).setZero();
        buffer_(pixels + data_->labels[std::size_t(indices[j])], j) = S(1);
      }
    }
    return buffer_.leftCols(n);
  }

 private:
  const io::Dataset* data_;
  detail::EpochOrder order_;
  Index classes_;
  Matrix<S> buffer_;
};

/// Batches of the columns of a matrix held in memory (features x N, any
/// values: sensor readings, embeddings, tabular rows).
template <class S = float>
class MatrixBatcher {
 public:
  /// `data` must outlive the batcher.
  MatrixBatcher(const Matrix<S>& data, Index batch_size, std::uint64_t seed, bool shuffle = true, Shard shard = {})
      : data_(&data), order_(data.cols(), batch_size, seed, shuffle, shard, "vae::MatrixBatcher") {
    buffer_.resize(data.rows(), std::min(batch_size, data.cols()));
  }

  /// Rows of a batch: the data's rows.
  Index features() const { return data_->rows(); }
  /// Samples per epoch (this process's share of them under a Shard).
  Index size() const { return order_.samples(); }
  /// Samples per batch (the last batch of an epoch may have fewer).
  Index batch_size() const { return order_.batch_size(); }
  /// Number of batches in one epoch.
  Index batches_per_epoch() const { return (size() + batch_size() - 1) / batch_size(); }

  /// Starts epoch `epoch`: resets the order (shuffled when enabled).
  void start_epoch(int epoch) { order_.start_epoch(epoch); }

  /// The next batch (columns of the data in this epoch's order), or an empty
  /// block at the end of the epoch; valid until the next call.
  Eigen::Block<Matrix<S>, Eigen::Dynamic, Eigen::Dynamic, true> next() {
    const auto [indices, n] = order_.next();
    for (Index j = 0; j < n; ++j) buffer_.col(j) = data_->col(indices[j]);
    return buffer_.leftCols(n);
  }

 private:
  const Matrix<S>* data_;
  detail::EpochOrder order_;
  Matrix<S> buffer_;
};

}  // namespace vae
