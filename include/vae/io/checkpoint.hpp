#pragma once
// Versioned, checksummed, atomically written checkpoints of a model,
// optionally with its Adam state and its training position.
//
// Layout (little-endian), format version 1:
//   offset  size  field
//        0     8  magic "VAECKPT\0"
//        8     4  format version (1)
//       12     4  model kind (1 autoencoder, 2 VAE)
//       16     4  scalar size in bytes (4 float, 8 double)
//       20     4  contents flags (1 optimizer state, 2 training position)
//       24    24  input, hidden, latent sizes (3 x u64)
//       48     8  payload size in bytes (u64)
//       56     -  payload:
//                   objective: reconstruction (u32), KL form (u32), beta (f64)
//                   parameters (parameter_count scalars)
//                   [optimizer] lr, beta1, beta2, eps, weight decay (5 x f64),
//                               steps (i64), first moment, second moment
//                   [position]  next epoch (i64), seed (u64)
//   end - 4      4  CRC-32 (zlib) of every byte before it
// Parameters are stored from host memory, so a checkpoint written by one
// backend loads into another.

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "vae/core/error.hpp"
#include "vae/io/atomic_file.hpp"
#include "vae/losses.hpp"
#include "vae/models/model_base.hpp"
#include "vae/optim/adam.hpp"

namespace vae::io {

inline constexpr char kCheckpointMagic[8] = {'V', 'A', 'E', 'C', 'K', 'P', 'T', '\0'};
inline constexpr std::uint32_t kCheckpointVersion = 1;

/// Where training stands: the next epoch to run and the run's seed.
struct TrainingPosition {
  std::int64_t next_epoch = 0;
  std::uint64_t seed = 0;
};

/// What a checkpoint's header says.
struct CheckpointInfo {
  std::uint32_t version = 0;
  bool variational = false;
  std::uint32_t scalar_bytes = 0;
  std::uint64_t input = 0, hidden = 0, latent = 0;
  bool has_optimizer = false;
  bool has_position = false;

  /// e.g. "VAE 784-512-2 (float)".
  std::string shape() const {
    return std::string(variational ? "VAE " : "autoencoder ") + std::to_string(input) + "-" + std::to_string(hidden) +
           "-" + std::to_string(latent) + (scalar_bytes == 4 ? " (float)" : scalar_bytes == 8 ? " (double)" : " (?)");
  }
};

namespace detail {

inline constexpr std::size_t kHeaderBytes = 56;
inline constexpr std::uint32_t kHasOptimizer = 1, kHasPosition = 2;

class ByteWriter {
 public:
  template <class T>
  void put(const T& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }
  template <class T>
  void put_array(const T* v, std::size_t n) {
    const auto* p = reinterpret_cast<const unsigned char*>(v);
    bytes.insert(bytes.end(), p, p + n * sizeof(T));
  }
  std::vector<unsigned char> bytes;
};

class ByteReader {
 public:
  ByteReader(const std::string& path, const std::vector<unsigned char>& bytes, std::size_t pos)
      : path_(path), bytes_(bytes), pos_(pos) {}
  template <class T>
  T get(const char* field) {
    T v;
    get_array(&v, 1, field);
    return v;
  }
  template <class T>
  void get_array(T* out, std::size_t n, const char* field) {
    if (n > (bytes_.size() - pos_) / sizeof(T))
      throw FormatError(path_ + ": truncated in field '" + field + "': needs " + std::to_string(n * sizeof(T)) +
                        " bytes at offset " + std::to_string(pos_) + ", the file has " +
                        std::to_string(bytes_.size() - pos_));
    std::memcpy(out, bytes_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
  }
  std::size_t position() const { return pos_; }

 private:
  const std::string& path_;
  const std::vector<unsigned char>& bytes_;
  std::size_t pos_;
};

inline std::uint32_t crc32_of(const unsigned char* data, std::size_t n) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  while (n > 0) {
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    crc = ::crc32(crc, data, chunk);
    data += chunk;
    n -= chunk;
  }
  return static_cast<std::uint32_t>(crc);
}

inline std::vector<unsigned char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open the checkpoint for reading");
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError(path + ": read error");
  return bytes;
}

/// Parses and checks the header and the CRC; returns the header.
inline CheckpointInfo parse_header(const std::string& path, const std::vector<unsigned char>& bytes) {
  if (bytes.size() < kHeaderBytes + 4)
    throw FormatError(path + ": " + std::to_string(bytes.size()) + " bytes, too short for a checkpoint (at least " +
                      std::to_string(kHeaderBytes + 4) + ")");
  if (std::memcmp(bytes.data(), kCheckpointMagic, 8) != 0) throw FormatError(path + ": magic is not \"VAECKPT\": not a vae checkpoint");
  ByteReader r(path, bytes, 8);
  CheckpointInfo info;
  info.version = r.get<std::uint32_t>("format version");
  if (info.version != kCheckpointVersion)
    throw FormatError(path + ": format version is " + std::to_string(info.version) + ", this library reads version " +
                      std::to_string(kCheckpointVersion));
  const auto kind = r.get<std::uint32_t>("model kind");
  if (kind != 1 && kind != 2) throw FormatError(path + ": model kind is " + std::to_string(kind) + ", expected 1 or 2");
  info.variational = kind == 2;
  info.scalar_bytes = r.get<std::uint32_t>("scalar size");
  const auto flags = r.get<std::uint32_t>("contents flags");
  info.has_optimizer = flags & kHasOptimizer;
  info.has_position = flags & kHasPosition;
  info.input = r.get<std::uint64_t>("input size");
  info.hidden = r.get<std::uint64_t>("hidden size");
  info.latent = r.get<std::uint64_t>("latent size");
  const auto payload = r.get<std::uint64_t>("payload size");
  if (payload != bytes.size() - kHeaderBytes - 4)
    throw FormatError(path + ": payload size field says " + std::to_string(payload) + " bytes, the file holds " +
                      std::to_string(bytes.size() - kHeaderBytes - 4) + " (truncated or padded)");
  std::uint32_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
  if (stored != crc32_of(bytes.data(), bytes.size() - 4))
    throw FormatError(path + ": CRC-32 mismatch: the checkpoint is corrupted");
  return info;
}

template <class Model>
CheckpointInfo info_of() {
  CheckpointInfo i;
  i.version = kCheckpointVersion;
  i.variational = Model::is_variational;
  i.scalar_bytes = sizeof(typename Model::Scalar);
  i.input = Model::input_size;
  i.hidden = Model::hidden_size;
  i.latent = Model::latent_size;
  return i;
}

}  // namespace detail

/// Reads and checks a checkpoint's header (and its CRC).
inline CheckpointInfo read_checkpoint_info(const std::string& path) {
  return detail::parse_header(path, detail::read_all(path));
}

/// Writes `model` (and, when given, the optimizer state and training
/// position) to `path` atomically: the old file survives any failure.
template <class Model, class B = typename Model::Backend>
void save_checkpoint(const std::string& path, const Model& model, const Adam<typename Model::Scalar, B>* optimizer = nullptr,
                     const TrainingPosition* position = nullptr) {
  using S = typename Model::Scalar;
  detail::ByteWriter payload;
  const Objective<S>& o = model.objective();
  payload.put(static_cast<std::uint32_t>(o.reconstruction));
  payload.put(static_cast<std::uint32_t>(o.kl));
  payload.put(static_cast<double>(o.beta));
  const Vector<S> params = model.parameters_host();
  payload.put_array(params.data(), std::size_t(params.size()));
  if (optimizer) {
    const AdamOptions& a = optimizer->options();
    for (const double v : {a.lr, a.beta1, a.beta2, a.eps, a.weight_decay}) payload.put(v);
    payload.put(static_cast<std::int64_t>(optimizer->steps()));
    Vector<S> m = Vector<S>::Zero(Model::parameter_count), v = Vector<S>::Zero(Model::parameter_count);
    if (optimizer->size() == Model::parameter_count) optimizer->download_state(m.data(), v.data());
    payload.put_array(m.data(), std::size_t(m.size()));
    payload.put_array(v.data(), std::size_t(v.size()));
  }
  if (position) {
    payload.put(position->next_epoch);
    payload.put(position->seed);
  }
  detail::ByteWriter file;
  file.put_array(kCheckpointMagic, 8);
  file.put(kCheckpointVersion);
  file.put(static_cast<std::uint32_t>(Model::is_variational ? 2 : 1));
  file.put(static_cast<std::uint32_t>(sizeof(S)));
  file.put(static_cast<std::uint32_t>((optimizer ? detail::kHasOptimizer : 0) | (position ? detail::kHasPosition : 0)));
  for (const std::uint64_t d : {std::uint64_t(Model::input_size), std::uint64_t(Model::hidden_size), std::uint64_t(Model::latent_size)})
    file.put(d);
  file.put(static_cast<std::uint64_t>(payload.bytes.size()));
  file.bytes.insert(file.bytes.end(), payload.bytes.begin(), payload.bytes.end());
  file.put(detail::crc32_of(file.bytes.data(), file.bytes.size()));
  AtomicFile out(path);
  out.write(file.bytes.data(), file.bytes.size());
  out.commit();
}

/// Loads a checkpoint into `model` (and the optimizer / position when given
/// and present). Nothing is changed unless the whole file is valid and its
/// shape matches the model's. Returns the header.
template <class Model, class B = typename Model::Backend>
CheckpointInfo load_checkpoint(const std::string& path, Model& model, Adam<typename Model::Scalar, B>* optimizer = nullptr,
                               TrainingPosition* position = nullptr) {
  using S = typename Model::Scalar;
  const std::vector<unsigned char> bytes = detail::read_all(path);
  const CheckpointInfo info = detail::parse_header(path, bytes);
  const CheckpointInfo want = detail::info_of<Model>();
  if (info.variational != want.variational || info.scalar_bytes != want.scalar_bytes || info.input != want.input ||
      info.hidden != want.hidden || info.latent != want.latent)
    throw ShapeError(path + ": the checkpoint holds " + (info.variational ? "a " : "an ") + info.shape() +
                     ", the model is " + (want.variational ? "a " : "an ") + want.shape());
  detail::ByteReader r(path, bytes, detail::kHeaderBytes);
  Objective<S> objective;
  const auto rec = r.get<std::uint32_t>("objective.reconstruction"), kl = r.get<std::uint32_t>("objective.kl");
  if (rec > 1 || kl > 1) throw FormatError(path + ": objective fields are " + std::to_string(rec) + ", " + std::to_string(kl) + ", expected 0 or 1");
  objective.reconstruction = static_cast<Reconstruction>(rec);
  objective.kl = static_cast<KlForm>(kl);
  objective.beta = static_cast<S>(r.get<double>("objective.beta"));
  Vector<S> params(Model::parameter_count);
  r.get_array(params.data(), std::size_t(params.size()), "parameters");
  // Settings not stored (gradient clipping) stay as the caller set them.
  AdamOptions adam = optimizer ? optimizer->options() : AdamOptions{};
  std::int64_t steps = 0;
  Vector<S> m, v;
  if (info.has_optimizer) {
    for (double* f : {&adam.lr, &adam.beta1, &adam.beta2, &adam.eps, &adam.weight_decay}) *f = r.get<double>("optimizer settings");
    steps = r.get<std::int64_t>("optimizer steps");
    m.resize(Model::parameter_count);
    v.resize(Model::parameter_count);
    r.get_array(m.data(), std::size_t(m.size()), "optimizer first moment");
    r.get_array(v.data(), std::size_t(v.size()), "optimizer second moment");
  }
  TrainingPosition pos;
  if (info.has_position) {
    pos.next_epoch = r.get<std::int64_t>("position.next_epoch");
    pos.seed = r.get<std::uint64_t>("position.seed");
  }
  if (r.position() != bytes.size() - 4)
    throw FormatError(path + ": " + std::to_string(bytes.size() - 4 - r.position()) + " unexpected bytes after the payload");
  if (optimizer && !info.has_optimizer) throw FormatError(path + ": the checkpoint holds no optimizer state");
  if (position && !info.has_position) throw FormatError(path + ": the checkpoint holds no training position");
  if (!params.allFinite()) throw FormatError(path + ": the parameters contain NaN or infinite values");

  // Everything is checked before anything is changed.
  vae::detail::check_objective(objective);
  if (optimizer) validate(adam);
  model.set_objective(objective);
  if (optimizer) {
    optimizer->set_options(adam);
    optimizer->restore(Model::parameter_count, m.data(), v.data(), steps);
  }
  model.set_parameters(params);
  if (position) *position = pos;
  return info;
}

}  // namespace vae::io
