#pragma once
// Choosing, while training, between the configured thread count and one
// thread by timing the steps. When another process keeps one of the cores
// busy, every parallel region of an OpenMP team waits at its barrier for the
// thread that shares that core with it, and a two-thread run on two cores
// slows down three- to fivefold, to well below one thread's speed
// (docs/reliability.md has the measurements). Results do not depend on the
// thread count (backend/cpu.hpp), so switching changes the speed only.
//
// At each probe, the kProbe steps before it (at the current choice) are
// compared with kProbe steps at the other choice, by their mean time per
// sample; the other choice is kept when it took at most kSwitch of the time
// (a held core makes two threads 1.6-2x slower than one, a freed one makes
// them 1.8x faster, and a shared machine's noise stays well inside 25%). The
// mean, not the median: beside a busy core most two-thread steps run at full
// speed and a few wait a whole scheduler time slice at a barrier, and those
// few are where the time goes.
//
// A one-thread probe costs nearly a step per probe step on an idle machine,
// so after the first one (at step kFirstProbe) it runs only on suspicion:
// when the window before it is more than kSuspect times slower than the
// fastest full-thread window seen. Probes are due kMinPeriod steps after a
// switch (a busy core comes and goes) and twice as far apart after each one
// that changes nothing or is skipped, up to kPeriod.

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>

#include "vae/backend/cpu.hpp"
#include "vae/core/types.hpp"

namespace vae::detail {

class ThreadTuner {
 public:
  static constexpr int kProbe = 8, kMinPeriod = 64, kPeriod = 512, kFirstProbe = 15;
  static constexpr double kSwitch = 0.75, kSuspect = 1.3;

  /// Tunes calls from this thread while it lives; does nothing when `on` is
  /// false or only one thread is configured.
  explicit ThreadTuner(bool on)
      : full_(num_threads()), on_(on && full_ > 1), choice_(full_), cap_(this_thread_call().cap) {}

  /// Before a step: sets this thread's cap for it.
  void before_step() {
    if (!on_) return;
    cap_.set(probing() ? other() : choice_);
    start_ = std::chrono::steady_clock::now();
  }

  /// After a step of `samples` samples.
  void after_step(Index samples) {
    if (!on_ || samples <= 0) return;
    record(std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count() / double(samples));
  }

  /// The seconds per sample of the step just run (what after_step measured).
  void record(double per_sample) {
    if (!on_) return;
    const long into = step_ - (next_probe_ - kProbe);  // >= 0 from kProbe steps before the probe
    if (into >= 0 && into < kProbe) current_[std::size_t(into)] = per_sample;
    if (into >= kProbe && into < 2 * kProbe) alternative_[std::size_t(into - kProbe)] = per_sample;
    if (into == kProbe - 1 && choice_ == full_) {
      const double now = mean(current_);
      const bool suspect = probes_ == 0 || now > kSuspect * fastest_full_;
      fastest_full_ = std::min(fastest_full_, now);
      if (!suspect) next_probe_ += backoff();  // no probe this time
    } else if (into == 2 * kProbe - 1) {
      const double now = mean(current_), alternative = mean(alternative_);
      fastest_full_ = std::min(fastest_full_, choice_ == full_ ? now : alternative);
      ++probes_;
      if (alternative < kSwitch * now) {
        choice_ = other();
        interval_ = kMinPeriod;
        next_probe_ += interval_;
      } else {
        next_probe_ += backoff();
      }
    }
    ++step_;
  }

  /// The thread count chosen last (for reports and tests).
  int choice() const { return choice_; }

 private:
  bool probing() const { return step_ >= next_probe_ && step_ < next_probe_ + kProbe; }
  int other() const { return choice_ == full_ ? 1 : full_; }
  long backoff() {
    interval_ = std::min(2 * interval_, long(kPeriod));
    return interval_;
  }
  static double mean(const std::array<double, kProbe>& v) {
    double sum = 0;
    for (const double t : v) sum += t;
    return sum / kProbe;
  }

  int full_;
  bool on_;
  int choice_;
  ThreadCap cap_;
  long step_ = 0, next_probe_ = kFirstProbe, interval_ = kMinPeriod / 2, probes_ = 0;
  double fastest_full_ = std::numeric_limits<double>::infinity();
  std::chrono::steady_clock::time_point start_;
  std::array<double, kProbe> current_{}, alternative_{};
};

}  // namespace vae::detail
