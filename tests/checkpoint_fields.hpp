#pragma once
// The fields of a version-3 checkpoint (or a version-2 one) as a list of (name, offset, type,
// count), walked from the bytes of a file written by save_checkpoint, so that
// a test or a fuzzer can set one field to a value of its type and make the
// CRC match again: the edit then reaches the loader's field checks instead of
// stopping at the checksum. Names are the ones the loader's messages use.
// Layout: include/vae/serialization/checkpoint.hpp.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <vae/io/checkpoint.hpp>
#include <vae/serialization/crc32.hpp>

namespace vae::test {

enum class FieldType { U32, U64, I64, F64, F32, Char };

struct CheckpointField {
  std::string name;
  std::size_t offset = 0;  ///< of the first element, from the start of the file
  FieldType type = FieldType::U32;
  std::size_t count = 1;  ///< elements (parameters and moments are arrays)

  std::size_t width() const {
    switch (type) {
      case FieldType::U32:
      case FieldType::F32: return 4;
      case FieldType::Char: return 1;
      default: return 8;
    }
  }
};

/// Every field of a version-3 (or 2) checkpoint, in file order, CRC last.
inline std::vector<CheckpointField> checkpoint_fields(const std::vector<unsigned char>& bytes) {
  std::vector<CheckpointField> fields;
  std::size_t at = 0;
  const auto u32_at = [&](std::size_t offset) {
    std::uint32_t v = 0;
    if (offset + 4 > bytes.size()) throw std::runtime_error("checkpoint_fields: the file ends inside a count");
    std::memcpy(&v, bytes.data() + offset, 4);
    return v;
  };
  const auto add = [&](const std::string& name, FieldType type, std::uint64_t count = 1) {
    const CheckpointField f{name, at, type, std::size_t(count)};
    if (count > (bytes.size() - at) / f.width())
      throw std::runtime_error("checkpoint_fields: the file ends inside field '" + name + "'");
    fields.push_back(f);
    at += f.width() * f.count;
  };
  add("magic", FieldType::Char, 8);
  const std::uint32_t version = u32_at(at);
  add("format version", FieldType::U32);
  const std::uint32_t kind = u32_at(at);
  const bool variational = kind >= 2;
  add("model kind", FieldType::U32);
  const std::uint32_t scalar_bytes = u32_at(at);
  add("scalar size", FieldType::U32);
  const std::uint32_t flags = u32_at(at);
  add("contents flags", FieldType::U32);
  add("payload size", FieldType::U64);
  for (const char* part : {"encoder sizes", "decoder sizes"}) {
    const std::uint32_t n = u32_at(at);
    add(std::string(part) + ".count", FieldType::U32);
    add(part, FieldType::U64, n);
  }
  std::size_t sizes_field = fields.size() - 4;  // encoder sizes.count
  std::uint64_t parameter_count = 0;
  for (int net = 0; net < 2; ++net, sizes_field += 2) {
    const CheckpointField& f = fields[sizes_field + 1];
    std::vector<std::uint64_t> s(f.count);
    if (f.count > 0) std::memcpy(s.data(), bytes.data() + f.offset, 8 * f.count);
    // Each layer W (out x in) and b (out); a VAE's encoder's last layer has
    // 2 Latent outputs (mu over log sigma), its size list says Latent.
    if (s.empty()) continue;
    if (net == 0 && variational) s.back() *= 2;
    for (std::size_t l = 0; l + 1 < s.size(); ++l) {
      // Sizes from a mutated file may be absurd: saturate instead of wrapping.
      const std::uint64_t cap = std::uint64_t(1) << 40;
      const std::uint64_t out = std::min(s[l + 1], cap), in = std::min(s[l], cap);
      parameter_count = std::min(cap, parameter_count + (out > 0 && in > cap / out ? cap : out * in + out));
    }
  }
  for (const char* part : {"encoder activation", "decoder activation"}) {
    const std::uint32_t n = u32_at(at);
    add(std::string(part) + ".length", FieldType::U32);
    add(part, FieldType::Char, n);
  }
  if (kind == 3) add("classes", FieldType::U64);
  if (version >= 3) {
    const auto text = [&](const std::string& name) {
      const std::uint32_t n = u32_at(at);
      add(name + ".length", FieldType::U32);
      add(name, FieldType::Char, n);
    };
    const auto layer = [&](const std::string& name) {
      text(name + ".kind");
      for (const char* shape : {".input", ".output"}) {
        const std::uint32_t n = u32_at(at);
        add(name + shape + ".rank", FieldType::U32);
        add(name + shape, FieldType::U64, n);
      }
      text(name + ".activation");
      const std::uint32_t n = u32_at(at);
      add(name + ".settings.count", FieldType::U32);
      add(name + ".settings", FieldType::I64, n);
    };
    const auto layers = [&](const std::string& name) {
      const std::uint32_t n = u32_at(at);
      add(name + " count", FieldType::U32);
      for (std::uint32_t i = 0; i < n && at < bytes.size(); ++i) layer(name + "[" + std::to_string(i) + "]");
    };
    layers("encoder layers");
    layer("latent");
    layers("decoder layers");
    text("output");
  }
  add("objective.reconstruction", FieldType::U32);
  add("objective.kl", FieldType::U32);
  add("objective.beta", FieldType::F64);
  if (flags & 4u) {
    add("objective.bound", FieldType::U32);
    add("objective.samples", FieldType::U64);
  }
  const FieldType scalar = scalar_bytes == 8 ? FieldType::F64 : FieldType::F32;
  add("parameters", scalar, parameter_count);
  if (flags & 1u) {
    for (const char* name : {"optimizer.lr", "optimizer.beta1", "optimizer.beta2", "optimizer.eps", "optimizer.weight_decay"})
      add(name, FieldType::F64);
    add("optimizer.steps", FieldType::I64);
    add("optimizer.first_moment", scalar, parameter_count);
    add("optimizer.second_moment", scalar, parameter_count);
  }
  if (flags & 2u) {
    add("position.next_epoch", FieldType::I64);
    add("position.seed", FieldType::U64);
  }
  if (flags & 8u) {
    const std::uint32_t n = u32_at(at);
    add("data.features", FieldType::U32);
    add("data.standardize", FieldType::Char);
    add("data.sigma", FieldType::F64);
    add("data.mean", FieldType::F64, n);
    add("data.scale", FieldType::F64, n);
    for (std::uint32_t i = 0; i < n; ++i) {
      const std::uint32_t length = u32_at(at);
      add("data.columns[" + std::to_string(i) + "].length", FieldType::U32);
      add("data.columns[" + std::to_string(i) + "]", FieldType::Char, length);
    }
  }
  add("crc", FieldType::U32);
  if (at != bytes.size())
    throw std::runtime_error("checkpoint_fields: the fields end at byte " + std::to_string(at) + ", the file has " +
                             std::to_string(bytes.size()));
  return fields;
}

inline const CheckpointField& field_named(const std::vector<CheckpointField>& fields, const std::string& name) {
  for (const auto& f : fields)
    if (f.name == name) return f;
  throw std::runtime_error("checkpoint_fields: no field '" + name + "'");
}

/// Recomputes the CRC-32 in the last four bytes.
inline void fix_crc(std::vector<unsigned char>& bytes) {
  const std::uint32_t crc = vae::detail::crc32_of(bytes.data(), bytes.size() - 4);
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
}

/// Sets element `index` of field `name` to `value` (stored as the field's
/// own type, T must match its width) and recomputes the CRC.
template <class T>
void set_field(std::vector<unsigned char>& bytes, const std::string& name, T value, std::size_t index = 0) {
  const CheckpointField f = field_named(checkpoint_fields(bytes), name);
  if (sizeof(T) != f.width() || index >= f.count)
    throw std::runtime_error("set_field: '" + name + "' holds " + std::to_string(f.count) + " elements of " +
                             std::to_string(f.width()) + " bytes");
  std::memcpy(bytes.data() + f.offset + index * sizeof(T), &value, sizeof(T));
  fix_crc(bytes);
}

/// Element `index` of field `name` (T must match the field's width).
template <class T>
T get_field(const std::vector<unsigned char>& bytes, const std::string& name, std::size_t index = 0) {
  const CheckpointField f = field_named(checkpoint_fields(bytes), name);
  if (sizeof(T) != f.width() || index >= f.count)
    throw std::runtime_error("get_field: '" + name + "' holds " + std::to_string(f.count) + " elements of " +
                             std::to_string(f.width()) + " bytes");
  T value;
  std::memcpy(&value, bytes.data() + f.offset + index * sizeof(T), sizeof(T));
  return value;
}

/// Everything a checkpoint load may change (model parameters and objective,
/// Adam's settings, moments and step count, the training position), copied
/// to the host; == compares bits, so a refused load must leave every one of
/// them exactly as it was.
struct LoadState {
  Eigen::VectorXf params, m, v;
  vae::Objective<float> objective;
  vae::AdamOptions options;
  long long steps = 0;
  vae::io::TrainingPosition position;

  template <class Model>
  LoadState(const Model& model, const vae::Adam<float>& opt, const vae::io::TrainingPosition& pos)
      : params(model.parameters_host()), m(opt.size()), v(opt.size()), objective(model.objective()),
        options(opt.options()), steps(opt.steps()), position(pos) {
    opt.download_state(m.data(), v.data());
  }

  bool operator==(const LoadState& o) const {
    const auto bits = [](const Eigen::VectorXf& x, const Eigen::VectorXf& y) {
      return x.size() == y.size() && std::memcmp(x.data(), y.data(), sizeof(float) * std::size_t(x.size())) == 0;
    };
    return bits(params, o.params) && bits(m, o.m) && bits(v, o.v) &&
           objective.reconstruction == o.objective.reconstruction && objective.kl == o.objective.kl &&
           std::memcmp(&objective.beta, &o.objective.beta, sizeof(float)) == 0 && objective.bound == o.objective.bound &&
           objective.samples == o.objective.samples && std::memcmp(&options, &o.options, sizeof(vae::AdamOptions)) == 0 &&
           steps == o.steps && position.next_epoch == o.position.next_epoch && position.seed == o.position.seed;
  }
};

}  // namespace vae::test
