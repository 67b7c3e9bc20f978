#pragma once
// The CPU backend's parallel loops, and a watch on them for a thread that
// keeps arriving late.
//
// A parallel region ends when the last thread of its team gets there. When
// another process holds one of the cores, whichever of the team's threads
// shares that core runs only in the scheduler's time slices, and the region
// waits for it; worse, the team's other threads spin while they wait, so the
// scheduler sees no idle core to move the held thread to. A loop of
// train_step calls on two threads beside a busy core ran at about a third of
// its speed alone, below one thread's (docs/reliability.md). So every region
// measures the time it lost: its wall time less the CPU time the calling
// thread spent on its own share (a late helper, or the caller itself taken
// off its core). After a window of kWindow regions that lost more than
// kLostShare of their time, the next `pause` regions run on the calling
// thread alone (the helpers go to sleep and the caller gets a core of its
// own); then a window on the team tells whether the core is still held: if
// so the pause doubles (up to kMaxPause), if not it is back to kFirstPause.
// This reaches every call: fit, a user's own loop of train_step, inference.
// Results never depend on it (the team's size never changes a bit,
// backend/cpu.hpp), only the speed does.

#include <algorithm>
#include <chrono>
#include <ctime>
#include <mutex>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "vae/core/types.hpp"

namespace vae::detail {

/// The process-wide watch on the CPU backend's teams (see above).
class TeamWatch {
 public:
  /// Regions per verdict.
  static constexpr int kWindow = 16;
  /// A window whose regions lost more than this share of their time (and
  /// more than kLostSeconds in all: a scheduler's wake-ups are below) pauses
  /// the teams.
  static constexpr double kLostShare = 0.25, kLostSeconds = 200e-6;
  /// What starting and joining a team costs a region on an idle machine
  /// (a few microseconds): not counted as lost.
  static constexpr double kTeamCost = 20e-6;
  /// Regions run on one thread after a lossy window: the first pause, and
  /// the longest after repeated lossy windows.
  static constexpr long kFirstPause = 64, kMaxPause = 4096;

  /// Whether a region about to start may run on a team: false while paused
  /// (each such call counts one region of the pause).
  bool team_allowed() {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (paused_ == 0) return true;
    --paused_;
    return false;
  }

  /// After a region run by a team: it took `seconds`, of which it lost
  /// `lost` (wall time less the calling thread's CPU time on its share).
  void record(double seconds, double lost) {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (!on_ || paused_ > 0) return;
    seconds_ += seconds;
    lost_ += std::max(0.0, lost - kTeamCost);
    if (++seen_ < kWindow) return;
    if (lost_ > kLostShare * seconds_ && lost_ > kLostSeconds) {
      paused_ = pause_;
      pause_ = std::min(2 * pause_, kMaxPause);
    } else {
      pause_ = kFirstPause;
    }
    seen_ = 0;
    seconds_ = lost_ = 0;
  }

  /// Switches the watch on or off (on by default) and clears its state; off,
  /// every region may use the full team (for tests that count team sizes).
  void set_on(bool on) {
    const std::lock_guard<std::mutex> lock(mutex_);
    on_ = on;
    paused_ = seen_ = 0;
    seconds_ = lost_ = 0;
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
  int seen_ = 0;
  double seconds_ = 0, lost_ = 0;
};

/// Seconds of CPU time the calling thread has used (0 where the system
/// cannot tell: the watch then sees only wall time and pauses nothing).
inline double thread_cpu_seconds() {
#if defined(CLOCK_THREAD_CPUTIME_ID)
  timespec t{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) == 0) return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
#endif
  return 0;
}

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
    const Clock::time_point start = Clock::now();
    const double cpu_start = thread_cpu_seconds();
    double cpu = 0;
#pragma omp parallel num_threads(static_cast<int>(threads))
    {
#pragma omp for schedule(dynamic, chunk) nowait
      for (Index i = 0; i < count; ++i) body(i);
      if (omp_get_thread_num() == 0) cpu = thread_cpu_seconds() - cpu_start;
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (cpu > 0) team_watch().record(seconds, seconds - cpu);
    return;
  }
#else
  (void)threads;
  (void)chunk;
#endif
  for (Index i = 0; i < count; ++i) body(i);
}

}  // namespace vae::detail
