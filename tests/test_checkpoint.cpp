// Checkpoints: exact round trips (model, optimizer, position), errors that
// name both shapes, truncated and corrupted files, every field checked
// against its domain behind a valid CRC with nothing changed by a refused
// load, reads bounded by the declared size, a file opened once (a FIFO),
// names from the file escaped in messages, and the atomic writer: a writer
// killed mid-write never destroys the previous checkpoint, the temporary
// files crashed writers leave are removed by the next write (never a live
// writer's), the folder is flushed after the rename, the umask is honoured,
// and a write() of 0 bytes is reported as such.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>
#include <tuple>
#include <utility>

#include <vae/io/checkpoint.hpp>
#include <vae/vae.hpp>

#include "checkpoint_fields.hpp"
#include "temp_dir.hpp"
#include "wrapped_stack.hpp"

namespace fs = std::filesystem;

// fsync and write, interposed: this program's definitions come before libc's,
// so the calls AtomicFile makes land here first and are passed on to libc.
// fsync records every folder it flushes, and whether the watched target file
// existed at that moment (it does only after the rename); write returns 0
// without setting errno, for the temporary file, while zero_writes is set.
namespace {

std::string fd_path(int fd) {
  char link[4096];
  const ssize_t n = ::readlink(("/proc/self/fd/" + std::to_string(fd)).c_str(), link, sizeof link - 1);
  return n > 0 ? std::string(link, std::size_t(n)) : std::string();
}

template <class Fn>
Fn libc_function(const char* name) {
  void* f = ::dlsym(RTLD_NEXT, name);
  Fn fn;
  std::memcpy(&fn, &f, sizeof fn);
  return fn;
}

struct SyscallLog {
  std::mutex mutex;
  std::string watched;                                 // a target path
  std::vector<std::pair<std::string, bool>> folders;  // folder flushed, watched file there then
};
SyscallLog& syscall_log() {
  static SyscallLog log;
  return log;
}
std::atomic<bool> zero_writes{false};

}  // namespace

extern "C" int fsync(int fd) {
  static const auto real = libc_function<int (*)(int)>("fsync");
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    SyscallLog& log = syscall_log();
    std::lock_guard<std::mutex> lock(log.mutex);
    log.folders.emplace_back(fd_path(fd), !log.watched.empty() && ::access(log.watched.c_str(), F_OK) == 0);
  }
  return real(fd);
}

extern "C" ssize_t write(int fd, const void* data, std::size_t n) {
  static const auto real = libc_function<ssize_t (*)(int, const void*, std::size_t)>("write");
  if (zero_writes && fd_path(fd).find(".tmp-") != std::string::npos) {
    errno = ENOENT;  // what a stale errno would say
    return 0;
  }
  return real(fd, data, n);
}

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
  // Header 32, architecture 2 x (4 + 3 x 8) + 2 x (4 + 4), layers 259,
  // objective 16, parameters, optimizer 48 + two moments, position 16, CRC 4.
  // The layers: encoder and decoder each a count (4), a hidden layer (kind
  // 4 + 5, shapes 2 x (4 + 8), "relu" 4 + 4, settings 4) and a last one
  // ("identity" 4 + 8); the latent stage ("gaussian" 4 + 8, shapes 24,
  // "identity" 12, settings 4); the output ("sigmoid" 4 + 7).
  CHECK(fs::file_size(path) ==
        32 + 56 + 16 + 259 + 16 + 4 * Vae::parameter_count + 48 + 8 * Vae::parameter_count + 16 + 4);

  Vae loaded(99);
  vae::Adam<float> opt2;
  vae::io::TrainingPosition pos2;
  const auto info = vae::io::load_checkpoint(path.string(), loaded, &opt2, &pos2);
  CHECK(info.shape() == "VAE 64-32-3 relu (float)");
  CHECK(info.version == 3);
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

TEST_CASE("the training data's statistics travel with the model: names, means, scales, standardisation") {
  const fs::path dir = temp_dir(), path = dir / "data.ckpt", plain = dir / "plain.ckpt", bad = dir / "data_bad.ckpt";
  vae::Adam<float> opt;
  const Vae model = trained(opt, 31);
  Eigen::MatrixXd x = Eigen::MatrixXd::Random(64, 40) * 3.0;
  x.row(5).setConstant(2.5);  // a constant feature: centred, scale 1
  std::vector<std::string> names;
  for (int i = 0; i < 64; ++i) names.push_back("feature \"" + std::to_string(i) + "\", mm");
  const vae::DataStatistics stats = vae::statistics_of(x, names, true, 0.25);
  CHECK(stats.scale[5] == 1.0);
  const vae::io::TrainingPosition pos{4, 77};
  vae::io::save_checkpoint(path.string(), model, &opt, &pos, &stats);
  vae::io::save_checkpoint(plain.string(), model, &opt, &pos);

  const std::vector<unsigned char> bytes = read_bytes(path);
  CHECK(vae::test::get_field<std::uint32_t>(bytes, "contents flags") == 11u);
  CHECK(vae::test::get_field<std::uint32_t>(bytes, "data.features") == 64u);
  CHECK(vae::io::read_checkpoint_info(path.string()).has_data);
  CHECK_FALSE(vae::io::read_checkpoint_info(plain.string()).has_data);

  vae::DataStatistics back;
  vae::io::TrainingPosition pos2;
  auto loaded = vae::io::load_checkpoint_model<vae::DynamicVae<float>>(path.string(), nullptr, &pos2, {}, &back);
  CHECK(back == stats);
  CHECK(pos2.next_epoch == 4);
  CHECK(loaded.parameters_host() == model.parameters_host());
  // Without asking for them, the statistics are skipped.
  Vae into(1);
  vae::io::load_checkpoint(path.string(), into);
  CHECK(into.parameters_host() == model.parameters_host());
  // Asked of a file without them: refused, nothing changed.
  vae::DataStatistics none;
  Vae other(2);
  const Eigen::VectorXf before = other.parameters_host();
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(plain.string(), other, nullptr, nullptr, &none),
                       doctest::Contains("holds no data statistics"), vae::FormatError);
  CHECK(other.parameters_host() == before);

  // Applied and undone: to_model standardises, from_model gives the data back.
  const Eigen::MatrixXd z = vae::to_model<double>(back, x);
  CHECK(std::abs(z.row(3).mean()) < 1e-12);
  CHECK(std::abs((z.row(3).array().square().mean()) - 16.0) < 1e-12);  // a standard deviation of 1 / sigma
  CHECK(z.row(5).isZero(0));
  CHECK((vae::from_model(back, z) - x).cwiseAbs().maxCoeff() < 1e-12);
  CHECK(back.log_scale_sum() == doctest::Approx([&] {
          double s = 0;
          for (const double v : back.scale) s += std::log(v * 0.25);
          return s;
        }()));
  CHECK_THROWS_AS(vae::to_model<float>(back, Eigen::MatrixXd::Zero(63, 2)), vae::ShapeError);

  // Every field checked behind a valid CRC.
  const auto fields = vae::test::checkpoint_fields(bytes);
  const auto corrupt = [&](const std::string& field, std::size_t element, const auto value, const char* message) {
    std::vector<unsigned char> b = bytes;
    const auto& f = vae::test::field_named(fields, field);
    std::memcpy(b.data() + f.offset + element * f.width(), &value, sizeof value);
    vae::test::fix_crc(b);
    write_bytes(bad, b);
    vae::DataStatistics d;
    CAPTURE(field);
    CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(bad.string(), into, nullptr, nullptr, &d), doctest::Contains(message),
                         vae::FormatError);
  };
  corrupt("data.features", 0, std::uint32_t(63), "field 'data.features' is 63, expected 64");
  corrupt("data.standardize", 0, std::uint8_t(2), "field 'data.standardize' is 2, expected 0 or 1");
  corrupt("data.scale", 7, 0.0, "field 'data.scale' is 0, expected finite values > 0");
  corrupt("data.sigma", 0, -1.0, "field 'data.sigma' is -1, expected a finite value > 0");
  corrupt("data.mean", 2, std::numeric_limits<double>::infinity(), "field 'data.mean'");
  corrupt("data.columns[3].length", 0, std::uint32_t(0), "expected 1 to 4096");
  {
    std::vector<unsigned char> b = bytes;  // a byte too many, inside the payload
    b.insert(b.end() - 4, 0);
    const std::uint64_t payload = vae::test::get_field<std::uint64_t>(bytes, "payload size") + 1;
    std::memcpy(b.data() + 24, &payload, 8);
    vae::test::fix_crc(b);
    write_bytes(bad, b);
    CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(bad.string(), into), doctest::Contains("1 bytes follow the last field"),
                         vae::FormatError);
  }
  // Statistics that do not fit the model are not written.
  vae::DataStatistics short_stats = vae::statistics_of(x.topRows(10), {}, true);
  CHECK_THROWS_WITH_AS(vae::io::save_checkpoint(bad.string(), model, &opt, &pos, &short_stats),
                       doctest::Contains("the model (64)"), vae::ValueError);
}

TEST_CASE("a model whose decoder outputs a scale per feature is rebuilt from its checkpoint with its loss") {
  const fs::path path = temp_dir() / "hetero.ckpt";
  const vae::Objective<float> objective{vae::Reconstruction::HeteroscedasticGaussian};
  auto model = vae::make_mlp_vae<float>({10, 8, 2}, vae::ActivationKind::Tanh, 4, objective);
  vae::io::save_checkpoint(path.string(), model);
  const auto loaded = vae::io::load_checkpoint_model<vae::DynamicVae<float>>(path.string());
  CHECK(loaded.objective().reconstruction == vae::Reconstruction::HeteroscedasticGaussian);
  CHECK(loaded.architecture() == model.architecture());
  CHECK(loaded.parameters_host() == model.parameters_host());
  CHECK(vae::test::get_field<std::uint32_t>(read_bytes(path), "objective.reconstruction") == 4u);
  // Into a model with one output per feature: both shapes named, nothing changed.
  auto unit = vae::make_mlp_vae<float>({10, 8, 2}, vae::ActivationKind::Tanh, 4);
  const Eigen::VectorXf before = unit.parameters_host();
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(path.string(), unit), doctest::Contains("VAE 10-8-2 tanh"),
                       vae::ShapeError);
  CHECK(unit.parameters_host() == before);
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

TEST_CASE("format 3 records every layer; a version-2 file (sizes and names only) still loads") {
  const fs::path dir = temp_dir(), path = dir / "v3.ckpt", v2 = dir / "v2.ckpt";
  vae::Adam<float> opt;
  const Vae model = trained(opt, 21);
  vae::io::save_checkpoint(path.string(), model, &opt);
  const auto info = vae::io::read_checkpoint_info(path.string());
  CHECK(info.version == 3);
  const vae::Architecture& a = info.architecture;
  REQUIRE(a.encoder_layers.size() == 2);
  CHECK(a.encoder_layers[0].describe() == "dense 64->32 relu");
  CHECK(a.encoder_layers[1].describe() == "dense 32->6 identity");
  CHECK(a.latent.describe() == "gaussian 6->3 identity");
  REQUIRE(a.decoder_layers.size() == 2);
  CHECK(a.decoder_layers[1].describe() == "dense 32->64 identity");
  CHECK(a.output == "sigmoid");
  CHECK(a == Vae::architecture());

  // The same file as format 2 wrote it: no layers, version 2.
  std::vector<unsigned char> b = read_bytes(path);
  const auto fields = vae::test::checkpoint_fields(b);
  const std::size_t from = vae::test::field_named(fields, "encoder layers count").offset,
                    to = vae::test::field_named(fields, "objective.reconstruction").offset;
  b.erase(b.begin() + std::ptrdiff_t(from), b.begin() + std::ptrdiff_t(to));
  const std::uint32_t version = 2;
  const std::uint64_t payload = b.size() - 36;
  std::memcpy(b.data() + 8, &version, 4);
  std::memcpy(b.data() + 24, &payload, 8);
  vae::test::fix_crc(b);
  write_bytes(v2, b);
  Vae loaded(3);
  vae::Adam<float> opt2;
  const auto old = vae::io::load_checkpoint(v2.string(), loaded, &opt2);
  CHECK(old.version == 2);
  CHECK(old.architecture == a);  // its layers are the dense ones its sizes say
  CHECK(loaded.parameters_host() == model.parameters_host());
  CHECK(vae::io::load_checkpoint_model<vae::DynamicVae<float>>(v2.string()).parameters_host() == model.parameters_host());
}

TEST_CASE("a layer kind or output the library does not build is refused naming what the file holds") {
  const fs::path dir = temp_dir(), good = dir / "kinds.ckpt", bad = dir / "kinds_bad.ckpt";
  auto dynamic = vae::make_mlp_vae<float>({64, 32, 3}, vae::ActivationKind::Relu, 4);
  vae::io::save_checkpoint(good.string(), dynamic);
  const std::vector<unsigned char> bytes = read_bytes(good);

  std::vector<unsigned char> b = bytes;
  const auto kind = vae::test::field_named(vae::test::checkpoint_fields(b), "decoder layers[0].kind");
  std::memcpy(b.data() + kind.offset, "conv2", 5);  // "dense" -> "conv2"
  vae::test::fix_crc(b);
  write_bytes(bad, b);
  CHECK(vae::io::read_checkpoint_info(bad.string()).shape() ==
        "VAE encoder [dense 64->32 relu, dense 32->6 identity], gaussian latent 3, decoder [conv2 3->32 relu, "
        "dense 32->64 identity], sigmoid output (float)");
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint_model<vae::DynamicVae<float>>(bad.string()),
                       doctest::Contains("with a layer of kind 'conv2'; this model's networks are dense"),
                       vae::FormatError);
  Vae fixed(1);
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(bad.string(), fixed),
                       doctest::Contains("decoder [conv2 3->32 relu, dense 32->64 identity], sigmoid output (float), "
                                         "the model is a VAE 64-32-3 relu (float)"),
                       vae::ShapeError);

  b = bytes;
  const auto output = vae::test::field_named(vae::test::checkpoint_fields(b), "output");
  std::memcpy(b.data() + output.offset, "\x1b[2J", 4);  // "sigmoid" -> "\x1b[2Joid": escaped in messages
  vae::test::fix_crc(b);
  write_bytes(bad, b);
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint_model<vae::DynamicVae<float>>(bad.string()),
                       doctest::Contains("whose output is '\\x1b[2Joid'; vae builds sigmoid outputs"), vae::FormatError);
}

namespace {

/// A stack vae cannot look into (it wraps vae's own dense encoder and hides
/// its sizes), describing its layers or not.
template <class Inner, bool Describes>
struct Wrapped : vae::test::WrappedStack<Inner> {
  template <bool D = Describes, std::enable_if_t<D, int> = 0>
  static std::vector<vae::LayerSpec> layer_specs() {
    return vae::detail::dense_layers({std::uint64_t(Inner::input_size), 8, std::uint64_t(Inner::latent_size)},
                                     Inner::Activation::name, 1);
  }
};

template <bool Describes>
using ReluStack = Wrapped<vae::EncoderOf<vae::Layers<16, 8, 2>, vae::Relu>, Describes>;
template <bool Describes>
using TanhStack = Wrapped<vae::EncoderOf<vae::Layers<16, 8, 2>, vae::Tanh>, Describes>;
using Dec = vae::Decoder<2, 8, 16>;

}  // namespace

TEST_CASE("custom stacks that describe their layers are told apart; ones that do not are 'custom'") {
  const fs::path path = temp_dir() / "custom.ckpt";
  // Two stacks with the same ends and parameter count, another activation.
  const vae::AutoencoderOf<ReluStack<true>, Dec> relu(1);
  vae::AutoencoderOf<TanhStack<true>, Dec> tanh(2);
  vae::io::save_checkpoint(path.string(), relu);
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(path.string(), tanh),
                       doctest::Contains("the checkpoint holds an autoencoder encoder [dense 16->8 relu, dense 8->2 "
                                         "identity], deterministic latent 2, decoder [dense 2->8 relu, dense 8->16 "
                                         "identity], sigmoid output (float), the model is an autoencoder encoder "
                                         "[dense 16->8 tanh"),
                       vae::ShapeError);
  // Without layer_specs both are one custom layer 16->2: vae cannot tell them apart.
  const vae::AutoencoderOf<ReluStack<false>, Dec> opaque_relu(1);
  vae::AutoencoderOf<TanhStack<false>, Dec> opaque_tanh(2);
  CHECK(opaque_relu.architecture().encoder_layers.size() == 1);
  CHECK(opaque_relu.architecture().encoder_layers[0].describe() == "custom 16->2 custom");
  vae::io::save_checkpoint(path.string(), opaque_relu);
  vae::io::load_checkpoint(path.string(), opaque_tanh);
  CHECK(opaque_tanh.parameters_host() == opaque_relu.parameters_host());
}

TEST_CASE("CRC-32 is the standard one") {
  const unsigned char check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  CHECK(vae::detail::crc32_of(check, 9) == 0xCBF43926u);
}

namespace {

using Bytes = std::vector<unsigned char>;

using LoadTarget = vae::test::LoadState;

/// One edit of a valid checkpoint and the text its refusal must contain.
struct FieldEdit {
  std::string what;
  std::function<void(Bytes&)> edit;
  std::string expected;
};

template <class T>
FieldEdit set_to(const std::string& field, T value, const std::string& expected, std::size_t index = 0) {
  return {field + " = " + std::to_string(value) + " [" + std::to_string(index) + "]",
          [=](Bytes& b) { vae::test::set_field<T>(b, field, value, index); }, expected};
}

}  // namespace

TEST_CASE("every field is checked behind a valid CRC, and a refused load changes nothing") {
  const fs::path dir = temp_dir(), good = dir / "fields.ckpt", bad = dir / "fields_bad.ckpt";
  vae::Adam<float> saved_opt({2e-3, 0.8, 0.99, 1e-7, 0.01});
  const Vae saved = trained(saved_opt, 11);
  const vae::io::TrainingPosition saved_pos{4, 99};
  vae::io::save_checkpoint(good.string(), saved, &saved_opt, &saved_pos);
  const Bytes bytes = read_bytes(good);
  const auto fields = vae::test::checkpoint_fields(bytes);
  CHECK(fields.size() == 83);  // 29 of format 2, 54 of the layers
  CHECK(vae::test::field_named(fields, "parameters").count == std::size_t(Vae::parameter_count));

  // The load's target differs from the file in every respect.
  vae::AdamOptions target_options{5e-4, 0.5, 0.9, 1e-6, 0.0, 2.5};
  vae::Adam<float> opt(target_options);
  Vae model = trained(opt, 12);
  model.set_objective({vae::Reconstruction::SquaredError, vae::KlForm::Blog, 2.0f});
  vae::io::TrainingPosition pos{9, 5};
  const LoadTarget before(model, opt, pos);

  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const float nanf = std::numeric_limits<float>::quiet_NaN(), inff = std::numeric_limits<float>::infinity();
  using U32 = std::uint32_t;
  using U64 = std::uint64_t;
  using I64 = std::int64_t;
  const std::vector<FieldEdit> edits = {
      set_to<U32>("format version", 4, "format version is 4, this library reads versions 1 to 3"),
      set_to<U32>("encoder layers count", 0, "field 'encoder layers count' is 0, expected 1 to 1024"),
      set_to<U32>("decoder layers count", 3, "field 'decoder layers[2]."),  // the count now claims more
      set_to<U32>("encoder layers[0].input.rank", 5, "field 'encoder layers[0].input' has 5 dimensions, expected 1 to 4"),
      set_to<U64>("decoder layers[1].output", 0, "field 'decoder layers[1].output' holds a dimension of 0"),
      set_to<U32>("latent.settings.count", 100, "field 'latent.settings' holds 100 values, expected at most 64"),
      set_to<U32>("output.length", 0, "field 'output' is 0 bytes long, expected 1 to 256"),
      // The sizes say 64-32-3: a dense layer that says otherwise contradicts them.
      set_to<U64>("encoder layers[0].output", 31, "the layers (VAE encoder [dense 64->31 relu, dense 32->6 identity], "
                  "gaussian latent 3, decoder [dense 3->32 relu, dense 32->64 identity], sigmoid output (float)) "
                  "contradict the sizes and activations (VAE 64-32-3 relu (float))"),
      set_to<U64>("latent.output", 4, "contradict the sizes"),
      set_to<U32>("model kind", 4, "model kind is 4, expected 1, 2 or 3"),
      set_to<U32>("scalar size", 2, "scalar size is 2, expected 4 or 8"),
      set_to<U32>("contents flags", 16, "contents flags are 16, expected a combination of 1, 2, 4 and 8"),
      set_to<U32>("contents flags", 0x80000003u, "contents flags are 2147483651"),
      set_to<U64>("payload size", bytes.size() - 36 + 8, "payload size field says"),
      set_to<U32>("encoder sizes.count", 1, "field 'encoder sizes' lists 1 layer sizes, expected 2 to 1024"),
      set_to<U32>("decoder sizes.count", 5000, "field 'decoder sizes' lists 5000 layer sizes, expected 2 to 1024"),
      set_to<U64>("encoder sizes", 0, "field 'encoder sizes' holds a layer size of 0, expected 1 to 2^32", 1),
      set_to<U64>("decoder sizes", U64(1) << 33, "field 'decoder sizes' holds a layer size of 8589934592", 0),
      set_to<U32>("encoder activation.length", 0, "field 'encoder activation' is 0 bytes long, expected 1 to 256"),
      set_to<U32>("decoder activation.length", 100000, "field 'decoder activation' is 100000 bytes long"),
      set_to<U32>("objective.reconstruction", 7, "field 'objective.reconstruction' is 7, expected a known"),
      set_to<U32>("objective.kl", 0xFFFFFFFFu, "field 'objective.kl' is 4294967295, expected a known KL form"),
      set_to<double>("objective.beta", nan, "field 'objective.beta' is nan, expected a finite value >= 0"),
      set_to<double>("objective.beta", -1.0, "field 'objective.beta' is -1,"),
      set_to<double>("objective.beta", inf, "field 'objective.beta' is inf"),
      set_to<double>("objective.beta", 1e39,  // finite as a double, inf as the model's float
                     "field 'objective.beta' is 1e+39, expected a finite value >= 0 within the model's scalar type"),
      set_to<float>("parameters", nanf, "field 'parameters' holds nan at index 5, expected finite values", 5),
      set_to<float>("parameters", -inff, "field 'parameters' holds -inf at index 0", 0),
      set_to<double>("optimizer.lr", nan, "field 'optimizer.lr' is nan, expected a value in [1.17549435e-38, 3.40282347e+38]"),
      set_to<double>("optimizer.lr", -1e-3, "field 'optimizer.lr' is -0.001,"),
      set_to<double>("optimizer.lr", 0.0, "field 'optimizer.lr' is 0,"),
      set_to<double>("optimizer.lr", inf, "field 'optimizer.lr' is inf"),
      set_to<double>("optimizer.beta1", 1.0, "field 'optimizer.beta1' is 1, expected a value in [0, 1)"),
      set_to<double>("optimizer.beta1", -0.1, "field 'optimizer.beta1' is -0.1,"),
      set_to<double>("optimizer.beta1", nan, "field 'optimizer.beta1' is nan"),
      set_to<double>("optimizer.beta2", 1.5, "field 'optimizer.beta2' is 1.5, expected a value in [0, 1)"),
      set_to<double>("optimizer.beta2", nan, "field 'optimizer.beta2' is nan"),
      set_to<double>("optimizer.eps", 0.0, "field 'optimizer.eps' is 0, expected a value in [1.17549435e-38, 3.40282347e+38]"),
      set_to<double>("optimizer.eps", -1e-8, "field 'optimizer.eps' is -1e-08,"),
      set_to<double>("optimizer.eps", nan, "field 'optimizer.eps' is nan"),
      set_to<double>("optimizer.weight_decay", -0.1, "field 'optimizer.weight_decay' is -0.1, expected a finite value >= 0 within the model's scalar type"),
      set_to<double>("optimizer.weight_decay", inf, "field 'optimizer.weight_decay' is inf"),
      set_to<I64>("optimizer.steps", -1, "field 'optimizer.steps' is -1, expected a count >= 0"),
      set_to<float>("optimizer.first_moment", inff, "field 'optimizer.first_moment' holds inf at index 3", 3),
      set_to<float>("optimizer.second_moment", -1e-3f,
                    "field 'optimizer.second_moment' holds -0.00100000005 at index 7, expected finite values >= 0", 7),
      set_to<float>("optimizer.second_moment", nanf, "field 'optimizer.second_moment' holds nan at index 0", 0),
      set_to<I64>("position.next_epoch", -1, "field 'position.next_epoch' is -1, expected an epoch in [0, 2^31 - 1]"),
      set_to<I64>("position.next_epoch", I64(1) << 40, "field 'position.next_epoch' is 1099511627776,"),
      // 2^31 would wrap to -2^31 as the trainer's int epoch.
      set_to<I64>("position.next_epoch", I64(1) << 31, "field 'position.next_epoch' is 2147483648, expected an epoch"),
      // Settings stored as doubles are used as floats: each must stay finite and > 0 there.
      set_to<double>("optimizer.lr", 1e300, "field 'optimizer.lr' is 1e+300, expected a value in [1.17549435e-38, "
                     "3.40282347e+38] (the model's scalar type)"),
      set_to<double>("optimizer.lr", 1e39, "field 'optimizer.lr' is 1e+39,"),
      set_to<double>("optimizer.eps", 1e-300, "field 'optimizer.eps' is 1e-300, expected a value in [1.17549435e-38"),
      set_to<double>("optimizer.weight_decay", 1e300, "field 'optimizer.weight_decay' is 1e+300, expected a finite "
                     "value >= 0 within the model's scalar type"),
  };
  for (const FieldEdit& e : edits) {
    CAPTURE(e.what);
    Bytes b = bytes;
    e.edit(b);
    write_bytes(bad, b);
    std::string message;
    bool format_error = false;
    try {
      vae::io::load_checkpoint(bad.string(), model, &opt, &pos);
    } catch (const vae::FormatError& error) {
      format_error = true;
      message = error.what();
    } catch (const std::exception& error) {
      message = error.what();
    }
    CAPTURE(message);
    CHECK(format_error);
    CHECK(message.rfind(bad.string() + ": ", 0) == 0);
    CHECK(message.find(e.expected) != std::string::npos);
    CHECK(LoadTarget(model, opt, pos) == before);
  }

  // Values inside every domain load, and all of them are applied.
  Bytes b = bytes;
  vae::test::set_field<double>(b, "optimizer.lr", 0.25);
  vae::test::set_field<double>(b, "optimizer.beta2", 0.0);
  vae::test::set_field<std::int64_t>(b, "optimizer.steps", 0);
  vae::test::set_field<std::int64_t>(b, "position.next_epoch", (std::int64_t(1) << 31) - 1);
  vae::test::set_field<float>(b, "optimizer.second_moment", 0.0f, 7);
  write_bytes(bad, b);
  vae::io::load_checkpoint(bad.string(), model, &opt, &pos);
  CHECK(opt.options().lr == 0.25);
  CHECK(opt.options().beta1 == saved_opt.options().beta1);
  CHECK(opt.options().beta2 == 0.0);
  CHECK(opt.options().max_grad_norm == 2.5);  // not in the file: the caller's setting stays
  CHECK(opt.steps() == 0);
  CHECK(opt.second_moment().data[7] == 0.0f);
  CHECK(pos.next_epoch == (std::int64_t(1) << 31) - 1);
  CHECK(pos.seed == 99);
  CHECK(model.parameters_host() == saved.parameters_host());
  CHECK(model.objective().reconstruction == vae::Reconstruction::BinaryCrossEntropy);
}

TEST_CASE("an importance-weighted objective is stored with its k; an ELBO checkpoint has no bound field") {
  const fs::path dir = temp_dir(), iwae = dir / "iwae.ckpt", elbo = dir / "elbo.ckpt", bad = dir / "iwae_bad.ckpt";
  vae::Adam<float> opt;
  Vae model = trained(opt, 21);
  vae::io::save_checkpoint(elbo.string(), model, &opt);
  const auto elbo_fields = vae::test::checkpoint_fields(read_bytes(elbo));
  CHECK_THROWS(vae::test::field_named(elbo_fields, "objective.bound"));
  CHECK(vae::test::get_field<std::uint32_t>(read_bytes(elbo), "contents flags") == 1u);

  vae::Objective<float> objective = model.objective();
  objective.bound = vae::Bound::ImportanceWeighted;
  objective.samples = 5;
  model.set_objective(objective);
  vae::io::save_checkpoint(iwae.string(), model, &opt);
  const Bytes bytes = read_bytes(iwae);
  CHECK(vae::test::get_field<std::uint32_t>(bytes, "contents flags") == 5u);
  CHECK(vae::test::get_field<std::uint32_t>(bytes, "objective.bound") == 1u);
  CHECK(vae::test::get_field<std::uint64_t>(bytes, "objective.samples") == 5u);

  // Loaded into a model on the ELBO: the bound and k come back.
  vae::Adam<float> opt2;
  Vae loaded(3);
  vae::io::load_checkpoint(iwae.string(), loaded, &opt2);
  CHECK(loaded.objective().bound == vae::Bound::ImportanceWeighted);
  CHECK(loaded.objective().samples == 5);
  CHECK(loaded.parameters_host() == model.parameters_host());

  // Out-of-domain values are refused by name, and change nothing.
  Vae target(4);
  const Eigen::VectorXf before = target.parameters_host();
  // (No structured bindings: CAPTURE's lambda cannot name them before C++20.)
  for (const auto& row :
       {std::tuple<const char*, std::uint64_t, const char*>{"objective.bound", 0, "field 'objective.bound' is 0,"},
        {"objective.bound", 2, "field 'objective.bound' is 2, expected 1"},
        {"objective.samples", 0, "field 'objective.samples' is 0, expected a count in [1, 5000]"},
        // One limit with vae_mnist's --k; 100000 used to end in std::bad_alloc.
        {"objective.samples", 100000, "field 'objective.samples' is 100000, expected a count in [1, 5000]"},
        {"objective.samples", 5001, "field 'objective.samples' is 5001,"},
        {"objective.samples", ~std::uint64_t(0), "field 'objective.samples' is 18446744073709551615,"}}) {
    const char* field = std::get<0>(row);
    const std::uint64_t value = std::get<1>(row);
    const char* expected = std::get<2>(row);
    CAPTURE(field);
    CAPTURE(value);
    Bytes b = bytes;
    if (std::string(field) == "objective.bound") {
      vae::test::set_field<std::uint32_t>(b, field, std::uint32_t(value));
    } else {
      vae::test::set_field<std::uint64_t>(b, field, value);
    }
    write_bytes(bad, b);
    CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(bad.string(), target), doctest::Contains(expected), vae::FormatError);
    CHECK(target.parameters_host() == before);
    CHECK(target.objective().bound == vae::Bound::Elbo);
  }
}

TEST_CASE("k has one limit: a checkpoint at it loads, and a larger one is neither written nor read") {
  const fs::path dir = temp_dir(), path = dir / "k_limit.ckpt";
  Vae model(5);
  vae::Objective<float> objective = model.objective();
  objective.bound = vae::Bound::ImportanceWeighted;
  objective.samples = vae::Index(vae::io::kMaxBoundSamples);
  model.set_objective(objective);
  vae::io::save_checkpoint(path.string(), model);
  Vae loaded(6);
  vae::io::load_checkpoint(path.string(), loaded);
  CHECK(loaded.objective().samples == 5000);

  objective.samples = 5001;
  model.set_objective(objective);
  const Bytes kept = read_bytes(path);
  CHECK_THROWS_WITH_AS(vae::io::save_checkpoint(path.string(), model),
                       (path.string() + ": the objective's samples k is 5001, a checkpoint holds k in [1, 5000]").c_str(),
                       vae::ValueError);
  CHECK(read_bytes(path) == kept);
  const vae::io::TrainingPosition too_far{std::int64_t(1) << 31, 0};
  objective.samples = 5;
  model.set_objective(objective);
  CHECK_THROWS_WITH_AS(vae::io::save_checkpoint(path.string(), model, static_cast<vae::Adam<float>*>(nullptr), &too_far),
                       doctest::Contains("the training position's next epoch is 2147483648"), vae::ValueError);
}

TEST_CASE("a payload whose size does not fit the architecture is refused as such, before any field is read") {
  const fs::path dir = temp_dir(), good = dir / "sized.ckpt", bad = dir / "sized_bad.ckpt";
  vae::Adam<float> opt;
  const vae::io::TrainingPosition pos{2, 3};
  vae::io::save_checkpoint(good.string(), trained(opt, 7), &opt, &pos);
  const Bytes bytes = read_bytes(good);
  // One parameter fewer, the payload size and CRC made to agree: a valid
  // file whose sizes disagree with the parameter count of its architecture.
  Bytes b = bytes;
  const std::size_t at = vae::test::field_named(vae::test::checkpoint_fields(bytes), "parameters").offset;
  b.erase(b.begin() + std::ptrdiff_t(at), b.begin() + std::ptrdiff_t(at) + 4);
  std::uint64_t payload;
  std::memcpy(&payload, b.data() + 24, 8);
  payload -= 4;
  std::memcpy(b.data() + 24, &payload, 8);
  vae::test::fix_crc(b);
  write_bytes(bad, b);
  Vae model(1);
  const std::uint64_t want = 16 + 12 * std::uint64_t(Vae::parameter_count) + 48 + 16;
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(bad.string(), model),
                       (bad.string() + ": the payload holds " + std::to_string(want - 4) +
                        " bytes after the architecture, a VAE 64-32-3 relu (float) of " +
                        std::to_string(Vae::parameter_count) +
                        " parameters with optimizer state and a training position needs " + std::to_string(want))
                           .c_str(),
                       vae::FormatError);
}

TEST_CASE("names from a file reach messages with unprintable bytes escaped") {
  const fs::path dir = temp_dir(), good = dir / "names.ckpt", bad = dir / "names_bad.ckpt";
  vae::io::save_checkpoint(good.string(), Vae(2));
  // "relu" is 4 bytes: an escape sequence that clears the screen, and invalid UTF-8.
  for (const auto& [name, shown] : {std::pair<std::string, std::string>{"\x1b[2J", "\\x1b[2J"},
                                    {"\xff\xfe\xc3(", "\\xff\\xfe\\xc3("},
                                    {"r\xc3\xa9l", "r\xc3\xa9l"}}) {  // valid UTF-8 (U+00E9) stays as it is
    Bytes b = read_bytes(good);
    for (std::size_t i = 0; i < 4; ++i) {  // the name and the layer's (format 3): they must agree
      vae::test::set_field<char>(b, "encoder activation", name[i], i);
      vae::test::set_field<char>(b, "encoder layers[0].activation", name[i], i);
    }
    write_bytes(bad, b);
    Vae model(1);
    std::string message;
    try {
      vae::io::load_checkpoint(bad.string(), model);
    } catch (const vae::ShapeError& e) {
      message = e.what();
    }
    CAPTURE(message);
    const std::string held = "VAE encoder 64-32-3 " + shown + ", decoder 3-32-64 relu (float)";
    CHECK(message.find("the checkpoint holds a " + held + ", the model is") != std::string::npos);
    CHECK(vae::io::read_checkpoint_info(bad.string()).shape() == held);
  }
  CHECK(vae::io::detail::printable("a\\b\n\x7f\xc2\x85\xe2\x80\xae") == "a\\\\b\\x0a\\x7f\\xc2\\x85\\xe2\\x80\\xae");
  CHECK(vae::io::detail::printable("\xed\xa0\x80 \xf4\x90\x80\x80 \xe0\x80\x80") ==
        "\\xed\\xa0\\x80 \\xf4\\x90\\x80\\x80 \\xe0\\x80\\x80");  // a surrogate, > U+10FFFF, overlong
  CHECK(vae::io::detail::printable("\xf0\x9f\x98\x80 \xe2\x82\xac") == "\xf0\x9f\x98\x80 \xe2\x82\xac");
}

TEST_CASE("a checkpoint is opened once: read from a FIFO, then loaded from memory") {
  const fs::path dir = temp_dir(), good = dir / "once.ckpt", fifo = dir / "once.fifo";
  vae::Adam<float> opt;
  const Vae model = trained(opt, 8);
  const vae::io::TrainingPosition pos{3, 4};
  vae::io::save_checkpoint(good.string(), model, &opt, &pos);
  const Bytes bytes = read_bytes(good);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const pid_t writer = ::fork();
  REQUIRE(writer >= 0);
  if (writer == 0) {
    const int fd = ::open(fifo.c_str(), O_WRONLY);
    const bool ok = fd >= 0 && ::write(fd, bytes.data(), bytes.size()) == ssize_t(bytes.size());
    ::_exit(ok ? 0 : 1);
  }
  const vae::io::CheckpointFile file = vae::io::read_checkpoint_file(fifo.string());
  int status = 0;
  ::waitpid(writer, &status, 0);
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(file.info.shape() == "VAE 64-32-3 relu (float)");
  CHECK(file.bytes == bytes);
  Vae loaded(9);
  vae::Adam<float> opt2;
  vae::io::TrainingPosition pos2;
  vae::io::load_checkpoint(file, loaded, &opt2, &pos2);  // no second read of the FIFO, which would wait forever
  CHECK(loaded.parameters_host() == model.parameters_host());
  CHECK(opt2.steps() == 3);
  CHECK(pos2.next_epoch == 3);
}

TEST_CASE("a folder given as a checkpoint is named as such") {
  const fs::path dir = temp_dir();
  Vae model(1);
  CHECK_THROWS_WITH_AS(vae::io::load_checkpoint(dir.string(), model),
                       (dir.string() + ": is a folder, expected a checkpoint").c_str(), vae::IoError);
  CHECK_THROWS_WITH_AS(vae::io::read_checkpoint_info((dir / "missing.ckpt").string()),
                       ((dir / "missing.ckpt").string() +
                        ": cannot open the checkpoint for reading: No such file or directory").c_str(),
                       vae::IoError);
}

namespace {

/// Creates `path` with mtime `age_seconds` in the past.
void make_aged(const fs::path& path, long age_seconds) {
  write_bytes(path, Bytes(10, 'x'));
  const timespec times[2] = {{::time(nullptr) - age_seconds, 0}, {::time(nullptr) - age_seconds, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

}  // namespace

TEST_CASE("the next write of a target removes the temporary files crashed writers left, and only those") {
  const fs::path dir = temp_dir() / "stale";
  fs::create_directories(dir);
  const fs::path target = dir / "model.ckpt";
  const fs::path stale = dir / "model.ckpt.tmp-Ab12Cd", fresh = dir / "model.ckpt.tmp-Fresh1",
                 other = dir / "other.ckpt.tmp-Ab12Cd", odd = dir / "model.ckpt.tmp-Ab12Cd7",
                 link = dir / "model.ckpt.tmp-Link01";
  make_aged(stale, 3600);
  make_aged(fresh, 0);
  make_aged(other, 3600);
  make_aged(odd, 3600);
  fs::create_symlink(other, link);
  // A live writer, its file aged as if it had been writing for an hour: its lock keeps it.
  vae::io::AtomicFile live(target.string());
  live.write("live", 4);
  const timespec old[2] = {{::time(nullptr) - 3600, 0}, {::time(nullptr) - 3600, 0}};
  REQUIRE(::utimensat(AT_FDCWD, live.temp_path().c_str(), old, 0) == 0);

  vae::io::save_checkpoint(target.string(), Vae(1));
  CHECK_FALSE(fs::exists(stale));  // unlocked and an hour old: a crashed writer's
  CHECK(fs::exists(fresh));        // may be a writer between creating and locking it
  CHECK(fs::exists(other));        // another target's
  CHECK(fs::exists(odd));          // not a name AtomicFile gives
  CHECK(fs::is_symlink(link));     // not a regular file
  CHECK(fs::exists(live.temp_path()));
  live.commit();  // the live writer still finishes
  CHECK(read_bytes(target) == Bytes{'l', 'i', 'v', 'e'});

  // A writer killed mid-write leaves an unlocked file; once stale, the next write removes it.
  const pid_t writer = ::fork();
  REQUIRE(writer >= 0);
  if (writer == 0) {
    vae::io::AtomicFile f(target.string());
    f.write("half", 4);
    ::raise(SIGKILL);
  }
  ::waitpid(writer, nullptr, 0);
  std::vector<fs::path> left;
  for (const auto& e : fs::directory_iterator(dir))
    if (vae::io::detail::is_temp_name(e.path().filename().string(), "model.ckpt") && e.path() != fresh &&
        !fs::is_symlink(e.path()))
      left.push_back(e.path());
  REQUIRE(left.size() == 1);
  REQUIRE(::utimensat(AT_FDCWD, left[0].c_str(), old, 0) == 0);
  vae::io::write_text_file(target.string(), "next\n");
  CHECK_FALSE(fs::exists(left[0]));
}

namespace {

long status_kib(const char* key) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key)));
  return -1;
}

/// How far the peak resident memory rose above the current one while f ran
/// (KiB), or -1 where the kernel cannot reset the peak.
template <class F>
long peak_growth_kib(F&& f) {
  {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";  // resets VmHWM to the current VmRSS
    if (!clear.flush()) return -1;
  }
  const long before = status_kib("VmRSS:");
  f();
  return status_kib("VmHWM:") - before;
}

std::string load_error(const std::string& path) {
  Vae model(1);
  try {
    vae::io::load_checkpoint(path, model);
  } catch (const vae::FormatError& e) {
    return e.what();
  }
  return "no FormatError";
}

/// A child process that writes `header` and then `zeros` bytes of zeros into
/// the FIFO at `path` (or until the reader goes), then exits.
pid_t fifo_writer(const std::string& path, const Bytes& header, std::size_t zeros) {
  const std::vector<char> block(1 << 16, 0);
  const pid_t child = ::fork();
  if (child == 0) {
    const int fd = ::open(path.c_str(), O_WRONLY);
    if (fd < 0 || ::write(fd, header.data(), header.size()) != ssize_t(header.size())) ::_exit(1);
    for (std::size_t sent = 0; sent < zeros; sent += block.size())
      if (::write(fd, block.data(), std::min(block.size(), zeros - sent)) <= 0) ::_exit(0);  // the reader went
    ::_exit(0);
  }
  return child;
}

}  // namespace

TEST_CASE("reads are bounded by the declared size: /dev/zero, FIFOs and huge claims fail without reading them") {
  const fs::path dir = temp_dir();
  const std::string good = (dir / "bounded.ckpt").string();
  vae::io::save_checkpoint(good, Vae(3));
  const Bytes bytes = read_bytes(good);
  constexpr long kBoundKib = 16 * 1024;  // far below what reading the claims would take
  const auto header_claiming = [&](std::uint64_t payload) {
    Bytes h(bytes.begin(), bytes.begin() + 32);
    std::memcpy(h.data() + 24, &payload, 8);
    return h;
  };
  std::string message;

  long grew = peak_growth_kib([&] { message = load_error("/dev/zero"); });
  CHECK(message == "/dev/zero: magic is not \"VAECKPT\": not a vae checkpoint");
  if (grew >= 0) CHECK(grew < kBoundKib);

  // A regular file whose header claims 512 GiB: refused from the file's size.
  const std::string huge = (dir / "huge.ckpt").string();
  Bytes h = header_claiming(std::uint64_t(1) << 39);
  h.resize(h.size() + 100, 0);
  write_bytes(huge, h);
  grew = peak_growth_kib([&] { message = load_error(huge); });
  CHECK(message == huge + ": payload size field says 549755813888 bytes, the file holds 96 (truncated or padded)");
  if (grew >= 0) CHECK(grew < kBoundKib);

  // A FIFO claiming 512 GiB that delivers 1 MiB: read as it comes, then refused.
  const std::string fifo = (dir / "pipe.ckpt").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  pid_t writer = fifo_writer(fifo, header_claiming(std::uint64_t(1) << 39), std::size_t(1) << 20);
  grew = peak_growth_kib([&] { message = load_error(fifo); });
  ::waitpid(writer, nullptr, 0);
  CHECK(message == fifo + ": payload size field says 549755813888 bytes, the file holds 1048572 (truncated or padded)");
  if (grew >= 0) CHECK(grew < kBoundKib);

  // A FIFO claiming 1 MiB that would deliver 1 GiB: reading stops one byte
  // past the claim.
  writer = fifo_writer(fifo, header_claiming(std::uint64_t(1) << 20), std::size_t(1) << 30);
  grew = peak_growth_kib([&] { message = load_error(fifo); });
  ::kill(writer, SIGKILL);
  ::waitpid(writer, nullptr, 0);
  CHECK(message == fifo + ": payload size field says 1048576 bytes, the file holds more (truncated or padded)");
  if (grew >= 0) {
    CHECK(grew < kBoundKib);
  } else {
    MESSAGE("peak memory not checked: /proc/self/clear_refs cannot reset it here");
  }
}

TEST_CASE("a committed file's folder is flushed after the rename") {
  const fs::path dir = temp_dir() / "durable";
  fs::create_directories(dir);
  const fs::path target = dir / "model.ckpt";
  SyscallLog& log = syscall_log();
  {
    std::lock_guard<std::mutex> lock(log.mutex);
    log.watched = target.string();
    log.folders.clear();
  }
  vae::io::save_checkpoint(target.string(), Vae(4));
  std::lock_guard<std::mutex> lock(log.mutex);
  const std::pair<std::string, bool> flushed_after_rename{fs::canonical(dir).string(), true};
  CHECK(std::count(log.folders.begin(), log.folders.end(), flushed_after_rename) == 1);
  log.watched.clear();
}

TEST_CASE("new files get 0666 less the umask, like any file the process creates") {
  const fs::path dir = temp_dir() / "modes";
  fs::create_directories(dir);
  const mode_t original = ::umask(0);
  for (const mode_t mask : {mode_t(0), mode_t(022), mode_t(027), mode_t(077)}) {
    CAPTURE(mask);
    ::umask(mask);
    const fs::path path = dir / ("text_" + std::to_string(mask));
    vae::io::write_text_file(path.string(), "x\n");
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == (0666 & ~mask));
  }
  ::umask(original);
}

TEST_CASE("a write() of 0 bytes is reported as such, not with a stale errno") {
  const fs::path dir = temp_dir() / "zero";
  fs::create_directories(dir);
  const fs::path path = dir / "out.txt";
  std::string message;
  {
    vae::io::AtomicFile file(path.string());
    zero_writes = true;
    try {
      file.write("abc", 3);
    } catch (const vae::IoError& e) {
      message = e.what();
    }
    zero_writes = false;
  }
  CHECK(message == path.string() + ": cannot write: write() wrote 0 of 3 bytes (is the disk full?)");
  CHECK(fs::is_empty(dir));  // the temporary file is gone and the target was never created
}
