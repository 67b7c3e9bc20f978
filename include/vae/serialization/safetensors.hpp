#pragma once
// A model's weights as a safetensors file, under the names PyTorch gives the
// same network, so that weights cross between vae and PyTorch either way
// (docs/weights.md).
//
// Names. A model whose encoder and decoder have two dense layers each (the
// blog's shape, any sizes and activation) uses the blog's state_dict() names:
//   autoencoder: encoder.linear1, encoder.linear2, decoder.linear1, decoder.linear2
//   VAE:         encoder.linear1, encoder.linear2 (mu), encoder.linear3 (log sigma),
//                decoder.linear1, decoder.linear2
// each with ".weight" (out x in) and ".bias" (out). Any other depth uses the
// names of an nn.Sequential of Linear and activation modules, so that dense
// layer k is at index 2k:
//   autoencoder: encoder.layers.{0,2,..}, decoder.layers.{0,2,..}
//   VAE:         encoder.layers.{0,2,..} (hidden layers), encoder.mu,
//                encoder.log_sigma, decoder.layers.{0,2,..}
//
// vae keeps each layer's W column-major (out x in) and a VAE's two heads as
// one (2 Latent) x Hidden block, mu's rows first; the file holds PyTorch's
// row-major (out x in) tensors, one per head. Float models write F32,
// double models F64; F64, F32, F16 and BF16 files load into either.
// Metadata (all strings) records the architecture; a load checks it when
// present (a file written by PyTorch need not have it).

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "vae/core/error.hpp"
#include "vae/core/types.hpp"
#include "vae/models/architecture.hpp"
#include "vae/models/dynamic.hpp"
#include "vae/models/dynamic_mlp.hpp"
#include "vae/models/mlp.hpp"
#include "vae/serialization/safetensors_format.hpp"
#include "vae/version.hpp"

namespace vae::io {

/// Where one tensor of a model's file lives in the model's flat parameter
/// buffer. Seen as a matrix of shape[0] rows and the product of its other
/// dimensions as columns (row-major, as the file holds it; a bias has one
/// column), element (r, c) is parameter
/// `offset + c * leading + (first_row + r) * row_step`.
struct ModelTensor {
  /// The PyTorch name ("encoder.linear1.weight").
  std::string name;
  /// {out, in} for a dense weight, {out, in, kh, kw} for a convolution's
  /// ({in, out, kh, kw} for a transposed one), {out} for a bias.
  std::vector<std::uint64_t> shape;
  /// The first parameter of the layer's W (or b) in the flat buffer.
  Index offset = 0;
  /// The step between columns: a dense W's rows (the layer's whole output
  /// size, its column-major block); 1 for a convolution's weight, which the
  /// model holds in the file's order.
  Index leading = 0;
  /// The tensor's first row within the block (log sigma's head starts at Latent).
  Index first_row = 0;
  /// The step between rows: 1 for a dense W (column-major) and a bias; a
  /// convolution's kernel elements per row.
  Index row_step = 1;

  /// Rows of the tensor seen as a matrix.
  Index rows() const { return shape.empty() ? 0 : Index(shape[0]); }
  /// Columns: the product of the other dimensions.
  Index cols() const {
    Index c = 1;
    for (std::size_t i = 1; i < shape.size(); ++i) c *= Index(shape[i]);
    return c;
  }
  /// The flat parameter of element (r, c).
  Index parameter(Index r, Index c) const { return offset + c * leading + (first_row + r) * row_step; }
};

namespace detail {

/// vae's own networks, whose layers have PyTorch names: the dense ones and
/// the sequential ones.
template <class N>
inline constexpr bool has_pytorch_names_v = vae::detail::is_dense_network_v<N> || vae::detail::is_sequential_network_v<N>;

/// Appends the tensors of one network whose parameters start at `base`.
/// `heads`: the last layer is a VAE's mu and log sigma stacked.
template <class Net>
void append_network_tensors(const Net& net, std::vector<ModelTensor>& out, const std::string& prefix, Index base,
                            bool heads, bool blog) {
  const std::vector<Index> sizes = vae::detail::dense_sizes(net);
  const std::size_t n = sizes.size() - 1;
  const auto name = [&](std::size_t k) {
    return prefix + (blog ? "linear" + std::to_string(k + 1) : "layers." + std::to_string(2 * k));
  };
  const auto add = [&](const std::string& layer, std::size_t l, Index rows, Index first_row) {
    const Index in = sizes[l], all = sizes[l + 1], w = base + net.parameter_offset(l);
    out.push_back({layer + ".weight", {std::uint64_t(rows), std::uint64_t(in)}, w, all, first_row});
    out.push_back({layer + ".bias", {std::uint64_t(rows)}, w + all * in, all, first_row});
  };
  for (std::size_t l = 0; l < n; ++l) {
    if (heads && l + 1 == n) {
      const Index latent = sizes[l + 1] / 2;
      add(blog ? name(l) : prefix + "mu", l, latent, 0);
      add(blog ? name(l + 1) : prefix + "log_sigma", l, latent, latent);
    } else {
      add(name(l), l, sizes[l + 1], 0);
    }
  }
}

/// Appends the tensors of a network of any layers (SequentialNet) whose
/// parameters start at `base`, with nn.Sequential's names: a layer that
/// computes takes one index and its activation the next (nn.Identity() for
/// none), except the network's last layer; a flatten or reshape takes one;
/// a label_planes layer none (PyTorch concatenates the label's planes to the
/// image before its nn.Sequential). `heads`: the last layer is a VAE's mu and log sigma stacked, named
/// prefix + "mu" and prefix + "log_sigma" (it must then be dense).
template <class Net>
void append_sequential_tensors(const Net& net, std::vector<ModelTensor>& out, const std::string& prefix, Index base,
                               bool heads) {
  const auto& layers = net.layer_specs();
  std::size_t module = 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const LayerSpec& spec = layers[l];
    const bool last = l + 1 == layers.size();
    const Index at = base + net.parameter_offset(l);
    const std::string name = prefix + "layers." + std::to_string(module);
    if (spec.kind == "label_planes") continue;
    if (spec.kind == "flatten" || spec.kind == "reshape") {
      module += 1;
      continue;
    }
    module += last ? 1 : 2;
    const auto u = [](std::uint64_t v) { return Index(v); };
    if (spec.kind == "dense") {
      const Index in = u(spec.input[0]), all = u(spec.output[0]);
      const auto add = [&](const std::string& layer, Index rows, Index first_row) {
        out.push_back({layer + ".weight", {std::uint64_t(rows), std::uint64_t(in)}, at, all, first_row, 1});
        out.push_back({layer + ".bias", {std::uint64_t(rows)}, at + all * in, all, first_row, 1});
      };
      if (heads && last) {
        add(prefix + "mu", all / 2, 0);
        add(prefix + "log_sigma", all / 2, all / 2);
      } else {
        add(name, all, 0);
      }
      continue;
    }
    if (heads && last)
      throw ShapeError("vae::io safetensors: the variational encoder's last layer is " + spec.describe() +
                       "; the mu and log_sigma heads must be a dense layer to take PyTorch's names");
    // A convolution: [out, in, k, k] (a transposed one [in, out, k, k]), held in that order.
    const std::uint64_t k = std::uint64_t(spec.settings[0]);
    const std::uint64_t first = spec.kind == "conv2d" ? spec.output[0] : spec.input[0];
    const std::uint64_t second = spec.kind == "conv2d" ? spec.input[0] : spec.output[0];
    const Index per_row = Index(second * k * k), weights = Index(first) * per_row;
    out.push_back({name + ".weight", {first, second, k, k}, at, 1, 0, per_row});
    out.push_back({name + ".bias", {spec.output[0]}, at + weights, 1, 0, 1});
  }
}

/// Whether the networks enc and dec (vae's dense ones) take the blog's
/// names: two dense layers each.
template <class Enc, class Dec>
bool blog_names_of(const Enc& enc, const Dec& dec) {
  if constexpr (vae::detail::is_sequential_network_v<Enc> && vae::detail::is_sequential_network_v<Dec>)
    if (!enc.all_dense() || !dec.all_dense()) return false;
  return vae::detail::dense_sizes(enc).size() == 3 && vae::detail::dense_sizes(dec).size() == 3;
}

/// The tensors of a model made of the networks enc and dec (vae's dense ones).
template <class Enc, class Dec>
std::vector<ModelTensor> layout_of(const Enc& enc, const Dec& dec, bool variational) {
  std::vector<ModelTensor> out;
  if constexpr (vae::detail::is_sequential_network_v<Enc> && vae::detail::is_sequential_network_v<Dec>) {
    // Dense layers alone: the names of vae's dense networks, so that the files are the same.
    if (!enc.all_dense() || !dec.all_dense()) {
      append_sequential_tensors(enc, out, "encoder.", 0, variational);
      append_sequential_tensors(dec, out, "decoder.", vae::detail::net_parameters(enc), false);
      return out;
    }
  }
  const bool blog = blog_names_of(enc, dec);
  append_network_tensors(enc, out, "encoder.", 0, variational, blog);
  append_network_tensors(dec, out, "decoder.", vae::detail::net_parameters(enc), false, blog);
  return out;
}

}  // namespace detail

/// True when `model`'s tensors take the blog's names (two dense layers in the
/// encoder and two in the decoder), false for the nn.Sequential names.
template <class Model>
bool uses_blog_names(const Model& model) {
  if constexpr (detail::has_pytorch_names_v<typename Model::EncoderType> &&
                detail::has_pytorch_names_v<typename Model::DecoderType>) {
    return detail::blog_names_of(model.encoder(), model.decoder());
  } else {
    return false;  // safetensors_layout refuses such a model
  }
}
/// uses_blog_names for a fixed-size model type (its networks, default-built, hold no sizes of their own).
template <class Model>
bool uses_blog_names() {
  using Enc = typename Model::EncoderType;
  using Dec = typename Model::DecoderType;
  if constexpr (vae::detail::is_mlp_network<Enc>::value && vae::detail::is_mlp_network<Dec>::value) {
    return detail::blog_names_of(Enc{}, Dec{});
  } else {
    return false;
  }
}

/// Every tensor of `model`'s safetensors file, in the order vae writes them
/// (the encoder's layers, then the decoder's; weight before bias). Together
/// they cover each parameter exactly once.
template <class Model>
std::vector<ModelTensor> safetensors_layout(const Model& model) {
  using Enc = typename Model::EncoderType;
  using Dec = typename Model::DecoderType;
  static_assert(detail::has_pytorch_names_v<Enc> && detail::has_pytorch_names_v<Dec>,
                "vae::io safetensors: the encoder and the decoder must be vae's own networks (EncoderOf, "
                "VariationalEncoderOf, DecoderOf, the Dynamic or the Sequential ones) so that every layer has a "
                "PyTorch name; save a model with custom networks with vae::io::save_checkpoint");
  if constexpr (detail::has_pytorch_names_v<Enc> && detail::has_pytorch_names_v<Dec>) {
    return detail::layout_of(model.encoder(), model.decoder(), Model::is_variational);
  } else {
    return {};
  }
}
/// safetensors_layout for a fixed-size model type (its networks hold no sizes).
template <class Model>
std::vector<ModelTensor> safetensors_layout() {
  using Enc = typename Model::EncoderType;
  using Dec = typename Model::DecoderType;
  static_assert(vae::detail::is_mlp_network<Enc>::value && vae::detail::is_mlp_network<Dec>::value,
                "vae::io safetensors: the encoder and the decoder must be vae's own networks (EncoderOf, "
                "VariationalEncoderOf, DecoderOf) so that every layer has a PyTorch name; save a model with "
                "custom networks with vae::io::save_checkpoint; a model shaped at run time: "
                "safetensors_layout(model)");
  if constexpr (vae::detail::is_mlp_network<Enc>::value && vae::detail::is_mlp_network<Dec>::value) {
    return detail::layout_of(Enc{}, Dec{}, Model::is_variational);
  } else {
    return {};
  }
}

namespace detail {
/// A layer as JSON, in this order: {"kind", "input", "output", "activation", "settings"}.
inline nlohmann::ordered_json layer_json(const LayerSpec& l) {
  return {{"kind", l.kind}, {"input", l.input}, {"output", l.output}, {"activation", l.activation},
          {"settings", l.settings}};
}
/// The layers of `a` as the JSON text of metadata "vae.layers", in the order
/// data flows: {"encoder": [layer, ...], "latent": layer, "decoder": [...], "output": "sigmoid"}.
inline std::string layers_json(const Architecture& a) {
  nlohmann::ordered_json j;
  for (const auto& l : a.encoder_layers) j["encoder"].push_back(layer_json(l));
  j["latent"] = layer_json(a.latent);
  for (const auto& l : a.decoder_layers) j["decoder"].push_back(layer_json(l));
  j["output"] = a.output;
  return j.dump();
}
/// Reads metadata "vae.layers" into `a`'s layers, latent stage and output;
/// throws FormatError naming the key and what is wrong.
inline void read_layers_json(const std::string& path, const std::string& text, Architecture& a) {
  const auto fail = [&](const std::string& why) {
    throw FormatError(path + ": metadata 'vae.layers' " + why +
                      "; expected {\"encoder\": [layers], \"latent\": layer, \"decoder\": [layers], \"output\": name}");
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    fail("is not JSON");
  }
  const auto layer = [&](const nlohmann::json& v, const std::string& where) {
    LayerSpec l;
    try {
      l.kind = v.at("kind").get<std::string>();
      l.input = v.at("input").get<std::vector<std::uint64_t>>();
      l.output = v.at("output").get<std::vector<std::uint64_t>>();
      l.activation = v.at("activation").get<std::string>();
      if (v.contains("settings")) l.settings = v.at("settings").get<std::vector<std::int64_t>>();
    } catch (const nlohmann::json::exception&) {
      fail("has a layer at " + where + " without a string kind and activation and integer shapes");
    }
    for (const auto* shape : {&l.input, &l.output})
      if (shape->empty() || shape->size() > 4 ||
          std::any_of(shape->begin(), shape->end(), [](std::uint64_t d) { return d == 0 || d > (std::uint64_t(1) << 32); }))
        fail("has a layer at " + where + " whose shape is not 1 to 4 dimensions of 1 to 2^32");
    if (l.kind.empty() || l.kind.size() > 256 || l.activation.empty() || l.activation.size() > 256 || l.settings.size() > 64)
      fail("has a layer at " + where + " with an empty or overlong name or too many settings");
    return l;
  };
  if (!j.is_object() || !j.contains("encoder") || !j.contains("decoder") || !j.contains("latent") ||
      !j.contains("output") || !j["encoder"].is_array() || !j["decoder"].is_array() || !j["output"].is_string() ||
      j["encoder"].empty() || j["decoder"].empty() || j["encoder"].size() > 1024 || j["decoder"].size() > 1024)
    fail("lacks a part or has one of the wrong type");
  a.encoder_layers.clear();
  a.decoder_layers.clear();
  for (std::size_t i = 0; i < j["encoder"].size(); ++i)
    a.encoder_layers.push_back(layer(j["encoder"][i], "encoder[" + std::to_string(i) + "]"));
  for (std::size_t i = 0; i < j["decoder"].size(); ++i)
    a.decoder_layers.push_back(layer(j["decoder"][i], "decoder[" + std::to_string(i) + "]"));
  a.latent = layer(j["latent"], "latent");
  a.output = j["output"].get<std::string>();
}

/// The metadata of a model of architecture `a`, latent size `latent`,
/// named in the blog's way when `blog`.
inline std::map<std::string, std::string> metadata_of(const Architecture& a, Index latent, bool blog) {
  const auto join = [](const std::vector<std::uint64_t>& sizes) {
    std::string s;
    for (std::size_t i = 0; i < sizes.size(); ++i) s += (i ? "," : "") + std::to_string(sizes[i]);
    return s;
  };
  std::map<std::string, std::string> m{{"format", "pt"},
          {"vae.kind", a.classes > 0 ? "cvae" : a.variational ? "vae" : "autoencoder"},
          {"vae.encoder_sizes", join(a.encoder)},
          {"vae.decoder_sizes", join(a.decoder)},
          {"vae.encoder_activation", a.encoder_activation},
          {"vae.decoder_activation", a.decoder_activation},
          {"vae.latent_size", std::to_string(latent)},
          {"vae.names", blog ? "blog" : "sequential"},
          {"vae.architecture", a.describe()},
          {"vae.layers", layers_json(a)},
          {"vae.version", VAE_VERSION_STRING}};
  if (a.classes > 0) m["vae.classes"] = std::to_string(a.classes);
  return m;
}
}  // namespace detail

/// The metadata vae writes for `Model`, all strings: "format" "pt" (as
/// PyTorch's safetensors writer puts it) and, under "vae.", the kind
/// ("autoencoder", "vae" or "cvae"), the encoder and decoder sizes
/// ("784,512,2", the latent size once; a conditional VAE's first sizes
/// include its classes), a conditional VAE's classes, their activations, the
/// latent size, the naming scheme
/// ("blog" or "sequential"), the architecture in words, every layer as JSON
/// ("vae.layers": kind, input and output shapes, activation, settings of each
/// encoder and decoder layer, the latent stage and the output) and the vae
/// version.
template <class Model>
std::map<std::string, std::string> safetensors_metadata(const Model& model) {
  return detail::metadata_of(model.architecture(), model.num_latent(), uses_blog_names(model));
}
/// safetensors_metadata for a fixed-size model type.
template <class Model>
std::map<std::string, std::string> safetensors_metadata() {
  static_assert(Model::parameter_count != Dynamic,
                "vae::io::safetensors_metadata<Model>(): a model shaped at run time: safetensors_metadata(model)");
  return detail::metadata_of(Model::architecture(), Model::latent_size, uses_blog_names<Model>());
}

namespace detail {

/// "a VAE 784-512-2 relu (float)".
template <class Model>
std::string model_words(const Model& model) {
  const std::string d = model.architecture().describe();
  return (d[0] == 'a' ? "an " : "a ") + d;
}

/// The metadata keys that must agree with the model when a file has them
/// (an activation cannot be seen in the shapes).
inline const char* const kCheckedMetadata[] = {"vae.kind",          "vae.encoder_sizes",      "vae.decoder_sizes",
                                               "vae.latent_size",   "vae.encoder_activation", "vae.decoder_activation",
                                               "vae.names",         "vae.classes",            "vae.layers"};

/// For each tensor of `layout`, its entry in `h`; throws FormatError naming
/// the first tensor that is missing, has another shape, or is not the
/// model's, then the first metadata field that contradicts the model.
template <class Model>
std::vector<const TensorInfo*> match_layout(const Model& model, const std::string& path, const SafetensorsHeader& h,
                                            const std::vector<ModelTensor>& layout) {
  std::vector<const TensorInfo*> found;
  for (const auto& t : layout) {
    const TensorInfo* f = h.find(t.name);
    if (!f)
      throw FormatError(path + ": tensor '" + t.name + "' is missing; " + model_words(model) + " needs it with shape " +
                        shape_string(t.shape) + (uses_blog_names(model) ? " (the blog's names)" : " (nn.Sequential names)"));
    if (f->shape != t.shape)
      throw FormatError(path + ": tensor '" + t.name + "' has shape " + shape_string(f->shape) + ", expected " +
                        shape_string(t.shape) + (t.shape.size() == 2 ? " (out x in)" : t.shape.size() == 4 ? " (PyTorch's order)" : "") + " for " +
                        model_words(model));
    found.push_back(f);
  }
  if (h.tensors.size() != layout.size())
    for (const auto& f : h.tensors) {
      bool known = false;
      for (const auto& t : layout) known = known || t.name == f.name;
      if (!known)
        throw FormatError(path + ": tensor " + quote_name(f.name) + " is not a parameter of " + model_words(model) +
                          " (its " + std::to_string(layout.size()) + " tensors are " + layout.front().name + ", ..., " +
                          layout.back().name + ")");
    }
  // Shapes cannot tell activations apart: the metadata can, when the file has it.
  const auto want = safetensors_metadata(model);
  for (const char* key : kCheckedMetadata) {
    const auto it = h.metadata.find(key);
    const auto w = want.find(key);  // absent for a key the model does not have (vae.classes)
    // vae.layers is JSON: equal as values, whatever the order of an object's keys.
    const auto same = [&] {
      if (std::string(key) != "vae.layers") return it->second == w->second;
      return nlohmann::json::parse(it->second, nullptr, false) == nlohmann::json::parse(w->second);
    };
    if (it != h.metadata.end() && (w == want.end() || !same()))
      throw FormatError(path + ": metadata '" + key + "' is " + quote_name(it->second) + ", expected " +
                        (w == want.end() ? std::string("none") : "'" + w->second + "'") + " for " +
                        model_words(model));
  }
  return found;
}

}  // namespace detail

/// Writes `model`'s weights to `path` as safetensors (F32 for a float model,
/// F64 for a double one), with PyTorch's names and row-major (out x in)
/// weights, and the architecture as metadata. Atomic: the old file survives
/// any failure. Works for every backend (the parameters are downloaded).
template <class Model>
void save_safetensors(const Model& model, const std::string& path) {
  using S = typename Model::Scalar;
  const Vector<S> params = model.parameters_host();
  std::vector<detail::EncodedTensor> tensors;
  for (const auto& t : safetensors_layout(model)) {
    const Index rows = t.rows(), cols = t.cols();
    detail::EncodedTensor e{t.name, dtype_of<S>(), t.shape, std::vector<unsigned char>(std::size_t(rows * cols) * sizeof(S))};
    S* out = reinterpret_cast<S*>(e.bytes.data());
    for (Index r = 0; r < rows; ++r)
      for (Index c = 0; c < cols; ++c) out[r * cols + c] = params[t.parameter(r, c)];
    tensors.push_back(std::move(e));
  }
  detail::write_safetensors_file(path, tensors, safetensors_metadata(model));
}

namespace detail {

/// The model's parameters from the data of a file whose tensors `found`
/// match `layout` (match_layout): every value converted to S, or FormatError
/// naming the tensor and element that is not finite or beyond S's range.
template <class Model>
Vector<typename Model::Scalar> parameters_from(const Model& model, const std::string& path,
                                               const std::vector<ModelTensor>& layout,
                                               const std::vector<const TensorInfo*>& found,
                                               const std::vector<unsigned char>& data) {
  using S = typename Model::Scalar;
  Vector<S> params(model.num_parameters());
  for (std::size_t k = 0; k < layout.size(); ++k) {
    const ModelTensor& t = layout[k];
    const TensorInfo& f = *found[k];
    const Index rows = t.rows(), cols = t.cols();
    const std::size_t size = dtype_size(f.dtype);
    for (Index r = 0; r < rows; ++r)
      for (Index c = 0; c < cols; ++c) {
        const double v = decode(f.dtype, data.data() + f.begin + std::size_t(r * cols + c) * size);
        if (!std::isfinite(v) || std::abs(v) > double(std::numeric_limits<S>::max()))
          throw FormatError(path + ": tensor '" + t.name + "' holds " + number(v) + " at " +
                            (cols > 1 ? "[" + std::to_string(r) + ", " + std::to_string(c) + "]" : "[" + std::to_string(r) + "]") +
                            ", expected finite values within the range of " + (sizeof(S) == 4 ? "float" : "double"));
        params[t.parameter(r, c)] = static_cast<S>(v);
      }
  }
  return params;
}

}  // namespace detail

/// Loads weights from a safetensors file into `model` (F64, F32, F16 or BF16;
/// converted to the model's scalar). All or nothing: the header, the names,
/// shapes and metadata, and every value (finite, within the scalar's range)
/// are checked before the model changes; otherwise FormatError names the file,
/// the tensor or field, and what was expected (IoError if it cannot be read).
/// The tensors' data is read only once the header fits the model. The
/// objective is not in the file and stays as it is. Returns the header.
template <class Model>
SafetensorsHeader load_safetensors(const std::string& path, Model& model) {
  detail::SafetensorsReader reader(path);
  const std::vector<ModelTensor> layout = safetensors_layout(model);
  const std::vector<const TensorInfo*> found = detail::match_layout(model, path, reader.header(), layout);
  // Everything is checked once this returns; nothing after it can fail on the file's account.
  model.set_parameters(detail::parameters_from(model, path, layout, found, reader.read_data()));
  return reader.header();
}

/// load_safetensors for a file already read into memory (read_safetensors_file).
template <class Model>
SafetensorsHeader load_safetensors(const SafetensorsFile& file, Model& model) {
  const std::vector<ModelTensor> layout = safetensors_layout(model);
  const std::vector<const TensorInfo*> found = detail::match_layout(model, file.path, file.header, layout);
  model.set_parameters(detail::parameters_from(model, file.path, layout, found, file.data));
  return file.header;
}

namespace detail {
/// The Architecture a file's "vae." metadata records (as safetensors_metadata
/// writes it), for a model of scalar S; throws FormatError naming the key
/// that is missing or unreadable.
template <class S>
Architecture architecture_from_metadata(const SafetensorsFile& file) {
  const auto& m = file.header.metadata;
  const auto get = [&](const char* key) -> const std::string& {
    const auto it = m.find(key);
    if (it == m.end())
      throw FormatError(file.path + ": metadata '" + key +
                        "' is missing: the file does not say what network it holds (a file written by vae has it; "
                        "for another, build the model and use load_safetensors)");
    return it->second;
  };
  const auto sizes = [&](const char* key) {
    const std::string& text = get(key);
    std::vector<std::uint64_t> out;
    std::size_t start = 0;
    while (start <= text.size()) {
      const std::size_t comma = std::min(text.find(',', start), text.size());
      const std::string part = text.substr(start, comma - start);
      if (part.empty() || part.size() > 10 || part.find_first_not_of("0123456789") != std::string::npos)
        throw FormatError(file.path + ": metadata '" + key + "' is " + quote_name(text) +
                          ", expected layer sizes such as '784,512,2'");
      out.push_back(std::stoull(part));
      start = comma + 1;
    }
    return out;
  };
  Architecture a;
  const std::string& kind = get("vae.kind");
  if (kind != "vae" && kind != "autoencoder" && kind != "cvae")
    throw FormatError(file.path + ": metadata 'vae.kind' is " + quote_name(kind) +
                      "; a model can be built from a file of kind 'vae', 'autoencoder' or 'cvae'");
  a.variational = kind != "autoencoder";
  if (kind == "cvae") {
    const std::string& classes = get("vae.classes");
    if (classes.empty() || classes.size() > 9 || classes.find_first_not_of("0123456789") != std::string::npos ||
        std::stoull(classes) == 0)
      throw FormatError(file.path + ": metadata 'vae.classes' is " + quote_name(classes) +
                        ", expected a number of classes from 1 to 999999999");
    a.classes = std::stoull(classes);
  }
  a.scalar_bytes = sizeof(S);
  a.encoder = sizes("vae.encoder_sizes");
  a.decoder = sizes("vae.decoder_sizes");
  a.encoder_activation = get("vae.encoder_activation");
  a.decoder_activation = get("vae.decoder_activation");
  // Files written before the layers were recorded: the dense layers the sizes say.
  const auto layers = file.header.metadata.find("vae.layers");
  if (layers != file.header.metadata.end()) read_layers_json(file.path, layers->second, a);
  return a.with_layers();
}
}  // namespace detail

/// The model a safetensors file written by vae holds, built from its
/// metadata and loaded: Model is DynamicVae<S, B>, DynamicAutoencoder<S,
/// B> or DynamicCvae<Classes, S, B> (the file's dtype is converted to S as load_safetensors does). The
/// objective is not in the file: the model gets `objective`. Throws
/// FormatError naming the metadata key that is missing or names a network
/// vae cannot build, then as load_safetensors.
template <class Model>
Model load_safetensors_model(const SafetensorsFile& file, Objective<typename Model::Scalar> objective = {},
                             typename Model::Context ctx = {}) {
  const Architecture a = detail::architecture_from_metadata<typename Model::Scalar>(file);
  const Index count = parameter_count_of(a);
  if (count < 0 || std::uint64_t(count) * 2 > file.header.data_bytes)  // 2 bytes: the smallest dtype read
    throw FormatError(file.path + ": the metadata describes " + detail::quote_name(a.describe()) + " of " +
                      (count < 0 ? std::string("more parameters than memory can hold")
                                 : std::to_string(count) + " parameters") +
                      ", more than the file's " + std::to_string(file.header.data_bytes) + " bytes of data can hold");
  Model model = [&] {
    try {
      return make_model<Model>(a, 0, objective, std::move(ctx));
    } catch (const FormatError& e) {
      throw FormatError(file.path + ": " + e.what());
    } catch (const ShapeError& e) {
      throw FormatError(file.path + ": the metadata describes networks that do not fit together: " + e.what());
    }
  }();
  load_safetensors(file, model);
  return model;
}

/// Reads `path` once and builds the model it holds (load_safetensors_model(read_safetensors_file(path), ...)).
template <class Model>
Model load_safetensors_model(const std::string& path, Objective<typename Model::Scalar> objective = {},
                             typename Model::Context ctx = {}) {
  return load_safetensors_model<Model>(read_safetensors_file(path), objective, std::move(ctx));
}

}  // namespace vae::io
