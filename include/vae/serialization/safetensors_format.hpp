#pragma once
// The safetensors file format (https://github.com/huggingface/safetensors),
// read and written without any model in sight: vae/serialization/safetensors.hpp
// maps a model's layers onto it.
//
// Layout, little-endian:
//   offset   size  field
//        0      8  N, the header's length in bytes (u64)
//        8      N  the header: a JSON object (UTF-8), padded with spaces
//    8 + N      -  the data: every tensor's elements, row-major (C order)
// The header maps each tensor name to {"dtype", "shape", "data_offsets"}
// (offsets [begin, end) in bytes from the start of the data), and the
// optional key "__metadata__" to an object of string values.
//
// The reader refuses, naming the file and the tensor or field: a header
// longer than kMaxSafetensorsHeaderBytes or than the file, a header that is
// not a JSON object, a duplicate name or field, a missing or unknown field, a
// value of the wrong JSON type, a dtype other than F64, F32, F16 and BF16, a
// byte length that is not the shape's element count times the dtype's size,
// offsets that overlap, leave a gap or do not start at 0, a NUL byte in the
// header (JSON parsers disagree on what follows one: the format pads with
// spaces), and a file longer or shorter than the header declares. Names and
// values from the file are printed with unprintable bytes escaped. It reads nothing past what the header
// declares (a corrupted length cannot exhaust memory: see SafetensorsReader).
// Parsing is a SAX pass of nlohmann/json over the header, so no DOM of an
// untrusted header is built and duplicate keys are seen (a DOM keeps the last).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "vae/core/error.hpp"
#include "vae/serialization/atomic_file.hpp"
#include "vae/serialization/input_file.hpp"
#include "vae/serialization/printable.hpp"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors files are little-endian and this library reads them into host memory: big-endian hosts are not supported"
#endif

namespace vae::io {

/// Element types vae reads from a safetensors file; it writes F32 (float
/// models) and F64 (double models).
enum class Dtype {
  F64,  ///< IEEE binary64 (double)
  F32,  ///< IEEE binary32 (float)
  F16,  ///< IEEE binary16 (half), read only
  BF16  ///< bfloat16: a float's upper 16 bits, read only
};

/// The dtype's name in a safetensors header ("F32", ...).
inline const char* dtype_name(Dtype d) {
  switch (d) {
    case Dtype::F64: return "F64";
    case Dtype::F32: return "F32";
    case Dtype::F16: return "F16";
    case Dtype::BF16: return "BF16";
  }
  return "?";
}

/// Bytes per element of `d`.
inline std::size_t dtype_size(Dtype d) { return d == Dtype::F64 ? 8 : d == Dtype::F32 ? 4 : 2; }

/// The dtype vae writes for the scalar type S: F32 for float, F64 for double.
template <class S>
constexpr Dtype dtype_of() {
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>, "vae: safetensors stores float or double");
  return std::is_same_v<S, float> ? Dtype::F32 : Dtype::F64;
}

/// One tensor's entry in a safetensors header.
struct TensorInfo {
  /// The tensor's name ("encoder.linear1.weight").
  std::string name;
  /// Its element type.
  Dtype dtype = Dtype::F32;
  /// Row-major shape; PyTorch's nn.Linear weight is {out, in}, its bias {out}.
  std::vector<std::uint64_t> shape;
  /// Bytes [begin, end) from the start of the data section.
  std::uint64_t begin = 0;
  /// See begin.
  std::uint64_t end = 0;
  /// The product of the shape (1 for a scalar, shape {}).
  std::uint64_t elements() const {
    std::uint64_t n = 1;
    for (const auto s : shape) n *= s;
    return n;
  }
};

/// A safetensors header, parsed and checked.
struct SafetensorsHeader {
  /// Every tensor, in the order of its data (by offset).
  std::vector<TensorInfo> tensors;
  /// The "__metadata__" object (string values only), or empty.
  std::map<std::string, std::string> metadata;
  /// N, the JSON header's length in bytes (the data starts at 8 + N).
  std::uint64_t header_bytes = 0;
  /// The data section's length: the end of the last tensor.
  std::uint64_t data_bytes = 0;

  /// The tensor called `name`, or nullptr.
  const TensorInfo* find(const std::string& name) const {
    for (const auto& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
};

/// The longest header vae reads (the safetensors reference reader's limit):
/// a longer length field is refused before anything is allocated.
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;
/// The most dimensions a tensor's shape may have.
inline constexpr std::size_t kMaxSafetensorsRank = 64;

namespace detail {

/// "[512, 784]".
inline std::string shape_string(const std::vector<std::uint64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// F16 (IEEE binary16) bits to float, exactly (subnormals, infinities and NaN included).
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  std::uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu, bits = 0;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);  // rebias 15 -> 127
  } else if (mantissa != 0) {
    // A subnormal, mantissa x 2^-24: shift its leading one into the implicit bit.
    exponent = 113;
    while (!(mantissa & 0x400u)) {
      mantissa <<= 1;
      --exponent;
    }
    bits = sign | (exponent << 23) | ((mantissa & 0x3ffu) << 13);
  } else {
    bits = sign;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// BF16 bits to float: the upper half of a float's bits.
inline float bfloat16_to_float(std::uint16_t h) {
  const std::uint32_t bits = std::uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// Element `p` (little-endian, of type d) as a double, which holds every
/// value of the four dtypes exactly.
inline double decode(Dtype d, const unsigned char* p) {
  switch (d) {
    case Dtype::F64: {
      double v;
      std::memcpy(&v, p, 8);
      return v;
    }
    case Dtype::F32: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case Dtype::F16:
    case Dtype::BF16: {
      std::uint16_t h;
      std::memcpy(&h, p, 2);
      return d == Dtype::F16 ? half_to_float(h) : bfloat16_to_float(h);
    }
  }
  return 0;
}

/// The SAX handler that turns a header into a SafetensorsHeader, refusing
/// anything but the structure below at the first event that breaks it:
///   { "__metadata__": {string: string, ...},
///     name: {"dtype": string, "shape": [u64, ...], "data_offsets": [u64, u64]}, ... }
class SafetensorsHeaderSax {
 public:
  using json = nlohmann::json;
  explicit SafetensorsHeaderSax(const std::string& path, SafetensorsHeader& out) : path_(path), out_(out) {}

  bool null() { return wrong_type("null"); }
  bool boolean(bool) { return wrong_type("a boolean"); }
  bool number_integer(json::number_integer_t v) {
    return wrong_type(v < 0 ? "a negative integer (" + std::to_string(v) + ")" : "an integer");
  }
  bool number_unsigned(json::number_unsigned_t v) {
    if (where_ == Where::Shape) {
      if (tensor_.shape.size() == kMaxSafetensorsRank)
        fail(tensor_where() + ": field 'shape' has more than " + std::to_string(kMaxSafetensorsRank) + " dimensions");
      tensor_.shape.push_back(v);
      return true;
    }
    if (where_ == Where::Offsets) {
      if (offsets_.size() == 2) fail(tensor_where() + ": field 'data_offsets' has more than 2 elements, expected [begin, end]");
      offsets_.push_back(v);
      return true;
    }
    return wrong_type("a number");
  }
  bool number_float(json::number_float_t, const json::string_t& text) {
    return wrong_type("the number " + quote_name(text) + " (not an integer in [0, 2^64))");
  }
  bool binary(json::binary_t&) { return wrong_type("binary data"); }
  bool string(json::string_t& s) {
    if (where_ == Where::Metadata) {
      out_.metadata[key_] = s;
      return true;
    }
    if (where_ == Where::Tensor && field_ == Field::Dtype) {
      static const std::pair<const char*, Dtype> known[] = {
          {"F64", Dtype::F64}, {"F32", Dtype::F32}, {"F16", Dtype::F16}, {"BF16", Dtype::BF16}};
      const auto* hit = std::find_if(std::begin(known), std::end(known), [&](const auto& k) { return s == k.first; });
      if (hit == std::end(known))
        fail(tensor_where() + ": dtype " + quote_name(s) + " is not one vae reads (F64, F32, F16, BF16)");
      tensor_.dtype = hit->second;
      field_ = Field::None;
      return true;
    }
    return wrong_type("a string");
  }
  bool start_object(std::size_t) {
    if (where_ == Where::Top) {
      where_ = Where::Root;
    } else if (where_ == Where::Root) {
      where_ = key_ == "__metadata__" ? Where::Metadata : Where::Tensor;
      tensor_ = TensorInfo{};
      tensor_.name = key_;
      offsets_.clear();
      seen_fields_ = 0;
      field_ = Field::None;
    } else {
      return wrong_type("an object");
    }
    return true;
  }
  bool key(json::string_t& k) {
    if (where_ == Where::Root) {
      if (k.empty()) fail("the header holds a tensor with an empty name");
      if (!names_.insert(k).second) fail("the header names " + quote_name(k) + " twice");
    } else if (where_ == Where::Metadata) {
      if (out_.metadata.count(k)) fail("'__metadata__' holds the key " + quote_name(k) + " twice");
    } else {  // Where::Tensor: the only place keys can appear besides the two above
      static const std::pair<const char*, Field> fields[] = {
          {"dtype", Field::Dtype}, {"shape", Field::Shape}, {"data_offsets", Field::Offsets}};
      const auto* hit = std::find_if(std::begin(fields), std::end(fields), [&](const auto& f) { return k == f.first; });
      if (hit == std::end(fields))
        fail(tensor_where() + ": unknown field " + quote_name(k) + " (expected dtype, shape and data_offsets)");
      const unsigned bit = 1u << static_cast<unsigned>(hit->second);
      if (seen_fields_ & bit) fail(tensor_where() + ": field " + quote_name(k) + " appears twice");
      seen_fields_ |= bit;
      field_ = hit->second;
    }
    key_ = k;
    return true;
  }
  bool end_object() {
    if (where_ == Where::Tensor) {
      for (const auto f : {Field::Dtype, Field::Shape, Field::Offsets})
        if (!(seen_fields_ & (1u << static_cast<unsigned>(f))))
          fail(tensor_where() + ": field '" + field_name(f) + "' is missing");
      tensor_.begin = offsets_[0];
      tensor_.end = offsets_[1];
      out_.tensors.push_back(std::move(tensor_));
      where_ = Where::Root;
    } else if (where_ == Where::Metadata) {
      where_ = Where::Root;
    } else {
      where_ = Where::Done;
    }
    return true;
  }
  bool start_array(std::size_t) {
    if (where_ == Where::Tensor && field_ == Field::Shape) {
      where_ = Where::Shape;
    } else if (where_ == Where::Tensor && field_ == Field::Offsets) {
      where_ = Where::Offsets;
    } else {
      return wrong_type("an array");
    }
    return true;
  }
  bool end_array() {
    if (where_ == Where::Offsets && offsets_.size() != 2)
      fail(tensor_where() + ": field 'data_offsets' has " + std::to_string(offsets_.size()) +
           " elements, expected [begin, end]");
    where_ = Where::Tensor;
    field_ = Field::None;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    fail("the header is not valid JSON: " + printable(e.what()));
  }

 private:
  enum class Where { Top, Root, Metadata, Tensor, Shape, Offsets, Done };
  enum class Field { None, Dtype, Shape, Offsets };
  static const char* field_name(Field f) {
    return f == Field::Dtype ? "dtype" : f == Field::Shape ? "shape" : f == Field::Offsets ? "data_offsets" : "";
  }

  [[noreturn]] void fail(const std::string& what) const { throw FormatError(path_ + ": " + what); }
  std::string tensor_where() const { return "tensor " + quote_name(tensor_.name); }

  /// A value of a JSON type the position does not allow: names the position
  /// and what belongs there.
  bool wrong_type(const std::string& found) const {
    switch (where_) {
      case Where::Top: fail("the header is " + found + ", expected a JSON object");
      case Where::Root:
        fail(key_ == "__metadata__" ? "'__metadata__' is " + found + ", expected an object of strings"
                                    : "tensor " + quote_name(key_) + " is " + found +
                                          ", expected an object {dtype, shape, data_offsets}");
      case Where::Metadata: fail("'__metadata__' value " + quote_name(key_) + " is " + found + ", expected a string");
      case Where::Tensor:
        fail(tensor_where() + ": field '" + field_name(field_) + "' is " + found + ", expected " +
             (field_ == Field::Dtype ? "a string" : "an array of integers"));
      case Where::Shape:
        fail(tensor_where() + ": field 'shape' holds " + found + ", expected integers >= 0");
      case Where::Offsets:
        fail(tensor_where() + ": field 'data_offsets' holds " + found + ", expected integers >= 0");
      case Where::Done: break;
    }
    fail("the header holds " + found + " after its object");
  }

  const std::string& path_;
  SafetensorsHeader& out_;
  Where where_ = Where::Top;
  Field field_ = Field::None;
  std::string key_;
  std::set<std::string> names_;
  TensorInfo tensor_;
  std::vector<std::uint64_t> offsets_;
  unsigned seen_fields_ = 0;
};

/// Checks every tensor's byte length against its shape and dtype, and that
/// the tensors tile the data section: sorted by offset, starting at 0, each
/// beginning where the previous one ends. Sorts `h.tensors` by offset and
/// sets `h.data_bytes`.
inline void check_tensor_offsets(const std::string& path, SafetensorsHeader& h) {
  for (const auto& t : h.tensors) {
    std::uint64_t bytes = dtype_size(t.dtype);
    for (const auto s : t.shape) {
      if (s != 0 && bytes > std::numeric_limits<std::uint64_t>::max() / s)
        throw FormatError(path + ": tensor " + quote_name(t.name) + ": shape " + shape_string(t.shape) +
                          " holds more than 2^64 bytes");
      bytes *= s;
    }
    if (t.end < t.begin)
      throw FormatError(path + ": tensor " + quote_name(t.name) + ": data_offsets [" + std::to_string(t.begin) + ", " +
                        std::to_string(t.end) + "] end before they begin");
    if (t.end - t.begin != bytes)
      throw FormatError(path + ": tensor " + quote_name(t.name) + ": data_offsets [" + std::to_string(t.begin) + ", " +
                        std::to_string(t.end) + "] span " + std::to_string(t.end - t.begin) + " bytes, its shape " +
                        shape_string(t.shape) + " of " + dtype_name(t.dtype) + " needs " + std::to_string(bytes));
  }
  std::stable_sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t at = 0;
  const TensorInfo* previous = nullptr;
  for (const auto& t : h.tensors) {
    if (t.begin < at)
      throw FormatError(path + ": tensor " + quote_name(t.name) + " (bytes " + std::to_string(t.begin) + " to " +
                        std::to_string(t.end) + ") overlaps tensor " + quote_name(previous->name) + " (bytes " +
                        std::to_string(previous->begin) + " to " + std::to_string(previous->end) + ")");
    if (t.begin > at)
      throw FormatError(path + ": bytes " + std::to_string(at) + " to " + std::to_string(t.begin) +
                        " of the data belong to no tensor (a gap before tensor " + quote_name(t.name) + ")");
    at = t.end;
    previous = &t;
  }
  h.data_bytes = at;
}

/// Parses and checks a header of `n` bytes (the JSON text after the length
/// field). The data section's own length is checked by the caller against
/// the returned data_bytes.
inline SafetensorsHeader parse_safetensors_header(const std::string& path, const char* text, std::size_t n) {
  SafetensorsHeader h;
  h.header_bytes = n;
  if (const void* nul = std::memchr(text, '\0', n))
    throw FormatError(path + ": the header holds a NUL byte at offset " +
                      std::to_string(static_cast<const char*>(nul) - text) +
                      " of its " + std::to_string(n) + " (JSON allows none; the format pads with spaces)");
  SafetensorsHeaderSax sax(path, h);
  // strict: nothing but whitespace may follow the object; comments are not JSON.
  nlohmann::json::sax_parse(text, text + n, &sax, nlohmann::json::input_format_t::json, true, false);
  check_tensor_offsets(path, h);
  return h;
}

/// Reads a safetensors file in two steps: the header (construction), then,
/// when the caller has checked it, the data. Neither reads past what the
/// header declares: a regular file's size is checked against the length
/// field and the declared data before reading; a pipe or a device is read
/// in chunks, never more than one byte past the declared end.
class SafetensorsReader {
 public:
  /// Opens `path` and reads and checks its header. Throws IoError if the
  /// file cannot be read, FormatError if it is not a valid safetensors file.
  explicit SafetensorsReader(std::string path) : path_(std::move(path)), in_(path_, "safetensors file") {
    const std::uint64_t file_size = in_.size();
    std::vector<unsigned char> length;
    if (in_.read_up_to(8, length) != 8) {
      throw FormatError(path_ + ": " + std::to_string(length.size()) +
                        " bytes, too short for a safetensors file (it starts with an 8-byte header length)");
    }
    std::uint64_t n;
    std::memcpy(&n, length.data(), 8);
    if (n > kMaxSafetensorsHeaderBytes)
      throw FormatError(path_ + ": the header length field says " + std::to_string(n) + " bytes, more than the limit of " +
                        std::to_string(kMaxSafetensorsHeaderBytes));
    if (n < 2) throw FormatError(path_ + ": the header length field says " + std::to_string(n) + " bytes, too short for a JSON object");
    if (file_size != kUnknown && file_size < 8 + n)
      throw FormatError(path_ + ": the header length field says " + std::to_string(n) + " bytes, the file holds only " +
                        std::to_string(file_size - 8) + " after it");
    std::vector<unsigned char> text;
    text.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(n, 1 << 20)));
    if (in_.read_up_to(n, text) != n) {
      throw FormatError(path_ + ": the header length field says " + std::to_string(n) + " bytes, the file ends after " +
                        std::to_string(text.size()) + " (truncated)");
    }
    header_ = parse_safetensors_header(path_, reinterpret_cast<const char*>(text.data()), text.size());
    if (file_size != kUnknown && file_size - 8 - n != header_.data_bytes) data_size_error(file_size - 8 - n);
  }

  /// The checked header.
  const SafetensorsHeader& header() const { return header_; }
  /// The file's path, as given.
  const std::string& path() const { return path_; }

  /// The data section: exactly header().data_bytes bytes. Throws FormatError
  /// if the file holds fewer or more.
  std::vector<unsigned char> read_data() {
    std::vector<unsigned char> data;
    if (in_.size() != kUnknown) data.reserve(static_cast<std::size_t>(header_.data_bytes));
    const std::uint64_t got = in_.read_up_to(header_.data_bytes + 1, data);
    if (got != header_.data_bytes) data_size_error(got, got > header_.data_bytes);
    return data;
  }

 private:
  static constexpr std::uint64_t kUnknown = InputFile::kUnknownSize;

  [[noreturn]] void data_size_error(std::uint64_t held, bool at_least = false) const {
    throw FormatError(path_ + ": the header declares " + std::to_string(header_.data_bytes) +
                      " bytes of tensor data, the file holds " + (at_least ? "more" : std::to_string(held)) +
                      (held < header_.data_bytes ? " (truncated)" : " (trailing bytes)"));
  }

  std::string path_;
  InputFile in_;
  SafetensorsHeader header_;
};

/// One tensor ready to be written: its name, dtype, shape and little-endian
/// row-major bytes.
struct EncodedTensor {
  std::string name;                   ///< its name in the header
  Dtype dtype = Dtype::F32;           ///< the dtype of `bytes`
  std::vector<std::uint64_t> shape;   ///< row-major shape
  std::vector<unsigned char> bytes;   ///< the elements, little-endian, row-major
};

/// The header and data of a safetensors file holding `tensors` in this
/// order, the header padded with spaces to a multiple of 8 bytes so that
/// the data is aligned for any dtype.
inline std::vector<unsigned char> encode_safetensors(const std::vector<EncodedTensor>& tensors,
                                                     const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::uint64_t at = 0;
  std::set<std::string> names;
  for (const auto& t : tensors) {
    if (t.name.empty() || t.name == "__metadata__" || !names.insert(t.name).second)
      throw ValueError("vae::io::save_tensors: tensor name " + quote_name(t.name) +
                       " is empty, reserved or used twice; each tensor needs a name of its own");
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {at, at + t.bytes.size()}}};
    at += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const std::uint64_t n = text.size();
  std::vector<unsigned char> file(8 + n + at);
  std::memcpy(file.data(), &n, 8);
  std::memcpy(file.data() + 8, text.data(), n);
  unsigned char* data = file.data() + 8 + n;
  for (const auto& t : tensors) {
    if (!t.bytes.empty()) std::memcpy(data, t.bytes.data(), t.bytes.size());
    data += t.bytes.size();
  }
  return file;
}

/// Writes an encoded file through AtomicFile: readers see the old file or the
/// whole new one.
inline void write_safetensors_file(const std::string& path, const std::vector<EncodedTensor>& tensors,
                                   const std::map<std::string, std::string>& metadata) {
  const std::vector<unsigned char> bytes = encode_safetensors(tensors, metadata);
  AtomicFile out(path);
  out.write(bytes.data(), bytes.size());
  out.commit();
}

}  // namespace detail

/// One named tensor and its elements, row-major (C order, as NumPy and
/// PyTorch lay them out): a vae batch (features x B, column-major) is the
/// row-major tensor of shape {B, features} without any copy.
template <class S>
struct Tensor {
  /// The tensor's name in the file.
  std::string name;
  /// Row-major shape; {} is a scalar (one value).
  std::vector<std::uint64_t> shape;
  /// The product of the shape's elements, in row-major order.
  std::vector<S> values;
};

/// Reads and checks a safetensors file's header (names, dtypes, shapes,
/// offsets, metadata) without reading the tensors' data.
inline SafetensorsHeader read_safetensors_header(const std::string& path) {
  return detail::SafetensorsReader(path).header();
}

/// A safetensors file read into memory, its header checked: a path that can
/// be read only once (a pipe, a FIFO, a shell's <(...)) is read with
/// read_safetensors_file and loaded from memory (load_safetensors(file, model)).
struct SafetensorsFile {
  /// The path it was read from, for messages.
  std::string path;
  /// The checked header.
  SafetensorsHeader header;
  /// The data section: header.data_bytes bytes.
  std::vector<unsigned char> data;
};

/// Reads `path` once: the header, checked, then exactly the data it declares.
inline SafetensorsFile read_safetensors_file(const std::string& path) {
  detail::SafetensorsReader reader(path);
  std::vector<unsigned char> data = reader.read_data();
  return {path, reader.header(), std::move(data)};
}

/// Writes `tensors` (F32 for float, F64 for double) and `metadata` to `path`
/// atomically. Throws ValueError for a tensor whose values do not fill its
/// shape, or for an empty, reserved ("__metadata__") or repeated name.
template <class S>
void save_tensors(const std::string& path, const std::vector<Tensor<S>>& tensors,
                  const std::map<std::string, std::string>& metadata = {}) {
  std::vector<detail::EncodedTensor> encoded;
  for (const auto& t : tensors) {
    std::uint64_t n = 1;
    for (const auto s : t.shape) n *= s;
    if (n != t.values.size())
      throw ValueError(path + ": tensor " + detail::quote_name(t.name) + " has " + std::to_string(t.values.size()) +
                       " values, its shape " + detail::shape_string(t.shape) + " needs " + std::to_string(n));
    detail::EncodedTensor e{t.name, dtype_of<S>(), t.shape, std::vector<unsigned char>(t.values.size() * sizeof(S))};
    if (!t.values.empty()) std::memcpy(e.bytes.data(), t.values.data(), e.bytes.size());
    encoded.push_back(std::move(e));
  }
  detail::write_safetensors_file(path, encoded, metadata);
}

/// Reads every tensor of a safetensors file (in the order of their data),
/// converting F64, F32, F16 and BF16 elements to S; values beyond S's range
/// become infinities. `header`, when given, receives the file's header.
template <class S>
std::vector<Tensor<S>> load_tensors(const std::string& path, SafetensorsHeader* header = nullptr) {
  const SafetensorsFile file = read_safetensors_file(path);
  const std::vector<unsigned char>& data = file.data;
  std::vector<Tensor<S>> out;
  for (const auto& t : file.header.tensors) {
    Tensor<S> tensor{t.name, t.shape, std::vector<S>(static_cast<std::size_t>(t.elements()))};
    const std::size_t size = dtype_size(t.dtype);
    for (std::size_t i = 0; i < tensor.values.size(); ++i) {
      const double v = detail::decode(t.dtype, data.data() + t.begin + i * size);
      // A double beyond float's range becomes an infinity here: converting it is undefined behaviour.
      constexpr S inf = std::numeric_limits<S>::infinity();
      tensor.values[i] = std::abs(v) > double(std::numeric_limits<S>::max()) && std::isfinite(v)
                             ? (v > 0 ? inf : -inf)
                             : static_cast<S>(v);
    }
    out.push_back(std::move(tensor));
  }
  if (header) *header = file.header;
  return out;
}

/// The tensor called `name` among `tensors` (load_tensors' result); throws
/// FormatError naming it, and the names there are, when none is.
template <class S>
const Tensor<S>& tensor_named(const std::vector<Tensor<S>>& tensors, const std::string& name) {
  for (const auto& t : tensors)
    if (t.name == name) return t;
  std::string names;
  for (const auto& t : tensors) names += (names.empty() ? "" : ", ") + detail::quote_name(t.name);
  throw FormatError("vae::io::tensor_named: no tensor " + detail::quote_name(name) + " among the " +
                    std::to_string(tensors.size()) + " given" + (names.empty() ? std::string() : " (" + names + ")"));
}

}  // namespace vae::io
