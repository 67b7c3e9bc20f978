// Safetensors: exact round trips for every kind of model, PyTorch's names and
// row-major (out x in) layout checked element by element, F16/BF16/F64
// import, and refusal of every malformed or mismatching file with a message
// that names the file and the tensor or field (its bytes escaped when
// unprintable), leaving the model unchanged; a NUL in the header is refused,
// and a file can be read once (a FIFO) and loaded from memory.
// (The round trips with PyTorch itself are tests/pytorch/safetensors_roundtrip.py.)
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <vae/io/safetensors.hpp>
#include <vae/vae.hpp>

#include "temp_dir.hpp"

namespace test_safetensors {

namespace {

using Vae = vae::VariationalAutoencoder<12, 8, 3>;
using Ae = vae::Autoencoder<12, 8, 3>;
using DeepVae = vae::MlpVae<vae::Layers<12, 8, 6, 3>, vae::Tanh, double>;
using Uneven = vae::AutoencoderOf<vae::EncoderOf<vae::Layers<12, 8, 3>, vae::Elu>,
                                  vae::DecoderOf<vae::Layers<3, 5, 7, 12>, vae::Softplus>>;
using TanhVae = vae::VariationalAutoencoderOf<vae::VariationalEncoderOf<vae::Layers<12, 8, 3>, vae::Tanh>,
                                              vae::DecoderOf<vae::Layers<3, 8, 12>, vae::Tanh>>;
using json = nlohmann::ordered_json;

std::string path_of(const std::string& name) { return (vae::test::temp_dir("vae_safetensors") / name).string(); }

std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

/// A file from a header text (its length field as given, or the text's
/// length) and data bytes.
std::vector<unsigned char> raw_file(const std::string& header, const std::vector<unsigned char>& data,
                                    std::uint64_t length = ~std::uint64_t(0)) {
  if (length == ~std::uint64_t(0)) length = header.size();
  std::vector<unsigned char> out(8 + header.size() + data.size());
  std::memcpy(out.data(), &length, 8);
  std::copy(header.begin(), header.end(), out.begin() + 8);
  std::copy(data.begin(), data.end(), out.begin() + 8 + std::ptrdiff_t(header.size()));
  return out;
}

/// A saved file split into its parsed header and its data.
struct Parts {
  json header;
  std::vector<unsigned char> data;
};
Parts split(const std::vector<unsigned char>& file) {
  std::uint64_t n;
  std::memcpy(&n, file.data(), 8);
  return {json::parse(file.begin() + 8, file.begin() + 8 + std::ptrdiff_t(n)),
          std::vector<unsigned char>(file.begin() + 8 + std::ptrdiff_t(n), file.end())};
}
std::vector<unsigned char> join(const Parts& p) { return raw_file(p.header.dump(), p.data); }

/// Loads `bytes` as a file into a fresh copy of `model`'s type and expects a
/// FormatError whose message holds the path and every piece of `wanted`;
/// the model must be unchanged.
template <class Model>
void expect_refused(const std::vector<unsigned char>& bytes, std::initializer_list<std::string> wanted) {
  const std::string path = path_of("refused.safetensors");
  write_bytes(path, bytes);
  Model model(7);
  const auto before = model.parameters_host();
  std::string message;
  try {
    vae::io::load_safetensors(path, model);
  } catch (const vae::FormatError& e) {
    message = e.what();
  }
  INFO("message: " << message);
  REQUIRE_FALSE(message.empty());
  CHECK(message.rfind(path + ": ", 0) == 0);
  for (const auto& w : wanted) CHECK_MESSAGE(message.find(w) != std::string::npos, "lacks: " << w);
  CHECK(model.parameters_host() == before);
}

template <class Model>
std::vector<unsigned char> saved(std::uint64_t seed = 1) {
  const Model model(seed);
  const std::string path = path_of("saved.safetensors");
  vae::io::save_safetensors(model, path);
  return read_bytes(path);
}

template <class Model>
void check_exact_round_trip() {
  Model a(11), b(12);
  REQUIRE(a.parameters_host() != b.parameters_host());
  const std::string path = path_of("round_trip.safetensors");
  vae::io::save_safetensors(a, path);
  vae::io::load_safetensors(path, b);
  CHECK(a.parameters_host() == b.parameters_host());  // bit for bit
  // The file is the parameters and a header, nothing more.
  const auto header = vae::io::read_safetensors_header(path);
  CHECK(header.data_bytes == std::uint64_t(Model::parameter_count) * sizeof(typename Model::Scalar));
  CHECK(std::filesystem::file_size(path) == 8 + header.header_bytes + header.data_bytes);
  CHECK(header.header_bytes % 8 == 0);  // the data is aligned
}

/// Every parameter index covered exactly once by the layout.
template <class Model>
void check_layout_covers_parameters() {
  std::vector<int> hits(std::size_t(Model::parameter_count), 0);
  for (const auto& t : vae::io::safetensors_layout<Model>()) {
    const vae::Index rows = vae::Index(t.shape[0]), cols = t.shape.size() == 2 ? vae::Index(t.shape[1]) : 1;
    for (vae::Index r = 0; r < rows; ++r)
      for (vae::Index c = 0; c < cols; ++c) ++hits[std::size_t(t.offset + c * t.leading + t.first_row + r)];
  }
  CHECK(std::count(hits.begin(), hits.end(), 1) == Model::parameter_count);
}

std::vector<std::string> names_of(const std::vector<vae::io::ModelTensor>& layout) {
  std::vector<std::string> names;
  for (const auto& t : layout) names.push_back(t.name + " " + vae::io::detail::shape_string(t.shape));
  return names;
}

}  // namespace

TEST_CASE("the blog's models take the names of the blog's state_dict()") {
  CHECK(names_of(vae::io::safetensors_layout<vae::VariationalAutoencoder<784, 512, 2>>()) ==
        std::vector<std::string>{"encoder.linear1.weight [512, 784]", "encoder.linear1.bias [512]",
                                 "encoder.linear2.weight [2, 512]", "encoder.linear2.bias [2]",
                                 "encoder.linear3.weight [2, 512]", "encoder.linear3.bias [2]",
                                 "decoder.linear1.weight [512, 2]", "decoder.linear1.bias [512]",
                                 "decoder.linear2.weight [784, 512]", "decoder.linear2.bias [784]"});
  CHECK(names_of(vae::io::safetensors_layout<vae::Autoencoder<784, 512, 2>>()) ==
        std::vector<std::string>{"encoder.linear1.weight [512, 784]", "encoder.linear1.bias [512]",
                                 "encoder.linear2.weight [2, 512]", "encoder.linear2.bias [2]",
                                 "decoder.linear1.weight [512, 2]", "decoder.linear1.bias [512]",
                                 "decoder.linear2.weight [784, 512]", "decoder.linear2.bias [784]"});
}

TEST_CASE("deeper models take nn.Sequential names, dense layer k at index 2k") {
  CHECK(names_of(vae::io::safetensors_layout<DeepVae>()) ==
        std::vector<std::string>{"encoder.layers.0.weight [8, 12]", "encoder.layers.0.bias [8]",
                                 "encoder.layers.2.weight [6, 8]", "encoder.layers.2.bias [6]",
                                 "encoder.mu.weight [3, 6]", "encoder.mu.bias [3]",
                                 "encoder.log_sigma.weight [3, 6]", "encoder.log_sigma.bias [3]",
                                 "decoder.layers.0.weight [6, 3]", "decoder.layers.0.bias [6]",
                                 "decoder.layers.2.weight [8, 6]", "decoder.layers.2.bias [8]",
                                 "decoder.layers.4.weight [12, 8]", "decoder.layers.4.bias [12]"});
  // One network deeper than the blog's is enough for the Sequential names on both.
  CHECK(names_of(vae::io::safetensors_layout<Uneven>()) ==
        std::vector<std::string>{"encoder.layers.0.weight [8, 12]", "encoder.layers.0.bias [8]",
                                 "encoder.layers.2.weight [3, 8]", "encoder.layers.2.bias [3]",
                                 "decoder.layers.0.weight [5, 3]", "decoder.layers.0.bias [5]",
                                 "decoder.layers.2.weight [7, 5]", "decoder.layers.2.bias [7]",
                                 "decoder.layers.4.weight [12, 7]", "decoder.layers.4.bias [12]"});
  CHECK(vae::io::uses_blog_names<Vae>());
  CHECK_FALSE(vae::io::uses_blog_names<Uneven>());
}

TEST_CASE("a convolutional conditional VAE: the label's planes take no module, and the file builds the model") {
  const auto model = vae::make_conv_cvae<10, float>(2, 4);
  CHECK(names_of(vae::io::safetensors_layout(model)) ==
        std::vector<std::string>{"encoder.layers.0.weight [32, 11, 3, 3]", "encoder.layers.0.bias [32]",
                                 "encoder.layers.2.weight [64, 32, 3, 3]", "encoder.layers.2.bias [64]",
                                 "encoder.layers.5.weight [16, 3136]", "encoder.layers.5.bias [16]",
                                 "encoder.mu.weight [2, 16]", "encoder.mu.bias [2]",
                                 "encoder.log_sigma.weight [2, 16]", "encoder.log_sigma.bias [2]",
                                 "decoder.layers.0.weight [3136, 12]", "decoder.layers.0.bias [3136]",
                                 "decoder.layers.3.weight [64, 64, 3, 3]", "decoder.layers.3.bias [64]",
                                 "decoder.layers.5.weight [64, 32, 3, 3]", "decoder.layers.5.bias [32]",
                                 "decoder.layers.7.weight [32, 1, 3, 3]", "decoder.layers.7.bias [1]"});
  const std::string path = path_of("conv_cvae.safetensors");
  vae::io::save_safetensors(model, path);
  const auto loaded = vae::io::load_safetensors_model<vae::SequentialCvae<10, float>>(path);
  CHECK(loaded.architecture() == model.architecture());
  CHECK(loaded.parameters_host() == model.parameters_host());
  using FiveClasses = vae::SequentialCvae<5, float>;
  CHECK_THROWS_WITH_AS(vae::io::load_safetensors_model<FiveClasses>(path),
                       doctest::Contains("this builds a conditional VAE of 5 classes"), vae::FormatError);
}

TEST_CASE("every parameter is in exactly one tensor") {
  check_layout_covers_parameters<Vae>();
  check_layout_covers_parameters<Ae>();
  check_layout_covers_parameters<DeepVae>();
  check_layout_covers_parameters<Uneven>();
  check_layout_covers_parameters<vae::VariationalAutoencoder<784, 512, 2>>();
}

TEST_CASE("save then load restores every parameter bit for bit") {
  check_exact_round_trip<Vae>();
  check_exact_round_trip<Ae>();
  check_exact_round_trip<DeepVae>();
  check_exact_round_trip<Uneven>();
  check_exact_round_trip<TanhVae>();
}

TEST_CASE("weights are stored out x in, row-major, and the VAE's heads split mu then log sigma") {
  Vae model(3);
  vae::Vector<float> p(Vae::parameter_count);
  for (vae::Index i = 0; i < p.size(); ++i) p[i] = float(i);  // each value names its index
  model.set_parameters(p);
  const std::string path = path_of("layout.safetensors");
  vae::io::save_safetensors(model, path);
  vae::io::SafetensorsHeader header;
  const auto tensors = vae::io::load_tensors<double>(path, &header);
  const auto get = [&](const std::string& name) { return vae::io::tensor_named(tensors, name); };
  CHECK_THROWS_WITH_AS(vae::io::tensor_named(tensors, "encoder.linear9.weight"),
                       doctest::Contains("no tensor 'encoder.linear9.weight' among the 10 given ('"),
                       vae::FormatError);
  for (const auto& t : header.tensors) CHECK(std::string(vae::io::dtype_name(t.dtype)) == "F32");
  // encoder.linear1: W is 8 x 12, column-major from parameter 0: W(r, c) = p[c * 8 + r].
  const auto w1 = get("encoder.linear1.weight");
  REQUIRE(w1.shape == std::vector<std::uint64_t>{8, 12});
  CHECK(w1.values[2 * 12 + 5] == 5 * 8 + 2);  // row 2, column 5
  const auto b1 = get("encoder.linear1.bias");
  CHECK(b1.values[7] == 8 * 12 + 7);
  // The heads: one 6 x 8 block at 104; mu rows 0-2, log sigma rows 3-5.
  const double heads = 8 * 12 + 8;
  CHECK(get("encoder.linear2.weight").values[1 * 8 + 4] == heads + 4 * 6 + 1);
  CHECK(get("encoder.linear3.weight").values[1 * 8 + 4] == heads + 4 * 6 + 3 + 1);
  CHECK(get("encoder.linear2.bias").values[2] == heads + 48 + 2);
  CHECK(get("encoder.linear3.bias").values[2] == heads + 48 + 3 + 2);
  // The decoder starts after the encoder's parameters.
  const double dec = Vae::EncoderType::parameter_count;
  CHECK(get("decoder.linear1.weight").values[5 * 3 + 2] == dec + 2 * 8 + 5);
  CHECK(get("decoder.linear2.bias").values[11] == dec + 8 * 3 + 8 + 12 * 8 + 11);
}

TEST_CASE("the metadata records the architecture, all strings") {
  const std::string path = path_of("meta.safetensors");
  vae::io::save_safetensors(DeepVae(1), path);
  const auto h = vae::io::read_safetensors_header(path);
  CHECK(h.metadata.at("format") == "pt");
  CHECK(h.metadata.at("vae.kind") == "vae");
  CHECK(h.metadata.at("vae.encoder_sizes") == "12,8,6,3");
  CHECK(h.metadata.at("vae.decoder_sizes") == "3,6,8,12");
  CHECK(h.metadata.at("vae.encoder_activation") == "tanh");
  CHECK(h.metadata.at("vae.latent_size") == "3");
  CHECK(h.metadata.at("vae.names") == "sequential");
  CHECK(h.metadata.at("vae.architecture") == "VAE 12-8-6-3 tanh (double)");
  for (const auto& t : h.tensors) CHECK(std::string(vae::io::dtype_name(t.dtype)) == "F64");
  // Every layer, the latent stage and the output, as JSON.
  const json layers = json::parse(h.metadata.at("vae.layers"));
  REQUIRE(layers.at("encoder").size() == 3);
  CHECK(layers["encoder"][0].dump() ==
        R"({"kind":"dense","input":[12],"output":[8],"activation":"tanh","settings":[]})");
  CHECK(layers["encoder"][2].dump() ==
        R"({"kind":"dense","input":[6],"output":[6],"activation":"identity","settings":[]})");
  CHECK(layers["latent"].dump() ==
        R"({"kind":"gaussian","input":[6],"output":[3],"activation":"identity","settings":[]})");
  CHECK(layers.at("decoder").size() == 3);
  CHECK(layers["decoder"][2]["activation"] == "identity");
  CHECK(layers["output"] == "sigmoid");
}

TEST_CASE("models are built from vae.layers when a file has it, and an unknown layer is refused by name") {
  const std::string path = path_of("layers.safetensors");
  const auto edited = [&](const std::function<void(json&)>& edit) {
    Parts p = split(saved<TanhVae>());
    json layers = json::parse(p.header["__metadata__"]["vae.layers"].get<std::string>());
    edit(layers);
    p.header["__metadata__"]["vae.layers"] = layers.dump();
    write_bytes(path, join(p));
  };
  edited([](json&) {});
  auto model = vae::io::load_safetensors_model<vae::DynamicVae<float>>(path);
  CHECK(model.architecture() == TanhVae::architecture());
  // A layer of a kind this build cannot make, an output it does not have.
  edited([](json& l) { l["encoder"][0]["kind"] = "conv2"; });
  CHECK_THROWS_WITH_AS(vae::io::load_safetensors_model<vae::DynamicVae<float>>(path),
                       doctest::Contains("with a layer of kind 'conv2'; this model's networks are dense"),
                       vae::Error);
  edited([](json& l) { l["output"] = "gaussian"; });
  CHECK_THROWS_WITH_AS(vae::io::load_safetensors_model<vae::DynamicVae<float>>(path),
                       doctest::Contains("whose output is 'gaussian'"), vae::Error);
  // Layers that contradict the sizes, or malformed: refused naming the key.
  // The same layers with the keys in another order are the same layers.
  edited([](json& l) {
    json reordered;
    for (const char* key : {"output", "decoder", "latent", "encoder"}) reordered[key] = l[key];
    l = reordered;
  });
  {
    TanhVae loaded(9);
    vae::io::load_safetensors(path, loaded);
    CHECK(loaded.parameters_host() == TanhVae(1).parameters_host());
  }
  edited([](json& l) { l["decoder"][0]["activation"] = "elu"; });
  expect_refused<TanhVae>(read_bytes(path), {"metadata 'vae.layers' is '{", "expected '{"});
  edited([](json& l) { l.erase("latent"); });
  CHECK_THROWS_WITH_AS(vae::io::load_safetensors_model<vae::DynamicVae<float>>(path),
                       doctest::Contains("metadata 'vae.layers' lacks a part or has one of the wrong type"),
                       vae::FormatError);
  edited([](json& l) { l["encoder"][1]["output"] = json::array({0}); });
  CHECK_THROWS_WITH_AS(vae::io::load_safetensors_model<vae::DynamicVae<float>>(path),
                       doctest::Contains("a layer at encoder[1] whose shape is not 1 to 4 dimensions of 1 to 2^32"),
                       vae::FormatError);
  edited([](json& l) { l["latent"]["kind"] = 7; });
  CHECK_THROWS_WITH_AS(vae::io::load_safetensors_model<vae::DynamicVae<float>>(path),
                       doctest::Contains("a layer at latent without a string kind"), vae::FormatError);
  std::remove(path.c_str());
}

TEST_CASE("F16 and BF16 convert exactly, every one of the 65536 values") {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const std::uint32_t e = (h >> 10) & 31, m = h & 1023;
    const double sign = (h & 0x8000) ? -1 : 1;
    const double want = e == 31 ? (m ? std::nan("") : sign * INFINITY)
                        : e == 0 ? sign * std::ldexp(double(m), -24)
                                 : sign * std::ldexp(1024.0 + m, int(e) - 25);
    const float got = vae::io::detail::half_to_float(std::uint16_t(h));
    if (std::isnan(want)) {
      CHECK(std::isnan(got));
    } else if (double(got) != want) {
      FAIL_CHECK("F16 0x" << std::hex << h << ": " << got << ", expected " << want);
    }
  }
  CHECK(vae::io::detail::bfloat16_to_float(0x3F80) == 1.0f);
  CHECK(vae::io::detail::bfloat16_to_float(0x4049) == 3.140625f);
  CHECK(vae::io::detail::bfloat16_to_float(0xC2F7) == -123.5f);
}

TEST_CASE("F16, BF16 and F64 files load into float and double models") {
  // The saved file with every tensor re-encoded in another dtype.
  const auto reencode = [](const std::vector<unsigned char>& file, const char* dtype,
                           const std::function<std::vector<unsigned char>(float)>& encode) {
    Parts p = split(file);
    std::vector<unsigned char> data;
    for (auto& [name, t] : p.header.items()) {
      if (name == "__metadata__") continue;
      const auto begin = t["data_offsets"][0].get<std::size_t>(), end = t["data_offsets"][1].get<std::size_t>();
      const std::size_t at = data.size();
      for (std::size_t i = begin; i < end; i += 4) {
        float v;
        std::memcpy(&v, p.data.data() + i, 4);
        const auto bytes = encode(v);
        data.insert(data.end(), bytes.begin(), bytes.end());
      }
      t["dtype"] = dtype;
      t["data_offsets"] = {at, data.size()};
    }
    p.data = data;
    return join(p);
  };
  const Vae source(5);
  const std::string path = path_of("source.safetensors");
  vae::io::save_safetensors(source, path);
  const auto file = read_bytes(path);
  const vae::Vector<float> p = source.parameters_host();

  SUBCASE("BF16: the upper 16 bits of each float") {
    write_bytes(path, reencode(file, "BF16", [](float v) {
      std::uint32_t bits;
      std::memcpy(&bits, &v, 4);
      const std::uint16_t h = std::uint16_t(bits >> 16);
      return std::vector<unsigned char>{static_cast<unsigned char>(h & 255), static_cast<unsigned char>(h >> 8)};
    }));
    Vae model(9);
    vae::io::load_safetensors(path, model);
    const vae::Vector<float> q = model.parameters_host();
    for (vae::Index i = 0; i < p.size(); ++i) {
      std::uint32_t bits;
      std::memcpy(&bits, &p[i], 4);
      bits &= 0xFFFF0000u;
      float want;
      std::memcpy(&want, &bits, 4);
      REQUIRE(q[i] == want);
    }
  }
  SUBCASE("F16: values that F16 holds exactly come back exactly") {
    // Parameters are in (-0.3, 0.3): k / 1024 with |k| < 1024 is exact in F16.
    const auto to_half = [](float v) {
      // v = k / 1024 exactly; F16 of a normal value: sign, exponent + 15, 10 mantissa bits.
      if (v == 0) return std::vector<unsigned char>{0, 0};
      int e;
      const double m = std::frexp(std::abs(double(v)), &e);  // v = m 2^e, m in [0.5, 1)
      std::uint16_t h = std::uint16_t(((e - 1 + 15) << 10) | (std::uint16_t(std::lround((m * 2 - 1) * 1024)) & 1023));
      if (v < 0) h |= 0x8000;
      return std::vector<unsigned char>{static_cast<unsigned char>(h & 255), static_cast<unsigned char>(h >> 8)};
    };
    Vae exact(5);
    vae::Vector<float> r = p;
    for (vae::Index i = 0; i < r.size(); ++i) r[i] = std::round(r[i] * 1024) / 1024;
    exact.set_parameters(r);
    vae::io::save_safetensors(exact, path);
    write_bytes(path, reencode(read_bytes(path), "F16", to_half));
    Vae model(9);
    vae::io::load_safetensors(path, model);
    CHECK(model.parameters_host() == r);
  }
  SUBCASE("F64 into float and double models") {
    write_bytes(path, reencode(file, "F64", [](float v) {
      const double d = v;
      std::vector<unsigned char> b(8);
      std::memcpy(b.data(), &d, 8);
      return b;
    }));
    Vae model(9);
    vae::io::load_safetensors(path, model);
    CHECK(model.parameters_host() == p);
    vae::VariationalAutoencoder<12, 8, 3, double> wide(9);
    vae::io::load_safetensors(path, wide);
    CHECK(wide.parameters_host() == p.cast<double>());
  }
  SUBCASE("a double model's F64 file into a float model rounds each value") {
    vae::VariationalAutoencoder<12, 8, 3, double> wide(4);
    vae::io::save_safetensors(wide, path);
    Vae model(9);
    vae::io::load_safetensors(path, model);
    CHECK(model.parameters_host() == wide.parameters_host().cast<float>());
  }
}

TEST_CASE("a file that does not fit the model is refused, naming the tensor, and nothing changes") {
  const auto vae_file = saved<Vae>();
  SUBCASE("an autoencoder's file into a VAE: log sigma's head is missing") {
    expect_refused<Vae>(saved<Ae>(), {"tensor 'encoder.linear3.weight' is missing", "a VAE 12-8-3 relu (float)",
                                      "shape [3, 8]"});
  }
  SUBCASE("a VAE's file into an autoencoder: an extra tensor") {
    expect_refused<Ae>(vae_file, {"tensor 'encoder.linear3.weight' is not a parameter of an autoencoder 12-8-3"});
  }
  SUBCASE("another hidden size") {
    expect_refused<vae::VariationalAutoencoder<12, 6, 3>>(
        vae_file, {"tensor 'encoder.linear1.weight' has shape [8, 12], expected [6, 12] (out x in)"});
  }
  SUBCASE("a transposed weight") {
    Parts p = split(vae_file);
    p.header["encoder.linear1.weight"]["shape"] = {12, 8};
    expect_refused<Vae>(join(p), {"tensor 'encoder.linear1.weight' has shape [12, 8], expected [8, 12] (out x in)"});
  }
  SUBCASE("a renamed tensor") {
    Parts p = split(vae_file);
    json renamed = json::object();
    for (auto& [k, v] : p.header.items()) renamed[k == "decoder.linear2.bias" ? "decoder.linear2.b" : k] = v;
    p.header = renamed;
    expect_refused<Vae>(join(p), {"tensor 'decoder.linear2.bias' is missing"});
  }
  SUBCASE("the same shapes with another activation, told by the metadata") {
    expect_refused<TanhVae>(vae_file, {"metadata 'vae.encoder_activation' is 'relu', expected 'tanh'"});
  }
  SUBCASE("without metadata, shapes alone decide (a file written by PyTorch)") {
    Parts p = split(vae_file);
    p.header.erase("__metadata__");
    const std::string path = path_of("no_meta.safetensors");
    write_bytes(path, join(p));
    TanhVae model(2);
    vae::io::load_safetensors(path, model);
    CHECK(model.parameters_host() == Vae(1).parameters_host());
  }
  SUBCASE("a NaN, and a double beyond float's range") {
    Parts p = split(vae_file);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const auto at = p.header["decoder.linear1.weight"]["data_offsets"][0].get<std::size_t>() + 4 * (1 * 3 + 2);
    std::memcpy(p.data.data() + at, &nan, 4);
    expect_refused<Vae>(join(p), {"tensor 'decoder.linear1.weight' holds nan at [1, 2], expected finite values"});
    vae::VariationalAutoencoder<12, 8, 3, double> wide(1);
    vae::Vector<double> q = wide.parameters_host();
    q[Vae::EncoderType::parameter_count] = 1e300;  // decoder.linear1.weight[0, 0]
    wide.set_parameters(q);
    const std::string path = path_of("wide.safetensors");
    vae::io::save_safetensors(wide, path);
    expect_refused<Vae>(read_bytes(path), {"tensor 'decoder.linear1.weight' holds 1e+300 at [0, 0]",
                                           "within the range of float"});
  }
}

TEST_CASE("malformed files are refused with the file and the field named, and nothing changes") {
  const auto good = saved<Vae>();
  const Parts parts = split(good);
  const auto with_header = [&](const std::string& header) { return raw_file(header, parts.data); };
  const auto edited = [&](const std::function<void(json&)>& edit) {
    Parts p = parts;
    edit(p.header);
    return join(p);
  };
  const std::string t = "encoder.linear1.weight";

  SUBCASE("sizes") {
    expect_refused<Vae>({1, 2, 3}, {"3 bytes, too short for a safetensors file"});
    expect_refused<Vae>(raw_file("{}", {}, std::uint64_t(1) << 40),
                        {"header length field says 1099511627776 bytes, more than the limit of 100000000"});
    expect_refused<Vae>(raw_file("{}", {}, 100000000), {"says 100000000 bytes, the file holds only 2 after it"});
    expect_refused<Vae>(raw_file("{}", {}, 1), {"says 1 bytes, too short for a JSON object"});
    std::vector<unsigned char> truncated = good;
    truncated.resize(good.size() - 1);
    expect_refused<Vae>(truncated, {"the header declares", "bytes of tensor data, the file holds", "(truncated)"});
    std::vector<unsigned char> longer = good;
    longer.push_back(0);
    expect_refused<Vae>(longer, {"(trailing bytes)"});
  }
  SUBCASE("not JSON, not an object, trailing text") {
    expect_refused<Vae>(with_header("{\"a\": "), {"the header is not valid JSON"});
    expect_refused<Vae>(with_header("[1, 2]"), {"the header is an array, expected a JSON object"});
    expect_refused<Vae>(with_header("\"text\""), {"the header is a string, expected a JSON object"});
    expect_refused<Vae>(with_header(parts.header.dump() + " x"), {"the header is not valid JSON"});
    expect_refused<Vae>(with_header("/* c */" + parts.header.dump()), {"the header is not valid JSON"});
    expect_refused<Vae>(with_header(std::string("{\"a\xff\": 1}")), {"the header is not valid JSON"});
  }
  SUBCASE("fields") {
    expect_refused<Vae>(edited([&](json& h) { h[t].erase("dtype"); }), {"tensor '" + t + "': field 'dtype' is missing"});
    expect_refused<Vae>(edited([&](json& h) { h[t].erase("shape"); }), {"field 'shape' is missing"});
    expect_refused<Vae>(edited([&](json& h) { h[t].erase("data_offsets"); }), {"field 'data_offsets' is missing"});
    expect_refused<Vae>(edited([&](json& h) { h[t]["extra"] = 1; }), {"tensor '" + t + "': unknown field 'extra'"});
    expect_refused<Vae>(edited([&](json& h) { h[t] = 5; }), {"tensor '" + t + "' is a number, expected an object"});
    expect_refused<Vae>(edited([&](json& h) { h[t]["dtype"] = 32; }), {"field 'dtype' is a number, expected a string"});
    expect_refused<Vae>(edited([&](json& h) { h[t]["dtype"] = "I64"; }),
                        {"tensor '" + t + "': dtype 'I64' is not one vae reads (F64, F32, F16, BF16)"});
    expect_refused<Vae>(edited([&](json& h) { h[t]["dtype"] = "f32"; }), {"dtype 'f32' is not one vae reads"});
    expect_refused<Vae>(edited([&](json& h) { h[t]["shape"] = {8, -12}; }),
                        {"field 'shape' holds a negative integer (-12)"});
    expect_refused<Vae>(edited([&](json& h) { h[t]["shape"] = {8, 12.0}; }), {"field 'shape' holds the number '12.0'"});
    expect_refused<Vae>(edited([&](json& h) { h[t]["shape"] = {8, {12}}; }), {"field 'shape' holds an array"});
    expect_refused<Vae>(edited([&](json& h) { h[t]["shape"] = "8x12"; }), {"field 'shape' is a string"});
    expect_refused<Vae>(edited([&](json& h) { h[t]["shape"] = std::vector<int>(65, 1); }),
                        {"field 'shape' has more than 64 dimensions"});
    expect_refused<Vae>(edited([&](json& h) { h[t]["data_offsets"] = {0}; }),
                        {"field 'data_offsets' has 1 elements, expected [begin, end]"});
    expect_refused<Vae>(edited([&](json& h) { h[t]["data_offsets"] = {0, 384, 400}; }),
                        {"field 'data_offsets' has more than 2 elements"});
    expect_refused<Vae>(edited([&](json& h) { h["__metadata__"]["vae.kind"] = 2; }),
                        {"'__metadata__' value 'vae.kind' is a number, expected a string"});
    expect_refused<Vae>(edited([&](json& h) { h["__metadata__"] = "x"; }),
                        {"'__metadata__' is a string, expected an object of strings"});
    expect_refused<Vae>(edited([&](json& h) { h[""] = h[t]; }), {"a tensor with an empty name"});
  }
  SUBCASE("duplicates, which a JSON DOM would silently drop") {
    const std::string dump = parts.header.dump();
    const auto entry = "\"" + t + "\":" + parts.header[t].dump();
    std::string twice = dump;
    twice.insert(1, entry + ",");
    expect_refused<Vae>(with_header(twice), {"the header names '" + t + "' twice"});
    std::string field = dump;
    field.replace(field.find("\"dtype\":\"F32\""), 13, "\"dtype\":\"F32\",\"dtype\":\"F64\"");
    expect_refused<Vae>(with_header(field), {"field 'dtype' appears twice"});
    std::string meta = dump;
    meta.replace(meta.find("\"format\":\"pt\""), 13, "\"format\":\"pt\",\"format\":\"pt\"");
    expect_refused<Vae>(with_header(meta), {"'__metadata__' holds the key 'format' twice"});
  }
  SUBCASE("offsets") {
    const auto size_of = [&](const std::string& name) {
      return parts.header[name]["data_offsets"][1].get<std::uint64_t>() -
             parts.header[name]["data_offsets"][0].get<std::uint64_t>();
    };
    expect_refused<Vae>(edited([&](json& h) { h[t]["data_offsets"] = {0, 380}; }),
                        {"tensor '" + t + "': data_offsets [0, 380] span 380 bytes, its shape [8, 12] of F32 needs 384"});
    expect_refused<Vae>(edited([&](json& h) { h[t]["data_offsets"] = {384, 0}; }), {"end before they begin"});
    expect_refused<Vae>(edited([&](json& h) { h[t]["dtype"] = "F64"; }), {"of F64 needs 768"});
    // encoder.linear1.bias moved onto the weight's bytes: an overlap.
    expect_refused<Vae>(edited([&](json& h) { h["encoder.linear1.bias"]["data_offsets"] = {0, size_of("encoder.linear1.bias")}; }),
                        {"overlaps tensor"});
    // The weight moved 4 bytes on: a gap before it.
    expect_refused<Vae>(edited([&](json& h) { h[t]["data_offsets"] = {4, 388}; }),
                        {"bytes 0 to 4 of the data belong to no tensor (a gap before tensor '" + t + "')"});
    // A tensor far beyond the data.
    expect_refused<Vae>(edited([&](json& h) {
                          const auto end = h["decoder.linear2.bias"]["data_offsets"][1].get<std::uint64_t>();
                          h["decoder.linear2.bias"]["data_offsets"] = {end + 1000, end + 1000 + 48};
                        }),
                        {"belong to no tensor"});
    // Offsets near 2^64: no wrap-around.
    expect_refused<Vae>(edited([&](json& h) {
                          h[t]["data_offsets"] = {std::numeric_limits<std::uint64_t>::max() - 10, 373};
                        }),
                        {"end before they begin"});
    expect_refused<Vae>(edited([&](json& h) { h[t]["shape"] = {std::uint64_t(1) << 62, 8}; }), {"more than 2^64 bytes"});
  }
}

TEST_CASE("the header may list tensors in any order, padded with spaces, without metadata") {
  const Vae source(21);
  const auto file = saved<Vae>(21);
  Parts p = split(file);
  p.header.erase("__metadata__");
  json reversed = json::object();
  std::vector<std::string> keys;
  for (auto& [k, v] : p.header.items()) keys.push_back(k);
  for (auto k = keys.rbegin(); k != keys.rend(); ++k) reversed[*k] = p.header[*k];
  const std::string path = path_of("reordered.safetensors");
  write_bytes(path, raw_file(reversed.dump() + std::string(5, ' '), p.data));
  Vae model(1);
  vae::io::load_safetensors(path, model);
  CHECK(model.parameters_host() == source.parameters_host());
}

TEST_CASE("a pipe is read no further than the header declares") {
  const auto file = saved<Vae>(8);
  // The writer of a refused file is left writing into a closed pipe: EPIPE, not a signal.
  std::signal(SIGPIPE, SIG_IGN);
  const std::string fifo = path_of("pipe");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const auto through_pipe = [&](const std::vector<unsigned char>& bytes, Vae& model) {
    std::thread writer([&] {
      std::ofstream out(fifo, std::ios::binary);
      out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    });
    std::string error;
    try {
      vae::io::load_safetensors(fifo, model);
    } catch (const vae::Error& e) {
      error = e.what();
    }
    writer.join();
    return error;
  };
  Vae model(1);
  CHECK(through_pipe(file, model) == "");
  CHECK(model.parameters_host() == Vae(8).parameters_host());
  std::vector<unsigned char> longer = file;
  longer.insert(longer.end(), 100000, 0);
  Vae other(1);
  const std::string error = through_pipe(longer, other);
  CHECK(error.find("the file holds more (trailing bytes)") != std::string::npos);
  CHECK(other.parameters_host() == Vae(1).parameters_host());
}

TEST_CASE("a NUL byte anywhere in the header is refused: the format pads with spaces") {
  const auto good = saved<Vae>();
  const Parts parts = split(good);
  const std::string text = parts.header.dump();
  // What follows the NUL would be ignored by a parser that stops there, and
  // read by another: the same file must not mean two things.
  const std::string tail = std::string(1, '\0') + "{\"evil\": [1, 2], nonsense";
  expect_refused<Vae>(raw_file(text + tail, parts.data),
                      {"the header holds a NUL byte at offset " + std::to_string(text.size()) + " of its " +
                       std::to_string(text.size() + tail.size()) + " (JSON allows none; the format pads with spaces)"});
  expect_refused<Vae>(raw_file(text + std::string(8, '\0'), parts.data), {"NUL byte at offset " + std::to_string(text.size())});
  expect_refused<Vae>(raw_file(std::string(1, '\0') + text, parts.data), {"NUL byte at offset 0"});
  // Spaces are the padding the format allows.
  Vae model(2);
  write_bytes(path_of("spaces.safetensors"), raw_file(text + std::string(8, ' '), parts.data));
  vae::io::load_safetensors(path_of("spaces.safetensors"), model);
  CHECK(model.parameters_host() == Vae(1).parameters_host());
}

TEST_CASE("names and values from the file reach messages with unprintable bytes escaped") {
  const auto good = saved<Vae>();
  const Parts parts = split(good);
  const auto refused_with = [&](const std::function<void(json&)>& edit) {
    Parts p = parts;
    edit(p.header);
    const std::string path = path_of("escaped.safetensors");
    write_bytes(path, join(p));
    Vae model(1);
    try {
      vae::io::load_safetensors(path, model);
    } catch (const vae::FormatError& e) {
      return std::string(e.what());
    }
    return std::string("no FormatError");
  };
  const auto printable = [](const std::string& m) {
    return std::none_of(m.begin(), m.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
  };
  // An escape sequence that would clear the terminal, as a tensor name, a dtype and a metadata value.
  std::string m = refused_with([](json& h) { h["\x1b[2J"] = h["encoder.linear1.bias"]; });
  CHECK(m.find("tensor '\\x1b[2J'") != std::string::npos);
  CHECK(printable(m));
  m = refused_with([](json& h) { h["encoder.linear1.bias"]["dtype"] = "\x1b]0;pwned\x07"; });
  CHECK(m.find("dtype '\\x1b]0;pwned\\x07' is not one vae reads") != std::string::npos);
  CHECK(printable(m));
  m = refused_with([](json& h) { h["__metadata__"]["vae.kind"] = "\x1b[31mae"; });
  CHECK(m.find("metadata 'vae.kind' is '\\x1b[31mae'") != std::string::npos);
  CHECK(printable(m));
  // Invalid UTF-8 in the JSON text: the parser's message quotes it, escaped.
  const std::string path = path_of("invalid_utf8.safetensors");
  write_bytes(path, raw_file(std::string("{\"a\xff\": 1}"), parts.data));
  Vae model(1);
  try {
    vae::io::load_safetensors(path, model);
    FAIL("loaded");
  } catch (const vae::FormatError& e) {
    m = e.what();
  }
  CHECK(m.find("the header is not valid JSON") != std::string::npos);
  CHECK(m.find('\xff') == std::string::npos);
  CHECK(printable(m));
}

TEST_CASE("a file read once from a FIFO loads from memory") {
  const auto bytes = saved<Vae>(9);
  const std::string fifo = path_of("once.fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::thread writer([&] {
    std::ofstream out(fifo, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  });
  const vae::io::SafetensorsFile file = vae::io::read_safetensors_file(fifo);
  writer.join();
  CHECK(file.data.size() == std::size_t(Vae::parameter_count) * 4);
  Vae model(1);
  vae::io::load_safetensors(file, model);  // no second read of the FIFO, which would wait forever
  CHECK(model.parameters_host() == Vae(9).parameters_host());
  Ae other(1);
  CHECK_THROWS_WITH_AS(vae::io::load_safetensors(file, other), doctest::Contains((fifo + ": tensor").c_str()), vae::FormatError);
}

TEST_CASE("files that cannot be read or written are IoErrors naming the path") {
  Vae model(1);
  CHECK_THROWS_WITH_AS(vae::io::load_safetensors("/nonexistent/w.safetensors", model),
                       "/nonexistent/w.safetensors: cannot open the safetensors file for reading: No such file or "
                       "directory",
                       vae::IoError);
  // A folder is named as such, not as a read error.
  const std::string dir = path_of("");
  CHECK_THROWS_WITH_AS(vae::io::load_safetensors(dir, model), (dir + ": is a folder, expected a safetensors file").c_str(),
                       vae::IoError);
  CHECK_THROWS_WITH_AS(vae::io::save_safetensors(model, "/nonexistent/w.safetensors"),
                       doctest::Contains("/nonexistent/w.safetensors: cannot create a temporary file beside it"),
                       vae::IoError);
  // A failed save leaves the previous file as it was.
  const std::string path = path_of("kept.safetensors");
  vae::io::save_safetensors(model, path);
  const auto before = read_bytes(path);
  const std::string folder = path_of("");
  if (::geteuid() != 0) {  // root writes anywhere
    ::chmod(folder.c_str(), 0500);
    CHECK_THROWS_AS(vae::io::save_safetensors(Vae(2), path), vae::IoError);
    ::chmod(folder.c_str(), 0700);
    CHECK(read_bytes(path) == before);
  }
}

TEST_CASE("save_tensors and load_tensors: any named tensors, scalars and empty ones included") {
  const std::string path = path_of("tensors.safetensors");
  const std::vector<vae::io::Tensor<double>> tensors{
      {"x", {2, 3}, {1, 2, 3, 4, 5, 6}}, {"scalar", {}, {0.25}}, {"empty", {0, 4}, {}}, {"v", {2}, {-1e300, 1e-300}}};
  vae::io::save_tensors(path, tensors, {{"note", "made by the test"}});
  vae::io::SafetensorsHeader h;
  const auto back = vae::io::load_tensors<double>(path, &h);
  REQUIRE(back.size() == 4);
  CHECK(h.metadata.at("note") == "made by the test");
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(back[i].name == tensors[i].name);
    CHECK(back[i].shape == tensors[i].shape);
    CHECK(back[i].values == tensors[i].values);
  }
  const auto narrow = vae::io::load_tensors<float>(path);
  CHECK(narrow[3].values[0] == -std::numeric_limits<float>::infinity());
  CHECK(narrow[3].values[1] == 0.0f);
  CHECK_THROWS_WITH_AS(vae::io::save_tensors(path, std::vector<vae::io::Tensor<float>>{{"a", {2, 2}, {1, 2, 3}}}),
                       doctest::Contains("tensor 'a' has 3 values, its shape [2, 2] needs 4"), vae::ValueError);
  CHECK_THROWS_WITH_AS(
      vae::io::save_tensors(path, std::vector<vae::io::Tensor<float>>{{"a", {1}, {1}}, {"a", {1}, {2}}}),
      doctest::Contains("tensor name 'a' is empty, reserved or used twice"), vae::ValueError);
  CHECK(vae::io::load_tensors<double>(path).size() == 4);  // the refused writes changed nothing
}

}  // namespace test_safetensors
