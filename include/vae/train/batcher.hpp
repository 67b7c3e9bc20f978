#pragma once
// Seeded shuffling and mini-batches of a byte dataset as float matrices.
//
// The order of epoch e is a pure function of (seed, e): the permutation is
// drawn from Rng(seed, e * 2^40), so a run resumed at an epoch boundary sees
// the same batches as one that never stopped.

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"
#include "vae/io/idx.hpp"

namespace vae {

template <class S = float>
class Batcher {
 public:
  /// Batches of `batch_size` samples (the last one of an epoch may be
  /// smaller) from `data`, which must outlive the batcher.
  Batcher(const io::Dataset& data, Index batch_size, std::uint64_t seed, bool shuffle = true)
      : data_(&data), batch_size_(batch_size), seed_(seed), shuffle_(shuffle), order_(static_cast<std::size_t>(data.size())) {
    if (batch_size < 1) throw ValueError("vae::Batcher: batch size is " + std::to_string(batch_size) + ", expected >= 1");
    if (data.size() < 1) throw ShapeError("vae::Batcher: the dataset is empty");
    buffer_.resize(data.features(), batch_size);
  }

  /// Number of batches in one epoch.
  Index batches_per_epoch() const { return (data_->size() + batch_size_ - 1) / batch_size_; }
  Index batch_size() const { return batch_size_; }

  /// Starts epoch `epoch`: resets the order (shuffled when enabled).
  void start_epoch(int epoch) {
    std::iota(order_.begin(), order_.end(), Index(0));
    if (shuffle_) {
      Rng rng(seed_, static_cast<std::uint64_t>(epoch) << 40);
      rng.shuffle(order_.begin(), order_.end());
    }
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

}  // namespace vae
