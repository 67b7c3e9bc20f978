#pragma once
// Progress reporting for training: a bar redrawn in place on a terminal,
// plain lines otherwise, nothing when silent. The library never prints on its
// own: output goes only to the stream the caller hands in.

#include <chrono>
#include <cstdio>
#include <ostream>
#include <string>

#include <unistd.h>

#include "vae/core/types.hpp"

namespace vae {

/// How fit() reports progress.
enum class ProgressStyle {
  /// A bar redrawn in place after a carriage return (for a terminal).
  Bar,
  /// One plain line per quarter epoch and per epoch end (for logs and pipes).
  Lines,
  /// Nothing.
  Silent,
};

/// Bar when standard error is a terminal, Lines otherwise.
inline ProgressStyle progress_style_for_stderr() { return ::isatty(2) ? ProgressStyle::Bar : ProgressStyle::Lines; }

namespace detail {

inline std::string format_duration(double seconds) {
  const long s = seconds < 0 ? 0 : static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

}  // namespace detail

/// Draws fit()'s progress on a stream: a bar or lines per epoch, with the
/// running loss, the speed and the time left.
class ProgressReporter {
 public:
  /// The clock of its timings.
  using Clock = std::chrono::steady_clock;

  /// Reports to `out` (nullptr: silent) on a run of `epochs` epochs of
  /// batches_per_epoch batches (0 when unknown: no bar, no estimate).
  ProgressReporter(std::ostream* out, ProgressStyle style, int epochs, Index batches_per_epoch)
      : out_(out), style_(out ? style : ProgressStyle::Silent), epochs_(epochs), batches_(batches_per_epoch) {}

  /// Starts epoch `epoch` (0-based): clears the running loss and the timer.
  void start_epoch(int epoch) {
    epoch_ = epoch;
    epoch_start_ = last_draw_ = Clock::now();
    samples_ = 0;
    loss_sum_ = 0;
    next_line_ = 1;
  }

  /// After batch `batch` (0-based) of `n` samples with loss per sample `loss`.
  void batch_done(Index batch, Index n, double loss) {
    samples_ += n;
    loss_sum_ += loss * static_cast<double>(n);
    if (style_ == ProgressStyle::Silent) return;
    const auto now = Clock::now();
    const bool last = batches_ > 0 && batch + 1 == batches_;
    if (style_ == ProgressStyle::Bar) {
      if (!last && now - last_draw_ < std::chrono::milliseconds(100)) return;
      last_draw_ = now;
      *out_ << '\r' << status(batch + 1, now) << "\x1b[K" << std::flush;
    } else if (batches_ > 0 && 4 * (batch + 1) >= next_line_ * batches_ && !last) {
      ++next_line_;
      *out_ << status(batch + 1, now) << '\n' << std::flush;
    }
  }

  /// Ends the epoch's bar with a summary line (`summary` from the trainer).
  void end_epoch(const std::string& summary) {
    if (style_ == ProgressStyle::Silent) return;
    if (style_ == ProgressStyle::Bar) *out_ << '\r' << "\x1b[K";
    *out_ << summary << '\n' << std::flush;
  }

  /// Mean loss per sample over the epoch's batches so far.
  double running_loss() const { return samples_ ? loss_sum_ / static_cast<double>(samples_) : 0.0; }
  /// Seconds since start_epoch.
  double epoch_seconds() const { return std::chrono::duration<double>(Clock::now() - epoch_start_).count(); }

 private:
  std::string status(Index done, Clock::time_point now) const {
    const double elapsed = std::chrono::duration<double>(now - epoch_start_).count();
    const double rate = elapsed > 0 ? static_cast<double>(samples_) / elapsed : 0.0;
    char buf[256];
    // A source of unknown length, or one that gave more batches than its
    // size and the batch size promised: no bar, no estimate.
    if (batches_ <= 0 || done > batches_) {
      std::snprintf(buf, sizeof buf, "epoch %d/%d batch %ld loss %.3g %.0f samples/s", epoch_ + 1, epochs_,
                    static_cast<long>(done), running_loss(), rate);
      return buf;
    }
    const double per_batch = elapsed / static_cast<double>(done);
    const double left = per_batch * static_cast<double>((batches_ - done) + (epochs_ - epoch_ - 1) * batches_);
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * done / batches_);
    std::snprintf(buf, sizeof buf, "epoch %d/%d [%s%s] %ld/%ld loss %.3g %.0f samples/s, %s left", epoch_ + 1, epochs_,
                  std::string(static_cast<std::size_t>(filled), '#').c_str(),
                  std::string(static_cast<std::size_t>(kWidth - filled), '.').c_str(), static_cast<long>(done),
                  static_cast<long>(batches_), running_loss(), rate, detail::format_duration(left).c_str());
    return buf;
  }

  std::ostream* out_;
  ProgressStyle style_;
  int epochs_;
  Index batches_;
  int epoch_ = 0;
  Clock::time_point epoch_start_, last_draw_;
  Index samples_ = 0;
  double loss_sum_ = 0;
  Index next_line_ = 1;
};

}  // namespace vae
