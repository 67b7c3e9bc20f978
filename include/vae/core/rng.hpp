#pragma once
// Explicit, seeded, counter-based randomness.
//
// Rng is Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3", SC'11) keyed by the seed. Draw k of a stream is a pure function of
// (seed, k), so a fill of n normals can be computed in any order, by any
// number of threads, on the host or on a GPU, and give the same numbers.
// The generator's whole state is (seed, counter): copying an Rng replays its
// future draws exactly.

#include <array>
#include <cmath>
#include <cstdint>

#include "vae/core/types.hpp"

namespace vae {

namespace detail {

VAE_HOST_DEVICE inline void mulhilo32(std::uint32_t a, std::uint32_t b, std::uint32_t& hi,
                                      std::uint32_t& lo) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(p >> 32);
  lo = static_cast<std::uint32_t>(p);
}

/// One Philox4x32-10 block: four 32-bit words from a 128-bit counter and a
/// 64-bit key.
struct PhiloxBlock {
  std::uint32_t w[4];
};

VAE_HOST_DEVICE inline PhiloxBlock philox4x32(std::uint64_t counter, std::uint64_t key) {
  std::uint32_t c0 = static_cast<std::uint32_t>(counter), c1 = static_cast<std::uint32_t>(counter >> 32);
  std::uint32_t c2 = 0, c3 = 0;
  std::uint32_t k0 = static_cast<std::uint32_t>(key), k1 = static_cast<std::uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    mulhilo32(0xD2511F53u, c0, hi0, lo0);
    mulhilo32(0xCD9E8D57u, c2, hi1, lo1);
    const std::uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

/// Uniform in the open interval (0, 1): never 0, so log() is finite.
template <class S>
VAE_HOST_DEVICE inline S open_unit(std::uint32_t x) {
  return (static_cast<S>(x) + S(0.5)) * S(2.3283064365386963e-10);  // 2^-32
}

/// Standard normal number `i` (0..3) of Philox block `block` under `key`,
/// by the Box-Muller transform of the block's word pairs (0,1) and (2,3).
template <class S>
VAE_HOST_DEVICE inline S philox_normal(std::uint64_t key, std::uint64_t block, int i) {
  const PhiloxBlock b = philox4x32(block, key);
  const int pair = (i >> 1) << 1;
  const S radius = std::sqrt(S(-2) * std::log(open_unit<S>(b.w[pair])));
  const S angle = S(6.283185307179586) * open_unit<S>(b.w[pair + 1]);
  return (i & 1) ? radius * std::sin(angle) : radius * std::cos(angle);
}

}  // namespace detail

/// A seeded random stream. Pass it explicitly wherever randomness is used.
class Rng {
 public:
  /// The stream of `seed`, positioned at Philox block `counter` (0: its start).
  explicit Rng(std::uint64_t seed = 0, std::uint64_t counter = 0) : seed_(seed), counter_(counter) {}

  /// The key of the stream.
  std::uint64_t seed() const { return seed_; }
  /// Number of Philox blocks consumed so far (the stream position).
  std::uint64_t counter() const { return counter_; }

  /// Reserve `n` standard normals: returns the first block number; normal i
  /// of the reservation is detail::philox_normal(seed, first + i / 4, i % 4).
  /// A shared stream (share()) reserves `parts` such runs and returns its own.
  std::uint64_t reserve_normals(Index n) {
    const auto blocks = static_cast<std::uint64_t>((n + 3) / 4);
    const std::uint64_t first = counter_ + part_ * blocks;
    counter_ += parts_ * blocks;
    return first;
  }

  /// Makes this generator part `part` of `parts` processes drawing one
  /// stream together: every reservation of n normals takes the part-th of
  /// `parts` consecutive runs of ceil(n / 4) blocks. Data-parallel ranks that
  /// each hold part of a batch (columns [part n, (part + 1) n) of it, with
  /// n x latent a multiple of 4) then draw exactly the noise one process
  /// would draw for the whole batch. parts = 1 is the plain stream.
  Rng& share(std::uint64_t part, std::uint64_t parts) {
    parts_ = parts > 0 ? parts : 1;
    part_ = part < parts_ ? part : 0;
    return *this;
  }

  /// True when share() made this generator one of several parts.
  bool shared() const { return parts_ > 1; }

  /// Fill `out[0..n)` with standard normals.
  template <class S>
  void fill_normal(S* out, Index n) {
    const std::uint64_t first = reserve_normals(n);
    for (Index i = 0; i < n; ++i) out[i] = detail::philox_normal<S>(seed_, first + static_cast<std::uint64_t>(i / 4), int(i % 4));
  }

  /// Four fresh uniform 32-bit words.
  std::array<std::uint32_t, 4> next_words() {
    const detail::PhiloxBlock b = detail::philox4x32(counter_++, seed_);
    return {b.w[0], b.w[1], b.w[2], b.w[3]};
  }

  /// Uniform integer in [0, n), n > 0, without bias (Lemire's multiply-shift
  /// with rejection for n < 2^32; modulo with rejection above). Uses one block.
  std::uint64_t uniform_index(std::uint64_t n) {
    for (;;) {
      const auto w = next_words();
      if (n <= 0xFFFFFFFFull) {
        const auto n32 = static_cast<std::uint32_t>(n);
        const std::uint32_t threshold = static_cast<std::uint32_t>(-n32) % n32;  // 2^32 mod n
        for (const std::uint32_t word : w) {
          const std::uint64_t m = static_cast<std::uint64_t>(word) * n32;
          if (static_cast<std::uint32_t>(m) >= threshold) return m >> 32;
        }
      } else {
        const std::uint64_t x = (static_cast<std::uint64_t>(w[0]) << 32) | w[1];
        if (x < ~std::uint64_t(0) - (~std::uint64_t(0) % n)) return x % n;
      }
    }
  }

  /// Uniform real in [lo, hi).
  template <class S>
  S uniform(S lo, S hi) {
    const auto w = next_words();
    const double u = static_cast<double>((static_cast<std::uint64_t>(w[0]) << 21) ^ w[1]) * 0x1.0p-53;
    return static_cast<S>(lo + (hi - lo) * u);
  }

  /// Fisher-Yates shuffle of [first, last).
  template <class It>
  void shuffle(It first, It last) {
    const auto n = static_cast<std::uint64_t>(last - first);
    for (std::uint64_t i = n; i > 1; --i) {
      const std::uint64_t j = uniform_index(i);
      using std::swap;
      swap(first[static_cast<std::ptrdiff_t>(i - 1)], first[static_cast<std::ptrdiff_t>(j)]);
    }
  }

 private:
  std::uint64_t seed_;
  std::uint64_t counter_;
  std::uint64_t part_ = 0, parts_ = 1;
};

}  // namespace vae
