#pragma once
// The training loop: epochs of shuffled mini-batches, a progress report, the
// test-set loss after each epoch and a per-epoch callback.
//
// Every random stream is derived from TrainOptions::seed and the epoch
// number, so a run resumed at the start of epoch k (same model parameters,
// optimizer state and options) continues exactly as an uninterrupted run.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"
#include "vae/io/idx.hpp"
#include "vae/losses.hpp"
#include "vae/train/batcher.hpp"
#include "vae/train/progress.hpp"

namespace vae {

struct TrainOptions {
  int epochs = 20;
  Index batch_size = 128;
  std::uint64_t seed = 0;
  bool shuffle = true;
  /// Batch size used to evaluate the test set (memory, not results).
  Index eval_batch_size = 1000;
  /// First epoch to run (0-based); epochs [start_epoch, epochs) are run.
  int start_epoch = 0;
  /// Where progress goes; nullptr = silent.
  std::ostream* progress = nullptr;
  ProgressStyle style = ProgressStyle::Lines;
};

/// Per-sample losses of one epoch.
struct EpochStats {
  int epoch = 0;  // 0-based
  LossParts<double> train;
  LossParts<double> test;
  bool has_test = false;
  double seconds = 0;
  double samples_per_second = 0;
};

namespace detail {

inline constexpr std::uint64_t kNoiseStream = 0x9E3779B97F4A7C15ull;
inline constexpr std::uint64_t kEvalStream = 0xD1B54A32D192ED03ull;

/// The generator for stream `stream` of epoch `epoch` under `seed`.
inline Rng epoch_rng(std::uint64_t seed, std::uint64_t stream, int epoch) {
  return Rng(seed ^ stream, static_cast<std::uint64_t>(epoch) << 40);
}

inline void accumulate(LossParts<double>& sum, const LossParts<float>& p, Index n) {
  sum.reconstruction += double(p.reconstruction) * double(n);
  sum.kl += double(p.kl) * double(n);
  sum.total += double(p.total) * double(n);
}
inline void accumulate(LossParts<double>& sum, const LossParts<double>& p, Index n) {
  sum.reconstruction += p.reconstruction * double(n);
  sum.kl += p.kl * double(n);
  sum.total += p.total * double(n);
}
inline LossParts<double> divide(LossParts<double> sum, double n) {
  return {sum.reconstruction / n, sum.kl / n, sum.total / n};
}

template <class Model>
void check_features(const io::Dataset& data, const char* which) {
  if (data.features() != Model::input_size)
    throw ShapeError(std::string("vae::fit: the ") + which + " set has " + std::to_string(data.features()) +
                     " features per sample, the model takes " + std::to_string(Model::input_size));
}

inline std::string epoch_summary(const EpochStats& s, int epochs) {
  char buf[256];
  int n = std::snprintf(buf, sizeof buf, "epoch %d/%d: train %.4f (rec %.4f, kl %.4f)", s.epoch + 1, epochs,
                        s.train.total, s.train.reconstruction, s.train.kl);
  if (s.has_test)
    n += std::snprintf(buf + n, sizeof buf - std::size_t(n), ", test %.4f (rec %.4f, kl %.4f)", s.test.total,
                       s.test.reconstruction, s.test.kl);
  std::snprintf(buf + n, sizeof buf - std::size_t(n), ", %.0f samples/s, %.1f s", s.samples_per_second, s.seconds);
  return buf;
}

}  // namespace detail

/// Loss per sample of `model` over all of `data`, in batches; a VAE draws its
/// noise from Rng(seed ^ eval stream, epoch << 40).
template <class Model>
LossParts<double> evaluate(const Model& model, const io::Dataset& data, Index batch_size = 1000, std::uint64_t seed = 0,
                           int epoch = 0) {
  using S = typename Model::Scalar;
  detail::check_features<Model>(data, "evaluation");
  Batcher<S> batches(data, batch_size, 0, /*shuffle=*/false);
  batches.start_epoch(0);
  Rng rng = detail::epoch_rng(seed, detail::kEvalStream, epoch);
  LossParts<double> sum;
  for (Index b = 0; b < batches.batches_per_epoch(); ++b) {
    const auto x = batches.next();
    detail::accumulate(sum, model.evaluate(x, rng), x.cols());
  }
  return detail::divide(sum, double(data.size()));
}

/// Trains `model` with `optimizer` on `train` for epochs [start_epoch, epochs),
/// evaluating on `test` (when not null) after each epoch. Throws NumericError
/// naming the epoch and batch if the loss stops being finite (the model then
/// holds the parameters of that step; keep checkpoints to go back).
template <class Model, class Opt>
std::vector<EpochStats> fit(Model& model, Opt& optimizer, const io::Dataset& train, const io::Dataset* test,
                            const TrainOptions& options, const std::function<void(const EpochStats&)>& on_epoch = {}) {
  using S = typename Model::Scalar;
  detail::check_features<Model>(train, "training");
  if (test) detail::check_features<Model>(*test, "test");
  if (options.epochs < 0 || options.start_epoch < 0)
    throw ValueError("vae::fit: epochs is " + std::to_string(options.epochs) + " and start_epoch " +
                     std::to_string(options.start_epoch) + ", expected both >= 0");
  Batcher<S> batches(train, options.batch_size, options.seed, options.shuffle);
  ProgressReporter progress(options.progress, options.style, options.epochs, batches.batches_per_epoch());
  std::vector<EpochStats> history;
  for (int epoch = options.start_epoch; epoch < options.epochs; ++epoch) {
    batches.start_epoch(epoch);
    progress.start_epoch(epoch);
    Rng noise = detail::epoch_rng(options.seed, detail::kNoiseStream, epoch);
    LossParts<double> sum;
    for (Index b = 0; b < batches.batches_per_epoch(); ++b) {
      const auto x = batches.next();
      const auto parts = model.train_step(x, optimizer, noise);
      if (!std::isfinite(static_cast<double>(parts.total)))
        throw NumericError("vae::fit: the loss became " + std::to_string(static_cast<double>(parts.total)) +
                           " at epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(b + 1) + " of " +
                           std::to_string(batches.batches_per_epoch()));
      detail::accumulate(sum, parts, x.cols());
      progress.batch_done(b, x.cols(), static_cast<double>(parts.total));
    }
    EpochStats stats;
    stats.epoch = epoch;
    stats.seconds = progress.epoch_seconds();
    stats.samples_per_second = double(train.size()) / stats.seconds;
    stats.train = detail::divide(sum, double(train.size()));
    if (test) {
      stats.test = evaluate(model, *test, options.eval_batch_size, options.seed, epoch);
      stats.has_test = true;
    }
    progress.end_epoch(detail::epoch_summary(stats, options.epochs));
    history.push_back(stats);
    if (on_epoch) on_epoch(stats);
  }
  return history;
}

}  // namespace vae
