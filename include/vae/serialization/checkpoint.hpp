#pragma once
// Versioned, checksummed, atomically written checkpoints of a model,
// optionally with its Adam state and its training position.
//
// Layout, little-endian, format version 3:
//   offset  size  field
//        0     8  magic "VAECKPT\0"
//        8     4  format version (3)
//       12     4  model kind (1 autoencoder, 2 VAE, 3 conditional VAE)
//       16     4  scalar size in bytes (4 float, 8 double)
//       20     4  contents flags (1 optimizer state, 2 training position,
//                  4 objective bound, 8 data statistics)
//       24     8  payload size in bytes (u64)
//       32     -  payload:
//                   architecture: encoder sizes, decoder sizes (each a u32
//                     count, then that many u64), encoder activation, decoder
//                     activation (each a u32 length, then that many bytes),
//                     and for a conditional VAE its classes (u64; the first
//                     encoder and decoder sizes include them)
//                   layers (format 3): the encoder's layers (u32 count, then
//                     each layer), the latent stage (one layer), the
//                     decoder's layers (u32 count, then each layer), the
//                     output (string). A layer: kind (string), input shape
//                     and output shape (each a u32 rank, then that many u64),
//                     activation (string), settings (u32 count, then that
//                     many i64). A string is a u32 length and its bytes.
//                   objective: reconstruction (u32), KL form (u32), beta (f64)
//                   [bound]     bound (u32: 1 importance-weighted), samples k
//                               (u64): written only for a bound other than
//                               the ELBO, so ELBO checkpoints are as before
//                               and a reader that predates the flag refuses
//                               the file instead of training on the ELBO
//                   parameters (parameter_count scalars)
//                   [optimizer] lr, beta1, beta2, eps, weight decay (5 x f64),
//                               steps (i64), first moment, second moment
//                   [position]  next epoch (i64), seed (u64)
//                   [data]      the features the model was trained on
//                               (DataStatistics): count D (u32, the
//                               model's features), standardize (u8, 0 or
//                               1), sigma (f64), D means and D scales
//                               (f64), D names (strings of 1 to 4096 bytes)
//   end - 4      4  CRC-32 of every byte before it
// Version 2 is version 3 without the layers: its layers are the dense ones
// its sizes and activation names describe. It still loads.
// Version 1 (three sizes In-Hidden-Latent, ReLU) had a 56-byte header: the kind,
// scalar and flags as above, then input, hidden and latent sizes (3 x u64)
// and the payload size; its payload starts at the objective. It still loads.
// Parameters are stored from host memory, so a checkpoint written by one
// backend loads into another.

#include <cstdint>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "vae/core/error.hpp"
#include "vae/core/types.hpp"
#include "vae/data/statistics.hpp"
#include "vae/losses/objective.hpp"
#include "vae/models/architecture.hpp"
#include "vae/models/dynamic.hpp"
#include "vae/optim/adam.hpp"
#include "vae/serialization/atomic_file.hpp"
#include "vae/serialization/crc32.hpp"
#include "vae/serialization/input_file.hpp"
#include "vae/serialization/printable.hpp"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vae checkpoints are little-endian and this library writes them from host memory: big-endian hosts are not supported"
#endif

namespace vae::io {

/// The first 8 bytes of every checkpoint.
inline constexpr char kCheckpointMagic[8] = {'V', 'A', 'E', 'C', 'K', 'P', 'T', '\0'};
/// The format save_checkpoint writes (load_checkpoint also reads formats 1 and 2).
inline constexpr std::uint32_t kCheckpointVersion = 3;
/// The largest k (Objective::samples of an importance-weighted bound) a
/// checkpoint holds: save_checkpoint refuses a larger one, load_checkpoint
/// names the field. vae_mnist's --k has the same limit.
inline constexpr std::uint64_t kMaxBoundSamples = 5000;
/// The largest next epoch a training position may name: the epoch counter
/// of TrainOptions is an int.
inline constexpr std::int64_t kMaxNextEpoch = std::numeric_limits<std::int32_t>::max();

/// Where training stands: the next epoch to run and the run's seed.
struct TrainingPosition {
  /// The first epoch a resumed run trains (0-based).
  std::int64_t next_epoch = 0;
  /// TrainOptions::seed of the run.
  std::uint64_t seed = 0;
};

/// What a checkpoint's header and architecture say.
struct CheckpointInfo {
  /// The file's format, 1, 2 or 3.
  std::uint32_t version = 0;
  /// The model the file holds (format 1: the blog's sizes, ReLU).
  Architecture architecture;
  /// Whether Adam's moments and step count follow the parameters.
  bool has_optimizer = false;
  /// Whether a TrainingPosition is stored.
  bool has_position = false;
  /// Whether the objective's bound and samples follow beta (an
  /// importance-weighted bound; absent for the ELBO).
  bool has_bound = false;
  /// Whether the statistics of the training data follow (DataStatistics:
  /// feature names, means, scales, whether the model sees them standardised).
  bool has_data = false;
  /// e.g. "VAE 784-512-2 relu (float)"; bytes of the activation names that
  /// are not printable UTF-8 are shown as `\xNN` (the names come from the file).
  std::string shape() const {
    return detail::printable_architecture(architecture).describe();
  }
};

namespace detail {

inline constexpr std::size_t kHeaderBytesV1 = 56, kHeaderBytes = 32;
/// B, out of reach of deduction: an optimizer argument given as nullptr
/// takes the model's backend.
template <class B>
using Same = typename std::enable_if<true, B>::type;
inline constexpr std::uint32_t kHasOptimizer = 1, kHasPosition = 2, kHasBound = 4, kHasData = 8;
/// The longest feature name a checkpoint's data statistics hold.
inline constexpr std::uint32_t kMaxColumnNameBytes = 4096;
/// Limits that keep a corrupted size field from asking for absurd memory.
inline constexpr std::uint32_t kMaxLayers = 1024, kMaxNameBytes = 256, kMaxRank = 4, kMaxSettings = 64;
inline constexpr std::uint64_t kMaxLayerSize = std::uint64_t(1) << 32;

/// "a VAE ...", "an autoencoder ...".
inline std::string with_article(const std::string& noun) { return (noun[0] == 'a' ? "an " : "a ") + noun; }

class ByteWriter {
 public:
  template <class T>
  void put(const T& v) {
    const auto* p = reinterpret_cast<const unsigned char*>(&v);
    bytes.insert(bytes.end(), p, p + sizeof(T));
  }
  template <class T>
  void put_array(const T* v, std::size_t n) {
    if (n == 0) return;  // nothing to copy (and v may be null)
    const auto* p = reinterpret_cast<const unsigned char*>(v);
    bytes.insert(bytes.end(), p, p + n * sizeof(T));
  }
  void put_sizes(const std::vector<std::uint64_t>& sizes) {
    put(static_cast<std::uint32_t>(sizes.size()));
    put_array(sizes.data(), sizes.size());
  }
  void put_string(const std::string& s) {
    put(static_cast<std::uint32_t>(s.size()));
    put_array(s.data(), s.size());
  }
  void put_layer(const LayerSpec& l) {
    put_string(l.kind);
    for (const auto* shape : {&l.input, &l.output}) {
      put(static_cast<std::uint32_t>(shape->size()));
      put_array(shape->data(), shape->size());
    }
    put_string(l.activation);
    put(static_cast<std::uint32_t>(l.settings.size()));
    put_array(l.settings.data(), l.settings.size());
  }
  void put_layers(const std::vector<LayerSpec>& layers) {
    put(static_cast<std::uint32_t>(layers.size()));
    for (const auto& l : layers) put_layer(l);
  }
  std::vector<unsigned char> bytes;
};

class ByteReader {
 public:
  ByteReader(const std::string& path, const std::vector<unsigned char>& bytes, std::size_t pos, std::size_t end)
      : path_(path), bytes_(bytes), pos_(pos), end_(end) {}
  template <class T>
  T get(const char* field) {
    T v;
    get_array(&v, 1, field);
    return v;
  }
  template <class T>
  void get_array(T* out, std::size_t n, const char* field) {
    if (n > (end_ - pos_) / sizeof(T))
      throw FormatError(path_ + ": truncated in field '" + field + "': needs " + std::to_string(n * sizeof(T)) +
                        " bytes at offset " + std::to_string(pos_) + ", the file has " + std::to_string(end_ - pos_));
    if (n == 0) return;  // an empty list: `out` may be null, which memcpy must not get
    std::memcpy(out, bytes_.data() + pos_, n * sizeof(T));
    pos_ += n * sizeof(T);
  }
  std::vector<std::uint64_t> get_sizes(const char* field) {
    const auto n = get<std::uint32_t>(field);
    if (n < 2 || n > kMaxLayers)
      throw FormatError(path_ + ": field '" + field + "' lists " + std::to_string(n) + " layer sizes, expected 2 to " +
                        std::to_string(kMaxLayers));
    std::vector<std::uint64_t> sizes(n);
    get_array(sizes.data(), n, field);
    for (const auto s : sizes)
      if (s == 0 || s > kMaxLayerSize)
        throw FormatError(path_ + ": field '" + field + "' holds a layer size of " + std::to_string(s) +
                          ", expected 1 to 2^32");
    return sizes;
  }
  std::string get_string(const char* field, std::uint32_t max_bytes = kMaxNameBytes) {
    const auto n = get<std::uint32_t>(field);
    if (n == 0 || n > max_bytes)
      throw FormatError(path_ + ": field '" + field + "' is " + std::to_string(n) + " bytes long, expected 1 to " +
                        std::to_string(max_bytes));
    std::string s(n, '\0');
    get_array(s.data(), n, field);
    return s;
  }
  /// A layer's shape: 1 to 4 dimensions of 1 to 2^32.
  std::vector<std::uint64_t> get_shape(const std::string& field) {
    const auto n = get<std::uint32_t>(field.c_str());
    if (n < 1 || n > kMaxRank)
      throw FormatError(path_ + ": field '" + field + "' has " + std::to_string(n) + " dimensions, expected 1 to " +
                        std::to_string(kMaxRank));
    std::vector<std::uint64_t> d(n);
    get_array(d.data(), n, field.c_str());
    for (const auto s : d)
      if (s == 0 || s > kMaxLayerSize)
        throw FormatError(path_ + ": field '" + field + "' holds a dimension of " + std::to_string(s) +
                          ", expected 1 to 2^32");
    return d;
  }
  LayerSpec get_layer(const std::string& field) {
    LayerSpec l;
    l.kind = get_string((field + ".kind").c_str());
    l.input = get_shape(field + ".input");
    l.output = get_shape(field + ".output");
    l.activation = get_string((field + ".activation").c_str());
    const auto n = get<std::uint32_t>((field + ".settings").c_str());
    if (n > kMaxSettings)
      throw FormatError(path_ + ": field '" + field + ".settings' holds " + std::to_string(n) +
                        " values, expected at most " + std::to_string(kMaxSettings));
    l.settings.resize(n);
    get_array(l.settings.data(), n, (field + ".settings").c_str());
    return l;
  }
  std::vector<LayerSpec> get_layers(const std::string& field) {
    const auto n = get<std::uint32_t>((field + " count").c_str());
    if (n < 1 || n > kMaxLayers)
      throw FormatError(path_ + ": field '" + field + " count' is " + std::to_string(n) + ", expected 1 to " +
                        std::to_string(kMaxLayers));
    std::vector<LayerSpec> layers;
    for (std::uint32_t i = 0; i < n; ++i) layers.push_back(get_layer(field + "[" + std::to_string(i) + "]"));
    return layers;
  }
  std::size_t position() const { return pos_; }
  /// The bytes left before the end.
  std::size_t left() const { return end_ - pos_; }

 private:
  const std::string& path_;
  const std::vector<unsigned char>& bytes_;
  std::size_t pos_, end_;
};

/// Reads a checkpoint, opening it once: first its header, then exactly as
/// many bytes as the header's payload size declares (so a corrupted size or
/// a path such as /dev/zero cannot exhaust memory), refusing any byte beyond
/// them.
inline std::vector<unsigned char> read_checkpoint_bytes(const std::string& path) {
  InputFile in(path, "checkpoint");
  std::vector<unsigned char> bytes;
  in.read_up_to(kHeaderBytesV1, bytes);
  if (bytes.size() < kHeaderBytes + 4)
    throw FormatError(path + ": " + std::to_string(bytes.size()) + " bytes, too short for a checkpoint (at least " +
                      std::to_string(kHeaderBytes + 4) + ")");
  if (std::memcmp(bytes.data(), kCheckpointMagic, 8) != 0)
    throw FormatError(path + ": magic is not \"VAECKPT\": not a vae checkpoint");
  std::uint32_t version;
  std::memcpy(&version, bytes.data() + 8, 4);
  if (version < 1 || version > kCheckpointVersion)
    throw FormatError(path + ": format version is " + std::to_string(version) + ", this library reads versions 1 to " +
                      std::to_string(kCheckpointVersion));
  const std::size_t header = version == 1 ? kHeaderBytesV1 : kHeaderBytes;
  if (bytes.size() < header)
    throw FormatError(path + ": " + std::to_string(bytes.size()) + " bytes, too short for a version " +
                      std::to_string(version) + " checkpoint");
  std::uint64_t payload;
  std::memcpy(&payload, bytes.data() + header - 8, 8);
  // A payload larger than the file is caught below without reading that much.
  const std::uint64_t total = std::uint64_t(header) + payload + 4;
  if (payload > (std::uint64_t(1) << 40))
    throw FormatError(path + ": payload size field says " + std::to_string(payload) + " bytes, more than 1 TiB");
  if (total < bytes.size())
    throw FormatError(path + ": payload size field says " + std::to_string(payload) + " bytes, the file holds more");
  const auto held = [&](std::uint64_t size) { return std::to_string(size < header + 4 ? 0 : size - header - 4); };
  // A regular file's size is known: refuse a too-large claim before reading.
  if (in.size() != InputFile::kUnknownSize && in.size() != total)
    throw FormatError(path + ": payload size field says " + std::to_string(payload) + " bytes, the file holds " +
                      held(in.size()) + " (truncated or padded)");
  // Otherwise (a pipe, a device) memory grows only with data that is really
  // there, and never past the declared size plus one byte.
  in.read_up_to(total + 1 - bytes.size(), bytes);
  if (bytes.size() != total)
    throw FormatError(path + ": payload size field says " + std::to_string(payload) + " bytes, the file holds " +
                      (bytes.size() > total ? "more" : held(bytes.size())) + " (truncated or padded)");
  std::uint32_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
  if (stored != vae::detail::crc32_of(bytes.data(), bytes.size() - 4))
    throw FormatError(path + ": CRC-32 mismatch: the checkpoint is corrupted");
  return bytes;
}

/// Parses the header and the architecture; leaves `r` at the objective.
inline CheckpointInfo parse_header(const std::string& path, const std::vector<unsigned char>& bytes, std::size_t& payload) {
  ByteReader r(path, bytes, 8, bytes.size() - 4);
  CheckpointInfo info;
  info.version = r.get<std::uint32_t>("format version");
  const auto kind = r.get<std::uint32_t>("model kind");
  if (kind < 1 || kind > 3 || (kind == 3 && info.version == 1))
    throw FormatError(path + ": model kind is " + std::to_string(kind) + ", expected 1, 2" +
                      (info.version == 1 ? "" : " or 3"));
  Architecture& a = info.architecture;
  a.variational = kind >= 2;
  a.scalar_bytes = r.get<std::uint32_t>("scalar size");
  if (a.scalar_bytes != 4 && a.scalar_bytes != 8)
    throw FormatError(path + ": scalar size is " + std::to_string(a.scalar_bytes) + ", expected 4 or 8");
  const auto flags = r.get<std::uint32_t>("contents flags");
  const std::uint32_t known = info.version == 1   ? (kHasOptimizer | kHasPosition)
                              : info.version == 2 ? (kHasOptimizer | kHasPosition | kHasBound)
                                                  : (kHasOptimizer | kHasPosition | kHasBound | kHasData);
  if (flags & ~known)
    throw FormatError(path + ": contents flags are " + std::to_string(flags) + ", expected a combination of " +
                      (info.version == 1 ? "1 and 2" : info.version == 2 ? "1, 2 and 4" : "1, 2, 4 and 8"));
  info.has_optimizer = flags & kHasOptimizer;
  info.has_position = flags & kHasPosition;
  info.has_bound = flags & kHasBound;
  info.has_data = flags & kHasData;
  if (info.version == 1) {
    std::uint64_t d[3];
    r.get_array(d, 3, "input, hidden and latent sizes");
    for (const auto s : d)
      if (s == 0 || s > kMaxLayerSize) throw FormatError(path + ": a layer size is " + std::to_string(s) + ", expected 1 to 2^32");
    a.encoder = {d[0], d[1], d[2]};
    a.decoder = {d[2], d[1], d[0]};
    a.encoder_activation = a.decoder_activation = "relu";
    r.get<std::uint64_t>("payload size");
  } else {
    r.get<std::uint64_t>("payload size");
    a.encoder = r.get_sizes("encoder sizes");
    a.decoder = r.get_sizes("decoder sizes");
    a.encoder_activation = r.get_string("encoder activation");
    a.decoder_activation = r.get_string("decoder activation");
    if (kind == 3) {
      a.classes = r.get<std::uint64_t>("classes");
      if (a.classes < 1 || a.classes >= a.encoder.front() || a.classes >= a.decoder.front())
        throw FormatError(path + ": field 'classes' is " + std::to_string(a.classes) +
                          ", expected 1 to one less than the first encoder and decoder sizes (" +
                          std::to_string(a.encoder.front()) + ", " + std::to_string(a.decoder.front()) + ")");
    }
  }
  if (info.version >= 3) {
    a.encoder_layers = r.get_layers("encoder layers");
    a.latent = r.get_layer("latent");
    a.decoder_layers = r.get_layers("decoder layers");
    a.output = r.get_string("output");
    // The sizes and names summarise dense stacks: they must say the same.
    Architecture summary = a;
    summary.encoder_layers.clear();
    summary.decoder_layers.clear();
    summary.latent = LayerSpec{};
    summary.with_layers();
    // (A stack that is not all dense has only its ends in the sizes, and "custom".)
    const auto contradicts = [](const std::vector<LayerSpec>& layers, const std::vector<LayerSpec>& from_sizes) {
      for (const auto* list : {&layers, &from_sizes})
        for (const auto& l : *list)
          if (l.kind != "dense") return false;
      return layers != from_sizes;
    };
    if (contradicts(a.encoder_layers, summary.encoder_layers) || contradicts(a.decoder_layers, summary.decoder_layers) ||
        a.latent != summary.latent)
      throw FormatError(path + ": the layers (" + printable_architecture(a).describe_layers() +
                        ") contradict the sizes and activations (" + printable_architecture(summary).describe() + ")");
  } else {
    a.with_layers();
  }
  payload = r.position();
  return info;
}

/// Everything a checkpoint holds after its architecture, parsed and checked
/// field by field before any of it reaches a model or an optimizer.
template <class S>
struct CheckpointContents {
  Objective<S> objective;
  Vector<S> params, m, v;
  AdamOptions adam;
  std::int64_t steps = 0;
  TrainingPosition position;
  DataStatistics data;
};

/// Throws FormatError naming the field, its value and what was expected
/// unless `ok`. Integers print as integers, doubles in at most 9 digits.
template <class T>
void check_field(bool ok, const std::string& path, const char* field, T value, const std::string& expected) {
  if (ok) return;
  const std::string shown = std::is_integral_v<T> ? std::to_string(value) : number(double(value));
  throw FormatError(path + ": field '" + field + "' is " + shown + ", expected " + expected);
}

/// "[1.17549435e-38, 3.40282347e+38]": the finite values of S > 0 a double
/// setting may take (a smaller one would become 0 in S, a larger one inf).
template <class S>
std::string positive_range() {
  return "a value in [" + number(double(std::numeric_limits<S>::min())) + ", " +
         number(double(std::numeric_limits<S>::max())) + "] (the model's scalar type)";
}
/// `v` in that range (NaN is not).
template <class S>
bool fits_positive(double v) {
  return v >= double(std::numeric_limits<S>::min()) && v <= double(std::numeric_limits<S>::max());
}

/// Every element of `v` finite (and >= 0 when `non_negative`); the message
/// names the field, the first bad element and its value.
template <class S>
void check_elements(const Vector<S>& v, const std::string& path, const char* field, bool non_negative) {
  for (Index i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i]) || (non_negative && v[i] < S(0)))
      throw FormatError(path + ": field '" + field + "' holds " + number(double(v[i])) + " at index " +
                        std::to_string(i) + ", expected " + (non_negative ? "finite values >= 0" : "finite values"));
}

/// The bytes from the objective to the CRC that the header's flags and a
/// model of `parameter_count` scalars of `scalar_bytes` call for.
inline std::uint64_t expected_contents_bytes(const CheckpointInfo& info, Index parameter_count) {
  const std::uint64_t params = std::uint64_t(parameter_count) * info.architecture.scalar_bytes;
  return 16 + (info.has_bound ? 12 : 0) + params + (info.has_optimizer ? 48 + 2 * params : 0) +
         (info.has_position ? 16 : 0);
}

/// The objective: loss, KL form, beta and, when flagged, the bound and k.
template <class S>
Objective<S> parse_objective(ByteReader& r, const std::string& path, const CheckpointInfo& info) {
  Objective<S> o;
  const auto rec = r.get<std::uint32_t>("objective.reconstruction"), kl = r.get<std::uint32_t>("objective.kl");
  check_field(rec <= 1000 && is_known(static_cast<Reconstruction>(rec)), path, "objective.reconstruction", rec,
              "a known reconstruction loss");
  check_field(kl <= 1000 && is_known(static_cast<KlForm>(kl)), path, "objective.kl", kl, "a known KL form");
  o.reconstruction = static_cast<Reconstruction>(rec);
  o.kl = static_cast<KlForm>(kl);
  const double beta = r.get<double>("objective.beta");
  // Stored as a double, used as S: it must fit S (1e300 would become inf in a float model).
  check_field(beta >= 0 && beta <= double(std::numeric_limits<S>::max()), path, "objective.beta", beta,
              "a finite value >= 0 within the model's scalar type");
  o.beta = static_cast<S>(beta);
  if (info.has_bound) {
    const auto bound = r.get<std::uint32_t>("objective.bound");
    check_field(bound == std::uint32_t(Bound::ImportanceWeighted), path, "objective.bound", bound,
                "1 (importance-weighted; the ELBO is stored without the flag)");
    const auto k = r.get<std::uint64_t>("objective.samples");
    check_field(k >= 1 && k <= kMaxBoundSamples, path, "objective.samples", k,
                "a count in [1, " + std::to_string(kMaxBoundSamples) + "]");
    o.bound = Bound::ImportanceWeighted;
    o.samples = static_cast<Index>(k);
  }
  return o;
}

/// Adam's settings and step count (the moments follow them). The settings
/// are stored as doubles and used as S, so each must fit S.
template <class S>
void parse_adam(ByteReader& r, const std::string& path, CheckpointContents<S>& c) {
  AdamOptions& a = c.adam;
  for (double* f : {&a.lr, &a.beta1, &a.beta2, &a.eps, &a.weight_decay}) *f = r.get<double>("optimizer settings");
  check_field(fits_positive<S>(a.lr), path, "optimizer.lr", a.lr, positive_range<S>());
  check_field(a.beta1 >= 0 && a.beta1 < 1, path, "optimizer.beta1", a.beta1, "a value in [0, 1)");
  check_field(a.beta2 >= 0 && a.beta2 < 1, path, "optimizer.beta2", a.beta2, "a value in [0, 1)");
  check_field(fits_positive<S>(a.eps), path, "optimizer.eps", a.eps, positive_range<S>());
  check_field(a.weight_decay >= 0 && a.weight_decay <= double(std::numeric_limits<S>::max()), path,
              "optimizer.weight_decay", a.weight_decay, "a finite value >= 0 within the model's scalar type");
  c.steps = r.get<std::int64_t>("optimizer.steps");
  check_field(c.steps >= 0, path, "optimizer.steps", c.steps, "a count >= 0");
}

/// The data statistics: one name, mean and scale per feature of the model.
inline DataStatistics parse_data(ByteReader& r, const std::string& path, const CheckpointInfo& info) {
  const std::uint64_t features = info.architecture.encoder.front() - info.architecture.classes;
  const auto n = r.get<std::uint32_t>("data.features");
  check_field(n == features, path, "data.features", n, std::to_string(features) + ", the model's features");
  const auto standardize = r.get<std::uint8_t>("data.standardize");
  check_field(standardize <= 1, path, "data.standardize", unsigned(standardize), "0 or 1");
  DataStatistics d;
  d.standardize = standardize == 1;
  d.sigma = r.get<double>("data.sigma");
  check_field(std::isfinite(d.sigma) && d.sigma > 0, path, "data.sigma", d.sigma, "a finite value > 0");
  d.mean.resize(n);
  d.scale.resize(n);
  r.get_array(d.mean.data(), n, "data.mean");
  r.get_array(d.scale.data(), n, "data.scale");
  for (std::uint32_t i = 0; i < n; ++i) {
    check_field(std::isfinite(d.mean[i]), path, "data.mean", d.mean[i], "finite values");
    check_field(std::isfinite(d.scale[i]) && d.scale[i] > 0, path, "data.scale", d.scale[i], "finite values > 0");
  }
  for (std::uint32_t i = 0; i < n; ++i) d.columns.push_back(r.get_string("data.columns", kMaxColumnNameBytes));
  return d;
}

template <class S>
CheckpointContents<S> parse_contents(const std::string& path, const std::vector<unsigned char>& bytes,
                                     const CheckpointInfo& info, std::size_t at, Index parameter_count) {
  // The sizes first: a payload of another length would shift every field and
  // the first one read would be blamed for it.
  // The data statistics' names vary in length: they need at least their fixed part.
  const std::uint64_t want = expected_contents_bytes(info, parameter_count), have = bytes.size() - 4 - at;
  if (info.has_data ? have < want + 5 : have != want)
    throw FormatError(path + ": the payload holds " + std::to_string(have) + " bytes after the architecture, " +
                      detail::with_article(info.shape()) + " of " + std::to_string(parameter_count) + " parameters" +
                      (info.has_optimizer ? " with optimizer state" : "") +
                      (info.has_position ? " and a training position" : "") +
                      (info.has_data ? " and data statistics needs more than " : " needs ") + std::to_string(want));
  ByteReader r(path, bytes, at, bytes.size() - 4);
  CheckpointContents<S> c;
  c.objective = parse_objective<S>(r, path, info);
  c.params.resize(parameter_count);
  r.get_array(c.params.data(), std::size_t(parameter_count), "parameters");
  check_elements(c.params, path, "parameters", false);
  if (info.has_optimizer) {
    parse_adam(r, path, c);
    c.m.resize(parameter_count);
    c.v.resize(parameter_count);
    r.get_array(c.m.data(), std::size_t(parameter_count), "optimizer first moment");
    r.get_array(c.v.data(), std::size_t(parameter_count), "optimizer second moment");
    check_elements(c.m, path, "optimizer.first_moment", false);
    check_elements(c.v, path, "optimizer.second_moment", true);
  }
  if (info.has_position) {
    c.position.next_epoch = r.get<std::int64_t>("position.next_epoch");
    check_field(c.position.next_epoch >= 0 && c.position.next_epoch <= kMaxNextEpoch, path, "position.next_epoch",
                c.position.next_epoch, "an epoch in [0, 2^31 - 1]");
    c.position.seed = r.get<std::uint64_t>("position.seed");
  }
  if (info.has_data) c.data = parse_data(r, path, info);
  if (r.left() != 0)
    throw FormatError(path + ": " + std::to_string(r.left()) + " bytes follow the last field, expected none");
  return c;
}

/// Refuses to write what load_checkpoint would refuse to read back.
template <class S>
void check_savable(const std::string& path, const Objective<S>& o, const TrainingPosition* position,
                   const DataStatistics* data, Index features) {
  if (data) {
    const auto fail = [&](const std::string& what) {
      throw ValueError(path + ": the data statistics " + what + "; a checkpoint holds one finite mean, one finite "
                       "scale > 0 and one name of 1 to " + std::to_string(kMaxColumnNameBytes) +
                       " bytes per feature of the model (" + std::to_string(features) + "), and a finite sigma > 0");
    };
    if (!std::isfinite(data->sigma) || !(data->sigma > 0))
      fail("have a sigma of " + std::to_string(data->sigma));
    if (data->features() != features || data->scale.size() != data->mean.size() ||
        data->columns.size() != data->mean.size())
      fail("hold " + std::to_string(data->mean.size()) + " means, " + std::to_string(data->scale.size()) +
           " scales and " + std::to_string(data->columns.size()) + " names");
    for (Index i = 0; i < features; ++i)
      if (!std::isfinite(data->mean[i]) || !std::isfinite(data->scale[i]) || !(data->scale[i] > 0) ||
          data->columns[i].empty() || data->columns[i].size() > kMaxColumnNameBytes)
        fail("of feature " + std::to_string(i) + " are out of range");
  }
  if (o.bound != Bound::Elbo && (o.samples < 1 || std::uint64_t(o.samples) > kMaxBoundSamples))
    throw ValueError(path + ": the objective's samples k is " + std::to_string(o.samples) +
                     ", a checkpoint holds k in [1, " + std::to_string(kMaxBoundSamples) + "]");
  if (position && (position->next_epoch < 0 || position->next_epoch > kMaxNextEpoch))
    throw ValueError(path + ": the training position's next epoch is " + std::to_string(position->next_epoch) +
                     ", a checkpoint holds an epoch in [0, 2^31 - 1]");
}

}  // namespace detail

/// A checkpoint read into memory, its header and CRC checked: a path that
/// can be read only once (a pipe, a FIFO, a shell's <(...)) is read with
/// read_checkpoint_file, its `info` looked at, and the same bytes loaded with
/// load_checkpoint(file, ...).
struct CheckpointFile {
  /// The path it was read from, for messages.
  std::string path;
  /// The whole file.
  std::vector<unsigned char> bytes;
  /// Its header and architecture.
  CheckpointInfo info;
};

/// Reads `path` once and checks its header, architecture and CRC.
inline CheckpointFile read_checkpoint_file(const std::string& path) {
  CheckpointFile file{path, detail::read_checkpoint_bytes(path), {}};
  std::size_t at = 0;
  file.info = detail::parse_header(path, file.bytes, at);
  return file;
}

/// Reads and checks a checkpoint's header, architecture and CRC.
inline CheckpointInfo read_checkpoint_info(const std::string& path) { return read_checkpoint_file(path).info; }

/// Writes `model` (and, when given, the optimizer state, training
/// position and the statistics of its training data) to `path` atomically: the old file survives any failure.
template <class Model, class B = typename Model::Backend>
void save_checkpoint(const std::string& path, const Model& model, const Adam<typename Model::Scalar, detail::Same<B>>* optimizer = nullptr,
                     const TrainingPosition* position = nullptr, const DataStatistics* data = nullptr) {
  using S = typename Model::Scalar;
  detail::check_savable(path, model.objective(), position, data, model.num_features());
  const Architecture arch = model.architecture();
  detail::ByteWriter payload;
  payload.put_sizes(arch.encoder);
  payload.put_sizes(arch.decoder);
  payload.put_string(arch.encoder_activation);
  payload.put_string(arch.decoder_activation);
  if (arch.classes > 0) payload.put(arch.classes);
  payload.put_layers(arch.encoder_layers);
  payload.put_layer(arch.latent);
  payload.put_layers(arch.decoder_layers);
  payload.put_string(arch.output);
  const Objective<S>& o = model.objective();
  payload.put(static_cast<std::uint32_t>(o.reconstruction));
  payload.put(static_cast<std::uint32_t>(o.kl));
  payload.put(static_cast<double>(o.beta));
  const bool bound = o.bound != Bound::Elbo;
  if (bound) {
    payload.put(static_cast<std::uint32_t>(o.bound));
    payload.put(static_cast<std::uint64_t>(o.samples));
  }
  const Vector<S> params = model.parameters_host();
  payload.put_array(params.data(), std::size_t(params.size()));
  if (optimizer) {
    const AdamOptions& a = optimizer->options();
    for (const double v : {a.lr, a.beta1, a.beta2, a.eps, a.weight_decay}) payload.put(v);
    payload.put(static_cast<std::int64_t>(optimizer->steps()));
    const Index n = model.num_parameters();
    Vector<S> m = Vector<S>::Zero(n), v = Vector<S>::Zero(n);
    if (optimizer->size() == n) optimizer->download_state(m.data(), v.data());
    payload.put_array(m.data(), std::size_t(m.size()));
    payload.put_array(v.data(), std::size_t(v.size()));
  }
  if (position) {
    payload.put(position->next_epoch);
    payload.put(position->seed);
  }
  if (data) {
    payload.put(static_cast<std::uint32_t>(data->features()));
    payload.put(static_cast<std::uint8_t>(data->standardize ? 1 : 0));
    payload.put(data->sigma);
    payload.put_array(data->mean.data(), data->mean.size());
    payload.put_array(data->scale.data(), data->scale.size());
    for (const std::string& name : data->columns) payload.put_string(name);
  }
  detail::ByteWriter file;
  file.put_array(kCheckpointMagic, 8);
  file.put(kCheckpointVersion);
  file.put(static_cast<std::uint32_t>(arch.classes > 0 ? 3 : Model::is_variational ? 2 : 1));
  file.put(static_cast<std::uint32_t>(sizeof(S)));
  file.put(static_cast<std::uint32_t>((optimizer ? detail::kHasOptimizer : 0) | (position ? detail::kHasPosition : 0) |
                                      (bound ? detail::kHasBound : 0) | (data ? detail::kHasData : 0)));
  file.put(static_cast<std::uint64_t>(payload.bytes.size()));
  file.bytes.insert(file.bytes.end(), payload.bytes.begin(), payload.bytes.end());
  file.put(vae::detail::crc32_of(file.bytes.data(), file.bytes.size()));
  AtomicFile out(path);
  out.write(file.bytes.data(), file.bytes.size());
  out.commit();
}

/// Loads a checkpoint read by read_checkpoint_file into `model` (and the
/// optimizer / position / data statistics when given). All or nothing: every field is checked
/// before the model, optimizer or position changes. Throws ShapeError naming
/// both architectures when the file holds a different one. Returns the header.
template <class Model, class B = typename Model::Backend>
CheckpointInfo load_checkpoint(const CheckpointFile& file, Model& model,
                               Adam<typename Model::Scalar, detail::Same<B>>* optimizer = nullptr, TrainingPosition* position = nullptr,
                               DataStatistics* data = nullptr) {
  using S = typename Model::Scalar;
  const std::string& path = file.path;
  std::size_t at = 0;
  const CheckpointInfo info = detail::parse_header(path, file.bytes, at);
  const Architecture want = model.architecture();
  if (info.architecture != want)
    throw ShapeError(path + ": the checkpoint holds " + detail::with_article(info.shape()) + ", the model is " +
                     detail::with_article(want.describe()));
  detail::CheckpointContents<S> c = detail::parse_contents<S>(path, file.bytes, info, at, model.num_parameters());
  if (optimizer && !info.has_optimizer) throw FormatError(path + ": the checkpoint holds no optimizer state");
  if (position && !info.has_position) throw FormatError(path + ": the checkpoint holds no training position");
  if (data && !info.has_data) throw FormatError(path + ": the checkpoint holds no data statistics");
  if (optimizer) {
    // Settings the file does not hold (gradient clipping) stay as the caller set them.
    c.adam.max_grad_norm = optimizer->options().max_grad_norm;
    validate<S>(c.adam);
  }
  // Everything is checked; from here on nothing can fail on the file's account.
  model.set_objective(c.objective);
  model.set_parameters(c.params);
  if (optimizer) {
    optimizer->set_options(c.adam);
    optimizer->restore(model.num_parameters(), c.m.data(), c.v.data(), c.steps);
  }
  if (position) *position = c.position;
  if (data) *data = std::move(c.data);
  return info;
}

/// Reads `path` once and loads it: load_checkpoint(read_checkpoint_file(path), ...).
template <class Model, class B = typename Model::Backend>
CheckpointInfo load_checkpoint(const std::string& path, Model& model, Adam<typename Model::Scalar, detail::Same<B>>* optimizer = nullptr,
                               TrainingPosition* position = nullptr, DataStatistics* data = nullptr) {
  return load_checkpoint(read_checkpoint_file(path), model, optimizer, position, data);
}

/// The model a checkpoint read by read_checkpoint_file holds, built from its
/// architecture and loaded (with the optimizer state and position when
/// given): Model is DynamicVae<S, B>, DynamicAutoencoder<S, B> or
/// DynamicCvae<Classes, S, B>, so the caller names only the scalar and
/// backend (and a conditional VAE's classes). Throws FormatError naming what
/// the file holds when it is another kind of model, another scalar or a
/// network vae cannot build.
template <class Model, class B = typename Model::Backend>
Model load_checkpoint_model(const CheckpointFile& file, Adam<typename Model::Scalar, detail::Same<B>>* optimizer = nullptr,
                            TrainingPosition* position = nullptr, typename Model::Context ctx = {},
                            DataStatistics* data = nullptr) {
  const Index count = parameter_count_of(file.info.architecture);
  if (count < 0 || std::uint64_t(count) * file.info.architecture.scalar_bytes > file.bytes.size())
    throw FormatError(file.path + ": the checkpoint holds " + detail::with_article(file.info.shape()) + " of " +
                      (count < 0 ? std::string("more parameters than memory can hold") :
                                   std::to_string(count) + " parameters") +
                      ", more than its " + std::to_string(file.bytes.size()) + " bytes can hold");
  // The objective first: the output distribution decides the decoder's rows.
  std::size_t at = 0;
  detail::parse_header(file.path, file.bytes, at);
  detail::ByteReader r(file.path, file.bytes, at, file.bytes.size() - 4);
  const Objective<typename Model::Scalar> objective = detail::parse_objective<typename Model::Scalar>(r, file.path, file.info);
  Model model = [&] {
    try {
      return make_model<Model>(file.info.architecture, 0, objective, std::move(ctx));
    } catch (const FormatError& e) {
      throw FormatError(file.path + ": " + e.what());
    } catch (const ShapeError& e) {
      throw FormatError(file.path + ": the checkpoint holds " + detail::with_article(file.info.shape()) +
                        ", whose networks do not fit together: " + e.what());
    }
  }();
  load_checkpoint(file, model, optimizer, position, data);
  return model;
}

/// Reads `path` once and builds the model it holds: load_checkpoint_model(read_checkpoint_file(path), ...).
template <class Model, class B = typename Model::Backend>
Model load_checkpoint_model(const std::string& path, Adam<typename Model::Scalar, detail::Same<B>>* optimizer = nullptr,
                            TrainingPosition* position = nullptr, typename Model::Context ctx = {},
                            DataStatistics* data = nullptr) {
  return load_checkpoint_model<Model>(read_checkpoint_file(path), optimizer, position, std::move(ctx), data);
}

}  // namespace vae::io
