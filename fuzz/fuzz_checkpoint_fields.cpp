// Structure-aware libFuzzer target for checkpoints. The mutator walks a valid
// version-2 checkpoint field by field (tests/checkpoint_fields.hpp), sets one
// field to a value of its type (a boundary, a special float, a small step, a
// random value) and recomputes the CRC, so that the mutations reach the
// loader's field checks instead of stopping at the checksum; inputs it cannot
// walk get libFuzzer's byte mutations and a recomputed CRC too.
// The property: a load either succeeds with every field inside its domain
// (finite parameters and moments, second moments >= 0, Adam's settings valid
// as floats, a known objective with k in [1, 5000], an epoch in
// [0, 2^31 - 1]), or throws vae::Error with a printable message and leaves
// the model, the optimizer (settings, moments, steps) and the position as
// they were.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <vae/io/checkpoint.hpp>
#include <vae/vae.hpp>

#include "checkpoint_fields.hpp"
#include "input_file.hpp"
#include "printable_message.hpp"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace {

using Model = vae::VariationalAutoencoder<16, 8, 2>;
using Bytes = std::vector<unsigned char>;
using vae::test::FieldType;

template <class T>
T pick(std::mt19937_64& rng, std::initializer_list<T> values) {
  return values.begin()[rng() % values.size()];
}

/// A new value for an integer field: a boundary, a step from the old value,
/// or random bits.
std::uint64_t integer_value(std::mt19937_64& rng, std::uint64_t old, int bits) {
  const std::uint64_t mask = bits == 64 ? ~std::uint64_t(0) : (std::uint64_t(1) << bits) - 1;
  switch (rng() % 4) {
    case 0:
      return pick<std::uint64_t>(rng, {0, 1, 2, 3, 4, 7, 8, 255, 256, 1024, 1025, 0x7FFFFFFFull, 0x80000000ull,
                                       0xFFFFFFFFull, std::uint64_t(1) << 31, (std::uint64_t(1) << 31) + 1,
                                       std::uint64_t(1) << 32, (std::uint64_t(1) << 32) + 1, 0x7FFFFFFFFFFFFFFFull,
                                       0x8000000000000000ull, ~std::uint64_t(0)}) & mask;
    case 1: return (old + (rng() % 17) - 8) & mask;
    case 2: return (old ^ (std::uint64_t(1) << (rng() % bits))) & mask;
    default: return rng() & mask;
  }
}

/// A new value for a floating-point field.
double float_value(std::mt19937_64& rng, double old) {
  const double inf = std::numeric_limits<double>::infinity();
  switch (rng() % 3) {
    case 0:
      return pick<double>(rng, {0.0, -0.0, 1.0, -1.0, 0.5, 0.999, 1.0 - 1e-16, 1.0 + 1e-16, 1e-8, -1e-8, 1e-300,
                                -1e-300, 1e300, -1e300, 3.4e38, 1e39, -1e39, inf, -inf,
                                std::numeric_limits<double>::quiet_NaN(), -std::numeric_limits<double>::quiet_NaN(),
                                std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::max()});
    case 1: return old * pick<double>(rng, {-1.0, 2.0, 0.5, 1e10, 1e-10});
    default: {
      const std::uint64_t bits = rng();
      double v;
      std::memcpy(&v, &bits, sizeof v);
      return v;
    }
  }
}

/// Sets one element of `f` in `b` to a new value of the field's type.
void mutate_field(std::mt19937_64& rng, Bytes& b, const vae::test::CheckpointField& f) {
  if (f.count == 0) return;
  const std::size_t at = f.offset + (rng() % f.count) * f.width();
  switch (f.type) {
    case FieldType::U32: {
      std::uint32_t v;
      std::memcpy(&v, b.data() + at, 4);
      v = static_cast<std::uint32_t>(integer_value(rng, v, 32));
      std::memcpy(b.data() + at, &v, 4);
      break;
    }
    case FieldType::U64:
    case FieldType::I64: {
      std::uint64_t v;
      std::memcpy(&v, b.data() + at, 8);
      v = integer_value(rng, v, 64);
      std::memcpy(b.data() + at, &v, 8);
      break;
    }
    case FieldType::F64: {
      double v;
      std::memcpy(&v, b.data() + at, 8);
      v = float_value(rng, v);
      std::memcpy(b.data() + at, &v, 8);
      break;
    }
    case FieldType::F32: {
      float v;
      std::memcpy(&v, b.data() + at, 4);
      const double d = float_value(rng, v);
      // Outside float's range the conversion is undefined: take the infinity it would round to.
      const double big = double(std::numeric_limits<float>::max());
      v = d > big ? std::numeric_limits<float>::infinity() : d < -big ? -std::numeric_limits<float>::infinity() : float(d);
      std::memcpy(b.data() + at, &v, 4);
      break;
    }
    case FieldType::Char: b[at] = static_cast<unsigned char>(rng() % 4 ? 'a' + rng() % 26 : rng()); break;
  }
}

using State = vae::test::LoadState;

bool in_domain(const State& s) {
  const vae::AdamOptions& o = s.options;
  // Adam's settings are used as floats: each must be finite there, lr and eps > 0 there too.
  const auto positive_float = [](double v) {
    return v >= double(std::numeric_limits<float>::min()) && v <= double(std::numeric_limits<float>::max());
  };
  return s.params.allFinite() && s.m.allFinite() && s.v.allFinite() && (s.v.size() == 0 || s.v.minCoeff() >= 0) &&
         positive_float(o.lr) && o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1 && positive_float(o.eps) &&
         o.weight_decay >= 0 && o.weight_decay <= double(std::numeric_limits<float>::max()) && s.steps >= 0 &&
         vae::is_known(s.objective.reconstruction) && vae::is_known(s.objective.kl) && s.objective.beta >= 0 &&
         std::isfinite(s.objective.beta) && s.objective.samples >= 1 &&
         std::uint64_t(s.objective.samples) <= vae::io::kMaxBoundSamples && s.position.next_epoch >= 0 &&
         s.position.next_epoch <= vae::io::kMaxNextEpoch;
}

}  // namespace

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
  std::mt19937_64 rng(seed);
  Bytes b(data, data + size);
  std::vector<vae::test::CheckpointField> fields;
  try {
    fields = vae::test::checkpoint_fields(b);
  } catch (const std::exception&) {
    fields.clear();
  }
  if (fields.empty() || rng() % 8 == 0) {
    // Not walkable (or now and then anyway): byte-level mutation, then a CRC
    // that matches, so even these get past the checksum.
    size = LLVMFuzzerMutate(data, size, max_size);
    b.assign(data, data + size);
  } else {
    // One to three fields (never the CRC, which is recomputed below).
    for (int n = 1 + int(rng() % 3); n > 0; --n) mutate_field(rng, b, fields[rng() % (fields.size() - 1)]);
    if (rng() % 16 == 0) b.resize(b.size() - std::min<std::size_t>(b.size(), 1 + rng() % 64));  // cut short
  }
  if (b.size() >= 36) vae::test::fix_crc(b);
  if (b.size() > max_size) b.resize(max_size);
  std::memcpy(data, b.data(), b.size());
  return b.size();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = vae::fuzz::write_input("ckpt_fields", data, size);
  if (path.empty()) return 0;
  static Model model(1);
  static vae::Adam<float> optimizer({5e-4, 0.5, 0.9, 1e-6, 0.0, 1.0});
  static vae::io::TrainingPosition position{9, 5};
  static const bool primed = [] {  // non-zero moments, so a partial restore would show
    vae::Rng rng(2);
    const Eigen::MatrixXf x = (Eigen::MatrixXf::Random(16, 4).array() + 1) / 2;
    model.train_step(x, optimizer, rng);
    return true;
  }();
  (void)primed;
  const State before(model, optimizer, position);
  try {
    vae::io::load_checkpoint(path, model, &optimizer, &position);
    if (!in_domain(State(model, optimizer, position))) __builtin_trap();  // a field outside its domain was accepted
  } catch (const vae::Error& e) {
    vae::fuzz::require_printable(e.what());
    if (!(before == State(model, optimizer, position))) __builtin_trap();  // a refused load changed something
  }
  // Without the optional parts, as a program that wants only the model asks.
  const Eigen::VectorXf params = model.parameters_host();
  try {
    vae::io::load_checkpoint(path, model);
    if (!model.parameters_host().allFinite()) __builtin_trap();
  } catch (const vae::Error& e) {
    vae::fuzz::require_printable(e.what());
    if (model.parameters_host() != params) __builtin_trap();
  }
  return 0;
}
