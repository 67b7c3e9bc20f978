#pragma once
// A training run that can stop and go on, in two calls around fit:
//
//   vae::TrainOptions options;              // epochs, batch_size, seed: the run's
//   options = vae::io::resume_or_start("run.ckpt", model, optimizer, options);
//   vae::fit(model, optimizer, train, &test, options,
//            vae::io::checkpoint_each_epoch("run.ckpt", model, optimizer, options));
//
// The first run starts at epoch 0; a run started again after a stop (a
// crash, a kill, a machine taken away) loads the model, Adam's state and the
// position from the last checkpoint and trains the remaining epochs, ending
// with the same bits as a run that never stopped (the batches, the noise and
// the evaluation depend only on the seed and the epoch). The batch size is
// the caller's: give the same one again.

#include <filesystem>
#include <functional>
#include <string>
#include <system_error>

#include "vae/serialization/checkpoint.hpp"
#include "vae/train/trainer.hpp"

namespace vae::io {

/// When `path` exists: loads the model, the optimizer state and the training
/// position from it and returns `options` with start_epoch and seed set
/// from the position (the run's own seed, whatever options.seed says), so
/// fit trains the epochs that remain. When it does not: returns `options`
/// unchanged, a run from epoch 0. Throws what load_checkpoint throws for a
/// file that is not this model's checkpoint or has no optimizer state or
/// position.
template <class Model, class B = typename Model::Backend>
TrainOptions resume_or_start(const std::string& path, Model& model, Adam<typename Model::Scalar, B>& optimizer,
                             TrainOptions options) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return options;
  TrainingPosition position;
  load_checkpoint(path, model, &optimizer, &position);
  options.start_epoch = static_cast<int>(position.next_epoch);
  options.seed = position.seed;
  return options;
}

/// fit's on_epoch callback that writes `path` (model, optimizer state and
/// the position after the epoch, atomically) after every epoch, or after
/// every `every` epochs and the last; `options` are the run's (its seed and
/// epochs). `then`, when given, is called after the save with the epoch's
/// statistics. model and optimizer must outlive the callback.
template <class Model, class B = typename Model::Backend>
std::function<void(const EpochStats&)> checkpoint_each_epoch(const std::string& path, const Model& model,
                                                              const Adam<typename Model::Scalar, B>& optimizer,
                                                              const TrainOptions& options, int every = 1,
                                                              std::function<void(const EpochStats&)> then = {}) {
  if (every < 1) throw ValueError("vae::io::checkpoint_each_epoch: every is " + std::to_string(every) + ", expected >= 1");
  const std::uint64_t seed = options.seed;
  const int epochs = options.epochs;
  return [path, &model, &optimizer, seed, epochs, every, then = std::move(then)](const EpochStats& s) {
    if ((s.epoch + 1) % every == 0 || s.epoch + 1 == epochs) {
      const TrainingPosition at{s.epoch + 1, seed};
      save_checkpoint(path, model, &optimizer, &at);
    }
    if (then) then(s);
  };
}

}  // namespace vae::io
