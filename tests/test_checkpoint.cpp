// Checkpoints: exact round trips (model, optimizer, position), errors that
// name both shapes, truncated and corrupted files, and a writer killed in the
// middle of a write never destroying the previous checkpoint.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <vae/io/checkpoint.hpp>
#include <vae/vae.hpp>

#include "temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

using Vae = vae::VariationalAutoencoder<64, 32, 3>;
using Ae = vae::Autoencoder<64, 32, 3>;

fs::path temp_dir() { return vae::test::temp_dir("vae_ckpt"); }

std::vector<unsigned char> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
void write_bytes(const fs::path& p, const std::vector<unsigned char>& b) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

/// A VAE trained a few steps, so its optimizer state is not trivial.
Vae trained(vae::Adam<float>& opt, std::uint64_t seed) {
  Vae model(seed, {vae::Reconstruction::BinaryCrossEntropy, vae::KlForm::Exact, 0.5f});
  vae::Rng rng(seed);
  const Eigen::MatrixXf x = (Eigen::MatrixXf::Random(64, 16).array() + 1) / 2;
  for (int i = 0; i < 3; ++i) model.train_step(x, opt, rng);
  return model;
}

}  // namespace

TEST_CASE("a checkpoint round-trips model, optimizer and position exactly") {
  const fs::path path = temp_dir() / "roundtrip.ckpt";
  vae::Adam<float> opt({2e-3, 0.8, 0.99, 1e-7, 0.01});
  const Vae model = trained(opt, 1);
  const vae::io::TrainingPosition pos{7, 1234};
  vae::io::save_checkpoint(path.string(), model, &opt, &pos);
  // Header 32, architecture 2 x (4 + 3 x 8) + 2 x (4 + 4), objective 16,
  // parameters, optimizer 48 + two moments, position 16, CRC 4.
  CHECK(fs::file_size(path) == 32 + 56 + 16 + 16 + 4 * Vae::parameter_count + 48 + 8 * Vae::parameter_count + 16 + 4);

  Vae loaded(99);
  vae::Adam<float> opt2;
  vae::io::TrainingPosition pos2;
  const auto info = vae::io::load_checkpoint(path.string(), loaded, &opt2, &pos2);
  CHECK(info.shape() == "VAE 64-32-3 relu (float)");
  CHECK(info.version == 2);
  CHECK(loaded.parameters_host() == model.parameters_host());
  CHECK(loaded.objective().reconstruction == vae::Reconstruction::BinaryCrossEntropy);
  CHECK(loaded.objective().beta == 0.5f);
  CHECK(opt2.steps() == 3);
  CHECK(opt2.options().lr == 2e-3);
  CHECK(opt2.options().weight_decay == 0.01);
  CHECK(std::memcmp(opt2.first_moment().data, opt.first_moment().data, sizeof(float) * Vae::parameter_count) == 0);
  CHECK(std::memcmp(opt2.second_moment().data, opt.second_moment().data, sizeof(float) * Vae::parameter_count) == 0);
  CHECK(pos2.next_epoch == 7);
  CHECK(pos2.seed == 1234);

  // Training on from both gives identical parameters.
  vae::Rng r1(5), r2(5);
  Vae a = model, b = loaded;
  const Eigen::MatrixXf x = (Eigen::MatrixXf::Random(64, 16).array() + 1) / 2;
  a.train_step(x, opt, r1);
  b.train_step(x, opt2, r2);
  CHECK(a.parameters_host() == b.parameters_host());
}

TEST_CASE("loading into another kind or size names both shapes and changes nothing") {
  const fs::path path = temp_dir() / "shape.ckpt";
  vae::Adam<float> opt;
  vae::io::save_checkpoint(path.string(), trained(opt, 2));
  Ae ae(3);
  const auto before = ae.parameters_host();
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(path.string(), ae),
                       doctest::Contains("holds a VAE 64-32-3 relu (float), the model is an autoencoder 64-32-3 relu (float)"),
                       vae::ShapeError);
  vae::VariationalAutoencoder<64, 32, 4> wider(3);
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(path.string(), wider), doctest::Contains("VAE 64-32-4"), vae::ShapeError);
  vae::VariationalAutoencoder<64, 32, 3, double> dbl(3);
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(path.string(), dbl), doctest::Contains("(double)"), vae::ShapeError);
  CHECK(ae.parameters_host() == before);
  // Asking for optimizer state that was not saved is an error too.
  Vae same(3);
  vae::Adam<float> want;
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(path.string(), same, &want), doctest::Contains("no optimizer state"),
                       vae::FormatError);
}

TEST_CASE("truncated, corrupted and foreign files fail clearly") {
  const fs::path dir = temp_dir(), good = dir / "good.ckpt", bad = dir / "bad.ckpt";
  vae::Adam<float> opt;
  vae::io::save_checkpoint(good.string(), trained(opt, 3), &opt);
  const auto bytes = read_bytes(good);
  Vae model(1);
  const auto before = model.parameters_host();

  write_bytes(bad, std::vector<unsigned char>(bytes.begin(), bytes.begin() + bytes.size() / 2));
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(bad.string(), model), doctest::Contains("payload size"), vae::FormatError);
  write_bytes(bad, std::vector<unsigned char>(bytes.begin(), bytes.begin() + 20));
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(bad.string(), model), doctest::Contains("too short"), vae::FormatError);

  auto flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  write_bytes(bad, flipped);
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(bad.string(), model), doctest::Contains("CRC-32 mismatch"), vae::FormatError);

  auto foreign = bytes;
  foreign[0] = 'X';
  write_bytes(bad, foreign);
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(bad.string(), model), doctest::Contains("not a vae checkpoint"), vae::FormatError);

  auto future = bytes;
  future[8] = 9;
  write_bytes(bad, future);
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(bad.string(), model), doctest::Contains("format version is 9"), vae::FormatError);

  CHECK_THROWS_AS(vae::io::load_checkpoint((dir / "missing.ckpt").string(), model), vae::IoError);
  CHECK(model.parameters_host() == before);
}

TEST_CASE("a writer killed mid-write never loses the previous checkpoint") {
  const fs::path dir = temp_dir() / "kill";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path path = dir / "model.ckpt", staged = temp_dir() / "new.ckpt";
  using Big = vae::VariationalAutoencoder<784, 512, 20>;  // ~3.3 MB per file
  const Big old_model(1), new_model(2);
  vae::io::save_checkpoint(path.string(), old_model);
  vae::io::save_checkpoint(staged.string(), new_model);
  const auto old_params = old_model.parameters_host(), new_params = new_model.parameters_host();
  auto leftovers = [&] {
    int n = 0;
    for (const auto& entry : fs::directory_iterator(dir))
      if (entry.path() != path) {
        ++n;
        fs::remove(entry.path());
      }
    return n;
  };

  // Deterministic: a writer (the same AtomicFile save_checkpoint uses) has
  // written half of the new checkpoint when it is killed.
  const auto bytes = read_bytes(staged);
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  const pid_t writer = ::fork();
  REQUIRE(writer >= 0);
  if (writer == 0) {
    vae::io::AtomicFile f(path.string());
    f.write(bytes.data(), bytes.size() / 2);
    const char c = 'w';
    if (::write(ready[1], &c, 1) != 1) ::_exit(1);
    for (;;) ::pause();
  }
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  ::kill(writer, SIGKILL);
  ::waitpid(writer, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  Big loaded(3);
  REQUIRE_NOTHROW(vae::io::load_checkpoint(path.string(), loaded));
  CHECK(loaded.parameters_host() == old_params);
  CHECK(leftovers() == 1);  // the half-written temporary file, never the target

  // Stochastic: writers saving in a loop, killed at varying moments.
  int killed_mid_write = 0, saw_new = 0;
  for (int round = 0; round < 12; ++round) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      for (;;) vae::io::save_checkpoint(path.string(), round % 2 ? old_model : new_model);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + 7 * round));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    // Whatever the moment of the kill, the file is one complete checkpoint.
    REQUIRE_NOTHROW(vae::io::load_checkpoint(path.string(), loaded));
    const auto p = loaded.parameters_host();
    CHECK((p == old_params || p == new_params));
    saw_new += p == new_params;
    killed_mid_write += leftovers();
  }
  MESSAGE("12 writers killed at 5-82 ms: " << killed_mid_write << " of them mid-write (a temporary file left), " << saw_new
                                          << " rounds ended on the new checkpoint; every load succeeded");
}

TEST_CASE("deep models round-trip; another depth or activation names both architectures") {
  using Deep = vae::MlpVae<vae::Layers<64, 24, 16, 8, 3>, vae::Tanh>;
  const fs::path path = temp_dir() / "deep.ckpt";
  Deep model(4, {vae::Reconstruction::BinaryCrossEntropy, vae::KlForm::Exact, 1.0f});
  vae::Adam<float> opt;
  vae::Rng rng(1);
  const Eigen::MatrixXf x = (Eigen::MatrixXf::Random(64, 16).array() + 1) / 2;
  model.train_step(x, opt, rng);
  vae::io::save_checkpoint(path.string(), model, &opt);
  CHECK(vae::io::read_checkpoint_info(path.string()).shape() == "VAE 64-24-16-8-3 tanh (float)");
  Deep loaded(9);
  vae::Adam<float> opt2;
  vae::io::load_checkpoint(path.string(), loaded, &opt2);
  CHECK(loaded.parameters_host() == model.parameters_host());

  vae::MlpVae<vae::Layers<64, 24, 16, 8, 3>, vae::Elu> elu(1);
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(path.string(), elu),
                       doctest::Contains("holds a VAE 64-24-16-8-3 tanh (float), the model is a VAE 64-24-16-8-3 elu (float)"),
                       vae::ShapeError);
  vae::MlpVae<vae::Layers<64, 24, 3>, vae::Tanh> shallow(1);
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(path.string(), shallow), doctest::Contains("the model is a VAE 64-24-3 tanh"),
                       vae::ShapeError);
  using Lopsided = vae::VariationalAutoencoderOf<vae::VariationalEncoderOf<vae::Layers<64, 24, 16, 8, 3>, vae::Tanh>,
                                                 vae::DecoderOf<vae::Layers<3, 32, 64>, vae::Relu>>;
  Lopsided lopsided(1);
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(path.string(), lopsided),
                       doctest::Contains("the model is a VAE encoder 64-24-16-8-3 tanh, decoder 3-32-64 relu (float)"),
                       vae::ShapeError);
}

TEST_CASE("a version-1 checkpoint (the first release's format) still loads") {
  // Version 1: 56-byte header with input, hidden and latent sizes, then the
  // objective, the parameters and the CRC; written here field by field.
  Vae model(6, {vae::Reconstruction::SquaredError, vae::KlForm::Blog, 1.0f});
  const Eigen::VectorXf params = model.parameters_host();
  std::vector<unsigned char> file;
  const auto put = [&](const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    file.insert(file.end(), b, b + n);
  };
  const std::uint32_t version = 1, kind = 2, scalar = 4, flags = 0, rec = 0, kl = 1;
  const std::uint64_t sizes[3] = {64, 32, 3};
  const std::uint64_t payload = 16 + 4 * std::uint64_t(params.size());
  const double beta = 1.0;
  put("VAECKPT", 8);
  for (const auto v : {version, kind, scalar, flags}) put(&v, 4);
  put(sizes, 24);
  put(&payload, 8);
  put(&rec, 4);
  put(&kl, 4);
  put(&beta, 8);
  put(params.data(), 4 * std::size_t(params.size()));
  const std::uint32_t crc = vae::detail::crc32_of(file.data(), file.size());
  put(&crc, 4);
  const fs::path path = temp_dir() / "v1.ckpt";
  write_bytes(path, file);
  Vae loaded(1);
  const auto info = vae::io::load_checkpoint(path.string(), loaded);
  CHECK(info.version == 1);
  CHECK(info.shape() == "VAE 64-32-3 relu (float)");
  CHECK(loaded.parameters_host() == params);
  CHECK(loaded.objective().kl == vae::KlForm::Blog);
}

TEST_CASE("CRC-32 is the standard one") {
  const unsigned char check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  CHECK(vae::detail::crc32_of(check, 9) == 0xCBF43926u);
}
