#pragma once
// Learning-rate schedules for Adam, applied by the caller between epochs
// (AdamOptions::lr through Adam::set_options).

#include <cmath>

namespace vae {

/// Epochs of Burda, Grosse and Salakhutdinov's schedule (Importance Weighted
/// Autoencoders, 2015, section 5): the sum of 3^i for i = 0..7.
inline constexpr int kIwaeScheduleEpochs = 3280;

/// The learning rate of epoch `epoch` (0-based) in Burda et al.'s schedule:
/// stage i = 0..7 runs 3^i epochs at 1e-3 * 10^(-i/7), so the rate falls from
/// 1e-3 to 1e-4 over 3280 epochs; epochs after those keep 1e-4.
inline double iwae_schedule_lr(int epoch) {
  int stage = 0;
  long end = 1;  // stage 0 is epoch 0; stage i ends 3^i epochs after stage i - 1
  while (stage < 7 && epoch >= end) {
    ++stage;
    end += static_cast<long>(std::lround(std::pow(3.0, stage)));
  }
  return 1e-3 * std::pow(10.0, -stage / 7.0);
}

}  // namespace vae
