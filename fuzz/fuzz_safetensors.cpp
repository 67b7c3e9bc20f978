// libFuzzer target for safetensors files (vae/io/safetensors.hpp). Each input
// is loaded into a blog-shaped VAE (the blog's names) and into a deeper tanh
// autoencoder (nn.Sequential names), and read as generic tensors in float and
// double. The property: a load either succeeds with every parameter finite,
// or throws vae::Error and leaves the model as it was; nothing else escapes.
//
// Half of the mutations are structure-aware: the header is parsed, one field
// (a dtype, a shape or offset element, a name, a metadata value, a tensor
// added, removed or written twice) or the data is changed, and the length
// field is recomputed, so that inputs reach the offset, name, shape and value
// checks instead of stopping at the length field or the JSON syntax. The
// other half are libFuzzer's byte mutations. Seeds: fuzz/corpus/safetensors/.
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <vae/io/safetensors.hpp>
#include <vae/vae.hpp>

#include "input_file.hpp"
#include "printable_message.hpp"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace {

using Blog = vae::VariationalAutoencoder<16, 8, 2>;
using Deep = vae::MlpAutoencoder<vae::Layers<6, 4, 3, 2>, vae::Tanh>;
using json = nlohmann::ordered_json;

template <class Model>
void check_load(const std::string& path, Model& model) {
  const auto before = model.parameters_host();
  try {
    vae::io::load_safetensors(path, model);
    if (!model.parameters_host().allFinite()) __builtin_trap();
  } catch (const vae::Error& e) {
    vae::fuzz::require_printable(e.what());
    if (model.parameters_host() != before) __builtin_trap();  // a refused load changed the model
  }
}

/// One structural change to a parsed header (or its data); false if none applies.
bool mutate_header(json& header, std::vector<std::uint8_t>& data, std::mt19937_64& rng, std::string& text_extra) {
  std::vector<std::string> names;
  for (auto& [k, v] : header.items())
    if (k != "__metadata__" && v.is_object()) names.push_back(k);
  const auto pick = [&](std::size_t n) { return n ? std::size_t(rng() % n) : 0; };
  const std::uint64_t specials[] = {0, 1, 2, 3, 4, 7, 8, 16, 255, 256, 1ull << 31, 1ull << 32, ~0ull, ~0ull - 7};
  const auto number = [&](std::uint64_t old) -> std::uint64_t {
    switch (rng() % 4) {
      case 0: return specials[pick(std::size(specials))];
      case 1: return old + 1 + rng() % 8;
      case 2: return old - 1 - rng() % 8;
      default: return old * 2;
    }
  };
  const std::string name = names.empty() ? "" : names[pick(names.size())];
  switch (rng() % 9) {
    case 0: {  // a dtype
      if (name.empty()) return false;
      const char* dtypes[] = {"F64", "F32", "F16", "BF16", "I64", "U8", "F8_E4M3", "f32", ""};
      header[name]["dtype"] = dtypes[pick(std::size(dtypes))];
      return true;
    }
    case 1: {  // a shape: one element changed, one added or removed, or two swapped
      if (name.empty() || !header[name]["shape"].is_array()) return false;
      json& shape = header[name]["shape"];
      const auto i = pick(shape.size());
      const int how = int(rng() % 4);
      if (how == 0 && !shape.empty() && shape[i].is_number_unsigned()) shape[i] = number(shape[i].get<std::uint64_t>());
      if (how == 1) shape.push_back(1 + rng() % 3);
      if (how == 2 && !shape.empty()) shape.erase(shape.size() - 1);
      if (how == 3 && shape.size() == 2) std::swap(shape[0], shape[1]);
      return true;
    }
    case 2: {  // an offset
      if (name.empty() || !header[name]["data_offsets"].is_array() || header[name]["data_offsets"].empty()) return false;
      json& o = header[name]["data_offsets"];
      const auto i = pick(o.size());
      if (o[i].is_number_unsigned()) o[i] = number(o[i].get<std::uint64_t>());
      return true;
    }
    case 3: {  // a name: another model's, or one letter changed
      if (name.empty()) return false;
      const char* others[] = {"encoder.linear3.weight", "encoder.layers.4.bias", "decoder.linear1.weight",
                              "encoder.mu.weight", "__metadata__", ""};
      std::string renamed = rng() % 2 ? others[pick(std::size(others))] : name;
      if (renamed == name && !renamed.empty()) renamed[pick(renamed.size())] = char(' ' + rng() % 95);  // printable ASCII
      json copy = json::object();
      for (auto& [k, v] : header.items()) copy[k == name ? renamed : k] = v;
      header = copy;
      return true;
    }
    case 4:  // a tensor removed
      if (name.empty()) return false;
      header.erase(name);
      return true;
    case 5:  // a tensor written twice (a DOM would keep one: the text is spliced in)
      if (name.empty()) return false;
      text_extra = "\"" + name + "\":" + header[name].dump(-1, ' ', false, json::error_handler_t::replace) + ",";
      return true;
    case 6: {  // a metadata value
      const char* keys[] = {"vae.kind", "vae.encoder_activation", "vae.encoder_sizes", "vae.names", "format"};
      const char* values[] = {"vae", "autoencoder", "relu", "tanh", "16,8,2", "blog", "sequential", ""};
      header["__metadata__"][keys[pick(std::size(keys))]] = values[pick(std::size(values))];
      return true;
    }
    case 7: {  // the data: a byte changed, or the data cut or extended
      if (data.empty() || rng() % 2) {
        data.resize(rng() % 2 && !data.empty() ? data.size() - 1 - pick(data.size()) : data.size() + 1 + rng() % 8);
      } else {
        data[pick(data.size())] ^= std::uint8_t(1u << (rng() % 8));
      }
      return true;
    }
    default: {  // a special value of a 2-, 4- or 8-byte element (NaN, infinity, huge, subnormal)
      const std::size_t width = std::size_t(2) << (rng() % 3);
      if (data.size() < width) return false;
      const std::uint64_t f16[] = {0x7E00, 0xFC00, 0x7BFF, 0x0001, 0x7F80, 0xFF81};
      const std::uint64_t f32[] = {0x7FC00000, 0xFF800000, 0x7F7FFFFF, 0x00000001};
      const std::uint64_t f64[] = {0x7FF8000000000000ull, 0x7FF0000000000000ull, 0x7E37E43C8800759Cull, 1ull};
      const std::uint64_t v = width == 2 ? f16[pick(std::size(f16))] : width == 4 ? f32[pick(std::size(f32))]
                                                                                : f64[pick(std::size(f64))];
      std::memcpy(data.data() + (pick(data.size() - width + 1) & ~(width - 1)), &v, width);  // little-endian host
      return true;
    }
  }
}

}  // namespace

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
  std::mt19937_64 rng(seed);
  std::uint64_t n = 0;
  if (rng() % 2 == 0 && size >= 8) {
    std::memcpy(&n, data, 8);
    if (n <= size - 8) {
      json header = json::parse(data + 8, data + 8 + n, nullptr, /*allow_exceptions=*/false);
      std::vector<std::uint8_t> body(data + 8 + n, data + size);
      std::string extra;
      if (header.is_object() && mutate_header(header, body, rng, extra)) {
        // (A name made invalid UTF-8 by libFuzzer's byte mutations is replaced, not thrown about.)
        std::string text = header.dump(-1, ' ', false, json::error_handler_t::replace);
        if (!extra.empty()) text.insert(1, extra);
        text.append(rng() % 2 ? (8 - text.size() % 8) % 8 : 0, ' ');
        const std::uint64_t length = text.size();
        if (8 + text.size() + body.size() <= max_size) {
          std::memcpy(data, &length, 8);
          std::memcpy(data + 8, text.data(), text.size());
          if (!body.empty()) std::memcpy(data + 8 + text.size(), body.data(), body.size());
          return 8 + text.size() + body.size();
        }
      }
    }
  }
  return LLVMFuzzerMutate(data, size, max_size);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = vae::fuzz::write_input("safetensors", data, size);
  if (path.empty()) return 0;
  static Blog blog(1);
  static Deep deep(1);
  check_load(path, blog);
  check_load(path, deep);
  try {
    const auto tensors = vae::io::load_tensors<float>(path);
    const auto wide = vae::io::load_tensors<double>(path);
    if (tensors.size() != wide.size()) __builtin_trap();
  } catch (const vae::Error& e) {
    vae::fuzz::require_printable(e.what());
  }
  return 0;
}
