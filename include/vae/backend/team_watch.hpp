#pragma once
// The CPU backend's parallel loops, and a watch on them for a thread that
// keeps arriving late.
//
// A parallel region ends when the last thread of its team gets there. When
// another process holds one of the cores, the thread that shares that core
// runs only in the scheduler's time slices, and every region waits for it:
// a loop of train_step calls on two threads beside a busy core ran 25 times
// slower than alone (docs/reliability.md), far below one thread's speed. So
// every region records when each thread of its team finished; a region in
// which the spread between the first and the last (the straggle) is most of
// its time counts as late. After a window of kWindow regions with at least
// kLateInWindow late ones, the next `pause` regions run on the calling
// thread alone; then a window on the team tells whether the slow core is
// still busy: if so the pause doubles (up to kMaxPause), if not it is back
// to kFirstPause. A held core then costs about what running on one core
// costs, in every call: fit, a user's own loop of train_step, inference.
// Results never depend on this (the team's size never changes a bit,
// backend/cpu.hpp), only the speed does.

#include <algorithm>
#include <array>
#include <chrono>
#include <mutex>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "vae/core/types.hpp"

namespace vae::detail {

/// The process-wide watch on the CPU backend's teams (see above).
class TeamWatch {
 public:
  /// Regions per verdict, and the late ones among them that pause the teams.
  static constexpr int kWindow = 16, kLateInWindow = 4;
  /// A region is late when its straggle exceeds this share of its time and
  /// this many seconds (a scheduler's wake-up, not a busy core, is below).
  static constexpr double kLateShare = 0.5, kLateSeconds = 100e-6;
  /// Regions run on one thread after a late window: the first pause, and the
  /// longest after repeated late windows.
  static constexpr long kFirstPause = 64, kMaxPause = 4096;

  /// Whether a region about to start may run on a team: false while paused
  /// (each such call counts one region of the pause) or switched off.
  bool team_allowed() {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (paused_ == 0) return true;
    --paused_;
    return false;
  }

  /// After a region run by a team: `seconds` from its start to the last
  /// thread's finish, of which `straggle` between the first and the last.
  void record(double seconds, double straggle) {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!on_ || paused_ > 0) return;
    late_ += straggle > kLateSeconds && straggle > kLateShare * seconds;
    if (++seen_ < kWindow) return;
    if (late_ >= kLateInWindow) {
      paused_ = pause_;
      pause_ = std::min(2 * pause_, kMaxPause);
    } else {
      pause_ = kFirstPause;
    }
    seen_ = late_ = 0;
  }

  /// Switches the watch on or off (on by default) and clears its state; off,
  /// every region may use the full team (for tests that count team sizes).
  void set_on(bool on) {
    const std::lock_guard<std::mutex> lock(mutex_);
    on_ = on;
    paused_ = seen_ = late_ = 0;
    pause_ = kFirstPause;
  }

  /// Regions left in the current pause (0: teams allowed).
  long paused() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    return paused_;
  }

 private:
  mutable std::mutex mutex_;
  bool on_ = true;
  long paused_ = 0, pause_ = kFirstPause;
  int seen_ = 0, late_ = 0;
};

/// The one watch of the process.
inline TeamWatch& team_watch() {
  static TeamWatch watch;
  return watch;
}

/// body(i) for i in [0, count): on the calling thread alone when `threads`
/// is 1 or the watch pauses the teams, else on an OpenMP team of `threads`
/// that takes `chunk` indices at a time as its threads come free (so a
/// thread that starts late finds less left to do), timed for the watch.
template <class Body>
void run_blocks(Index count, Index threads, Index chunk, const Body& body) {
#if defined(_OPENMP)
  if (threads > 1 && count > 1 && team_watch().team_allowed()) {
    using Clock = std::chrono::steady_clock;
    constexpr int kTimed = 64;  // threads whose finish is timed (a team's first 64)
    std::array<Clock::time_point, kTimed> finish{};
    int team = 1;
    const Clock::time_point start = Clock::now();
#pragma omp parallel num_threads(static_cast<int>(threads))
    {
#pragma omp for schedule(dynamic, chunk) nowait
      for (Index i = 0; i < count; ++i) body(i);
      const int t = omp_get_thread_num();
      if (t < kTimed) finish[static_cast<std::size_t>(t)] = Clock::now();
      if (t == 0) team = omp_get_num_threads();
    }
    const auto timed = finish.begin() + std::min(team, kTimed);
    const auto [first, last] = std::minmax_element(finish.begin(), timed);
    team_watch().record(std::chrono::duration<double>(*last - start).count(),
                        std::chrono::duration<double>(*last - *first).count());
    return;
  }
#else
  (void)threads;
  (void)chunk;
#endif
  for (Index i = 0; i < count; ++i) body(i);
}

}  // namespace vae::detail
