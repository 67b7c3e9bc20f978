#pragma once
// The training loop: epochs of mini-batches from any batch source
// (train/sources.hpp), a progress report, the test-set loss after each epoch
// and a per-epoch callback.
//
// Every random stream is derived from TrainOptions::seed and the epoch
// number, so a run resumed at the start of epoch k (same model parameters,
// optimizer state and options) continues exactly as an uninterrupted run.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"
#include "vae/data/idx.hpp"
#include "vae/losses/objective.hpp"
#include "vae/models/requirements.hpp"
#include "vae/train/progress.hpp"
#include "vae/train/sources.hpp"
#include "vae/train/thread_tuner.hpp"

namespace vae {

/// How fit() trains: epochs, batches, the seed of every random stream,
/// progress output and data-parallel settings.
struct TrainOptions {
  /// Epochs to train to: the run ends after epoch epochs - 1 (0-based).
  int epochs = 20;
  /// Samples per training step (the last batch of an epoch may be smaller).
  Index batch_size = 128;
  /// Seeds the shuffle, the VAE's noise and the test evaluation's noise.
  std::uint64_t seed = 0;
  /// Visit the training samples in a new order each epoch.
  bool shuffle = true;
  /// Batch size used to evaluate the test set (memory, not results).
  Index eval_batch_size = 1000;
  /// First epoch to run (0-based); epochs [start_epoch, epochs) are run.
  int start_epoch = 0;
  /// On the CPU backend with more than one thread: time the steps and run
  /// on one thread while that is faster, as when another process keeps a
  /// core busy (train/thread_tuner.hpp). Results do not depend on it.
  bool adapt_threads = true;
  /// Where progress goes; nullptr = silent.
  std::ostream* progress = nullptr;
  /// How progress is drawn on `progress`.
  ProgressStyle style = ProgressStyle::Lines;
  /// Data-parallel training (vae/parallel/mpi.hpp sets these): this
  /// process's part of every epoch and of the noise stream, and a function
  /// that sums n doubles across processes in place, so that the reported
  /// losses are those of the whole epoch. The defaults train alone.
  Shard shard;
  /// Empty when training alone.
  std::function<void(double* values, int n)> sum_across;
};

/// Per-sample losses of one epoch.
struct EpochStats {
  /// The epoch (0-based).
  int epoch = 0;  // 0-based
  /// Mean training loss per sample over the epoch's steps.
  LossParts<double> train;
  /// Loss per sample on the test set after the epoch (when has_test).
  LossParts<double> test;
  /// Whether a test set was evaluated.
  bool has_test = false;
  /// Wall time of the epoch's training steps.
  double seconds = 0;
  /// Training samples (of all processes) per second.
  double samples_per_second = 0;
};

namespace detail {

inline constexpr std::uint64_t kNoiseStream = 0x9E3779B97F4A7C15ull;
inline constexpr std::uint64_t kEvalStream = 0xD1B54A32D192ED03ull;

/// The generator for stream `stream` of epoch `epoch` under `seed`.
inline Rng epoch_rng(std::uint64_t seed, std::uint64_t stream, int epoch) {
  return Rng(seed ^ stream, static_cast<std::uint64_t>(epoch) << 40);
}

template <class S>
void accumulate(LossParts<double>& sum, const LossParts<S>& p, Index n) {
  sum.reconstruction += double(p.reconstruction) * double(n);
  sum.kl += double(p.kl) * double(n);
  sum.total += double(p.total) * double(n);
}
inline LossParts<double> divide(LossParts<double> sum, double n) {
  return {sum.reconstruction / n, sum.kl / n, sum.total / n};
}

/// A conditional model's number of classes (its batches carry one-hot
/// labels); 0 for any other model.
template <class Model, class = void>
struct has_classes : std::false_type {};
template <class Model>
struct has_classes<Model, std::void_t<decltype(Model::classes)>> : std::true_type {};
template <class Model>
constexpr Index classes_of() {
  if constexpr (has_classes<Model>::value) {
    return Model::classes;
  } else {
    return 0;
  }
}

template <class Model, class Src>
void check_source(const Model& model, const Src& src, const char* which) {
  static_assert(is_batch_source_v<Src, typename Model::Scalar>,
                "vae::fit / vae::evaluate: the data must be an io::Dataset, a vae::Matrix<S> or a batch source "
                "(features(), size(), start_epoch(int), next(); see vae/train/sources.hpp)");
  const Index inputs = model.num_inputs();
  if (src.features() != inputs)
    throw ShapeError(std::string("vae::fit: the ") + which + " data has " + std::to_string(src.features()) +
                     " features per sample, the model takes " + std::to_string(inputs) +
                     (classes_of<Model>() > 0
                          ? " (" + std::to_string(inputs - classes_of<Model>()) + " features, then a " +
                                std::to_string(classes_of<Model>()) +
                                "-class one-hot label: vae::Batcher's label_classes, or vae::with_labels)"
                          : std::string()));
}

/// Throws ValueError naming the TrainOptions field that is out of its range.
inline void check_options(const TrainOptions& options) {
  if (options.epochs < 0 || options.start_epoch < 0)
    throw ValueError("vae::fit: TrainOptions::epochs is " + std::to_string(options.epochs) + " and start_epoch " +
                     std::to_string(options.start_epoch) + ", expected both >= 0");
  if (options.batch_size < 1)
    throw ValueError("vae::fit: TrainOptions::batch_size is " + std::to_string(options.batch_size) + ", expected >= 1");
  if (options.eval_batch_size < 1)
    throw ValueError("vae::fit: TrainOptions::eval_batch_size is " + std::to_string(options.eval_batch_size) +
                     ", expected >= 1");
}

/// Throws ValueError naming the first element of `data` (one sample per
/// column) that is not finite, before any training step sees it.
template <class S>
void check_finite(const Matrix<S>& data, const char* which) {
  if (data.allFinite()) return;
  for (Index j = 0; j < data.cols(); ++j)
    for (Index i = 0; i < data.rows(); ++i)
      if (!std::isfinite(static_cast<double>(data(i, j))))
        throw ValueError(std::string("vae::fit: the ") + which + " data holds " +
                         std::to_string(static_cast<double>(data(i, j))) + " at row " + std::to_string(i) +
                         ", column " + std::to_string(j) + " (sample " + std::to_string(j) +
                         "); expected finite values");
}

/// f() for batch `batch` of epoch `epoch` (0-based); a vae::Error it throws
/// comes out as the same kind with the epoch and batch before its message.
template <class F>
decltype(auto) at_batch(int epoch, Index batch, F&& f) {
  const auto where = [&] {
    return "vae::fit: epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(batch + 1) + ": ";
  };
  try {
    return f();
  } catch (const ShapeError& e) {
    throw ShapeError(where() + e.what());
  } catch (const ValueError& e) {
    throw ValueError(where() + e.what());
  }
}

/// "epoch 3/20: train 40.1 (rec 35.2, kl 4.9), test ..., 9000 samples/s, 6.1 s"
/// (std::string throughout: no length of number can overflow it).
inline std::string epoch_summary(const EpochStats& s, int epochs) {
  const auto num = [](const char* format, double v) {
    char buf[400];
    std::snprintf(buf, sizeof buf, format, v);  // %.4f of the largest double is 315 bytes
    return std::string(buf);
  };
  const auto parts = [&](const LossParts<double>& p) {
    return num("%.4f", p.total) + " (rec " + num("%.4f", p.reconstruction) + ", kl " + num("%.4f", p.kl) + ")";
  };
  std::string line = "epoch " + std::to_string(s.epoch + 1) + "/" + std::to_string(epochs) + ": train " + parts(s.train);
  if (s.has_test) line += ", test " + parts(s.test);
  return line + ", " + num("%.0f", s.samples_per_second) + " samples/s, " + num("%.1f", s.seconds) + " s";
}

template <class Opt, class Model>
void check_optimizer_for() {
  static_assert(is_optimizer<Opt, typename Model::Scalar>::value,
                "vae::fit: the optimizer must provide step(vae::View<S> params, vae::ConstView<S> grads) for the "
                "model's scalar type S (e.g. vae::Adam<double> for a double model)");
}

}  // namespace detail

/// The generator fit() evaluates the test set with after epoch `epoch`:
/// vae::evaluate(model, test, rng) with it reproduces fit's test loss.
inline Rng evaluation_rng(std::uint64_t seed, int epoch) { return detail::epoch_rng(seed, detail::kEvalStream, epoch); }

namespace detail {

/// Loss sums over one epoch of `source` and the sample count, summed across
/// processes by `sum_across` when given.
template <class Model, class Src>
LossParts<double> evaluate_sums(const Model& model, Src& source, Rng& rng, Index& samples,
                                const std::function<void(double*, int)>& sum_across) {
  check_source(model, source, "evaluation");
  source.start_epoch(0);
  LossParts<double> sum;
  samples = 0;
  while (true) {
    const auto x = source.next();
    if (x.cols() == 0) break;
    accumulate(sum, model.evaluate(x, rng), x.cols());
    samples += x.cols();
  }
  if (sum_across) {
    double v[4] = {sum.reconstruction, sum.kl, sum.total, double(samples)};
    sum_across(v, 4);
    sum = {v[0], v[1], v[2]};
    samples = static_cast<Index>(v[3]);
  }
  return sum;
}

}  // namespace detail

/// Loss per sample of `model` over one epoch of `source`, drawing a VAE's
/// noise from rng, batch after batch, as model.evaluate(batch, rng) does.
template <class Model, class Src, std::enable_if_t<is_batch_source_v<Src, typename Model::Scalar>, int> = 0>
LossParts<double> evaluate(const Model& model, Src& source, Rng& rng) {
  Index n = 0;
  const LossParts<double> sum = detail::evaluate_sums(model, source, rng, n, {});
  if (n == 0) throw ShapeError("vae::evaluate: the evaluation data is empty");
  return detail::divide(sum, double(n));
}

/// @{
/// The same over all of a byte data set (values byte / 255), or of a matrix
/// (one sample per column), in batches of batch_size (memory, not results).
template <class Model>
LossParts<double> evaluate(const Model& model, const io::Dataset& data, Rng& rng, Index batch_size = 1000) {
  Batcher<typename Model::Scalar> batches(data, batch_size, 0, /*shuffle=*/false, Shard{}, detail::classes_of<Model>());
  return evaluate(model, batches, rng);
}
template <class Model>
LossParts<double> evaluate(const Model& model, const Matrix<typename Model::Scalar>& data, Rng& rng,
                           Index batch_size = 1000) {
  MatrixBatcher<typename Model::Scalar> batches(data, batch_size, 0, /*shuffle=*/false);
  return evaluate(model, batches, rng);
}
/// @}

/// The first release's form, which made evaluation_rng(seed, epoch) itself.
template <class Model>
[[deprecated("use vae::evaluate(model, data, vae::evaluation_rng(seed, epoch), batch_size)")]]
LossParts<double> evaluate(const Model& model, const io::Dataset& data, Index batch_size = 1000,
                           std::uint64_t seed = 0, int epoch = 0) {
  Rng rng = evaluation_rng(seed, epoch);
  return evaluate(model, data, rng, batch_size);
}

/// @{
/// The same with a generator of its own, such as
/// `vae::evaluate(model, test, vae::evaluation_rng(seed, epoch))`.
template <class Model, class Src, std::enable_if_t<is_batch_source_v<Src, typename Model::Scalar>, int> = 0>
LossParts<double> evaluate(const Model& model, Src& source, Rng&& rng) {
  return evaluate(model, source, rng);
}
template <class Model>
LossParts<double> evaluate(const Model& model, const io::Dataset& data, Rng&& rng, Index batch_size = 1000) {
  return evaluate(model, data, rng, batch_size);
}
template <class Model>
LossParts<double> evaluate(const Model& model, const Matrix<typename Model::Scalar>& data, Rng&& rng,
                           Index batch_size = 1000) {
  return evaluate(model, data, rng, batch_size);
}
/// @}

/// Trains `model` with `optimizer` on `train` (a batch source) for epochs
/// [start_epoch, epochs), evaluating on `test` (when not null) after each
/// epoch with evaluation_rng(seed, epoch). options.batch_size, seed and
/// shuffle are the source's business here. Throws NumericError naming the
/// epoch and batch if the loss stops being finite (the model then holds the
/// parameters of that step; keep checkpoints to go back).
template <class Model, class Opt, class Src, class TestSrc = Src,
          std::enable_if_t<is_batch_source_v<Src, typename Model::Scalar>, int> = 0>
std::vector<EpochStats> fit(Model& model, Opt& optimizer, Src& train, TestSrc* test, const TrainOptions& options,
                            const std::function<void(const EpochStats&)>& on_epoch = {}) {
  detail::check_optimizer_for<Opt, Model>();
  std::vector<EpochStats> history;
  if constexpr (detail::is_optimizer<Opt, typename Model::Scalar>::value) {
    detail::check_source(model, train, "training");
    if (test) detail::check_source(model, *test, "test");
    detail::check_options(options);
    const Index size = train.size();
    const Index batches = size > 0 ? (size + options.batch_size - 1) / options.batch_size : 0;
    ProgressReporter progress(options.progress, options.style, options.epochs, batches);
    // One process only: under data parallelism a step's time includes the other processes'.
    detail::ThreadTuner tuner(options.adapt_threads && options.shard.count == 1 &&
                              std::is_same_v<typename Model::Backend, Cpu>);
    for (int epoch = options.start_epoch; epoch < options.epochs; ++epoch) {
      train.start_epoch(epoch);
      progress.start_epoch(epoch);
      Rng noise = detail::epoch_rng(options.seed, detail::kNoiseStream, epoch);
      noise.share(static_cast<std::uint64_t>(options.shard.rank), static_cast<std::uint64_t>(options.shard.count));
      LossParts<double> sum;
      Index samples = 0, b = 0;
      for (;; ++b) {
        const auto x = train.next();
        if (x.cols() == 0) break;
        tuner.before_step();
        const auto parts = detail::at_batch(epoch, b, [&] { return model.train_step(x, optimizer, noise); });
        tuner.after_step(x.cols());
        if (!std::isfinite(static_cast<double>(parts.total)))
          throw NumericError("vae::fit: the loss became " + std::to_string(static_cast<double>(parts.total)) +
                             " at epoch " + std::to_string(epoch + 1) + ", batch " + std::to_string(b + 1) +
                             (batches > 0 ? " of " + std::to_string(batches) : std::string()));
        detail::accumulate(sum, parts, x.cols());
        samples += x.cols();
        progress.batch_done(b, x.cols(), static_cast<double>(parts.total));
      }
      if (samples == 0) throw ShapeError("vae::fit: the training data gave no batch in epoch " + std::to_string(epoch + 1));
      EpochStats stats;
      stats.epoch = epoch;
      stats.seconds = progress.epoch_seconds();
      if (options.sum_across) {
        double v[4] = {sum.reconstruction, sum.kl, sum.total, double(samples)};
        options.sum_across(v, 4);
        sum = {v[0], v[1], v[2]};
        samples = static_cast<Index>(v[3]);
      }
      stats.samples_per_second = double(samples) / stats.seconds;
      stats.train = detail::divide(sum, double(samples));
      if (test) {
        Rng rng = evaluation_rng(options.seed, epoch);
        rng.share(static_cast<std::uint64_t>(options.shard.rank), static_cast<std::uint64_t>(options.shard.count));
        Index n = 0;
        const LossParts<double> test_sum = detail::evaluate_sums(model, *test, rng, n, options.sum_across);
        if (n == 0) throw ShapeError("vae::fit: the test data is empty");
        stats.test = detail::divide(test_sum, double(n));
        stats.has_test = true;
      }
      progress.end_epoch(detail::epoch_summary(stats, options.epochs));
      history.push_back(stats);
      if (on_epoch) on_epoch(stats);
    }
  }
  return history;
}

/// fit on a batch source with no test set: `vae::fit(model, opt, source,
/// nullptr, options)` (a null pointer names no source type to deduce).
template <class Model, class Opt, class Src, std::enable_if_t<is_batch_source_v<Src, typename Model::Scalar>, int> = 0>
std::vector<EpochStats> fit(Model& model, Opt& optimizer, Src& train, std::nullptr_t, const TrainOptions& options,
                            const std::function<void(const EpochStats&)>& on_epoch = {}) {
  return fit(model, optimizer, train, static_cast<Src*>(nullptr), options, on_epoch);
}

/// fit on a byte data set (values byte / 255), batched and shuffled by
/// options.batch_size, seed and shuffle; the test set is evaluated in
/// batches of options.eval_batch_size.
template <class Model, class Opt>
std::vector<EpochStats> fit(Model& model, Opt& optimizer, const io::Dataset& train, const io::Dataset* test,
                            const TrainOptions& options, const std::function<void(const EpochStats&)>& on_epoch = {}) {
  using S = typename Model::Scalar;
  detail::check_options(options);
  const Index classes = detail::classes_of<Model>();
  Batcher<S> batches(train, options.batch_size, options.seed, options.shuffle, options.shard, classes);
  if (!test) return fit(model, optimizer, batches, static_cast<Batcher<S>*>(nullptr), options, on_epoch);
  Batcher<S> test_batches(*test, options.eval_batch_size, 0, /*shuffle=*/false,
                          Shard{options.shard.rank, options.shard.count, /*pad=*/false}, classes);
  return fit(model, optimizer, batches, &test_batches, options, on_epoch);
}

/// fit on a matrix held in memory (features x N, one sample per column).
template <class Model, class Opt>
std::vector<EpochStats> fit(Model& model, Opt& optimizer, const Matrix<typename Model::Scalar>& train,
                            const Matrix<typename Model::Scalar>* test, const TrainOptions& options,
                            const std::function<void(const EpochStats&)>& on_epoch = {}) {
  using S = typename Model::Scalar;
  detail::check_options(options);
  detail::check_finite(train, "training");
  if (test) detail::check_finite(*test, "test");
  MatrixBatcher<S> batches(train, options.batch_size, options.seed, options.shuffle, options.shard);
  if (!test) return fit(model, optimizer, batches, static_cast<MatrixBatcher<S>*>(nullptr), options, on_epoch);
  MatrixBatcher<S> test_batches(*test, options.eval_batch_size, 0, /*shuffle=*/false,
                                Shard{options.shard.rank, options.shard.count, /*pad=*/false});
  return fit(model, optimizer, batches, &test_batches, options, on_epoch);
}

}  // namespace vae
