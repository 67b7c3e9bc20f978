// IDX reading: exact round trips of raw and gzipped files, every malformed
// case rejected with the file and the field named, byte-to-float conversion,
// and (when present) the real MNIST and Fashion-MNIST files.
// Needs: vae (Eigen), zlib (-lz), doctest.
// Environment: VAE_MNIST_DIR (e.g. data/mnist) enables the real-MNIST case;
// VAE_FASHION_MNIST_DIR overrides /usr/share/datasets/fashion-mnist.
#include <doctest/doctest.h>

#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include <vae/io/idx.hpp>

#include "temp_dir.hpp"

namespace test_idx {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

// doctest's matcher takes its own string type.
doctest::Contains has(const std::string& s) { return doctest::Contains(s.c_str()); }

fs::path temp_dir() { return vae::test::temp_dir("vae_idx"); }

void put_u32(Bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(std::uint8_t(v >> s));
}

Bytes images_file(std::uint32_t count, std::uint32_t rows, std::uint32_t cols, const Bytes& pixels,
                  std::uint32_t magic = 0x803) {
  Bytes b;
  put_u32(b, magic);
  put_u32(b, count);
  put_u32(b, rows);
  put_u32(b, cols);
  b.insert(b.end(), pixels.begin(), pixels.end());
  return b;
}

Bytes labels_file(std::uint32_t count, const Bytes& labels, std::uint32_t magic = 0x801) {
  Bytes b;
  put_u32(b, magic);
  put_u32(b, count);
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

std::string write_raw(const std::string& name, const Bytes& b) {
  const std::string path = (temp_dir() / name).string();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
  return path;
}

std::string write_gz(const std::string& name, const Bytes& b) {
  const std::string path = (temp_dir() / name).string();
  gzFile f = gzopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, b.data(), unsigned(b.size())) == int(b.size()));
  REQUIRE(gzclose(f) == Z_OK);
  return path;
}

// Three 2x4 images whose bytes are all different, and three labels (200 is
// kept as read: labels need not be digits).
const Bytes kPixels = [] {
  Bytes p(3 * 2 * 4);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = std::uint8_t(i * 11 + 3);
  return p;
}();
const Bytes kLabels = {0, 9, 200};

void check_small(const vae::io::Dataset& d) {
  CHECK(d.size() == 3);
  CHECK(d.rows == 2);
  CHECK(d.cols == 4);
  CHECK(d.features() == 8);
  CHECK(d.pixels == kPixels);
  CHECK(d.labels == kLabels);
  // Column i is image i; pixel (r, c) of image 1 is byte 8 + 4r + c.
  CHECK(int(d.matrix()(1 * 4 + 3, 1)) == int(kPixels[8 + 4 + 3]));
}

}  // namespace

TEST_CASE("raw and gzipped IDX files read back byte for byte") {
  const Bytes images = images_file(3, 2, 4, kPixels), labels = labels_file(3, kLabels);
  check_small(vae::io::load_dataset(write_raw("a-images", images), write_raw("a-labels", labels)));
  check_small(vae::io::load_dataset(write_gz("b-images.gz", images), write_gz("b-labels.gz", labels)));
  // A gzip file without a .gz suffix is recognised by its magic bytes.
  check_small(vae::io::load_dataset(write_gz("c-images", images), write_raw("c-labels", labels)));

  const vae::io::Dataset alone = vae::io::read_idx_images(write_raw("d-images", images));
  CHECK(alone.size() == 3);
  CHECK(alone.labels.empty());
}

TEST_CASE("load_mnist finds the standard names, raw or .gz") {
  const fs::path dir = temp_dir() / "mnist";
  fs::create_directories(dir);
  write_gz("mnist/train-images-idx3-ubyte.gz", images_file(3, 2, 4, kPixels));
  write_raw("mnist/train-labels-idx1-ubyte", labels_file(3, kLabels));
  check_small(vae::io::load_mnist(dir.string(), vae::io::Split::Train));
  CHECK_THROWS_WITH_AS(vae::io::load_mnist(dir.string(), vae::io::Split::Test),
                       has("t10k-images-idx3-ubyte: not found"), vae::IoError);
}

TEST_CASE("malformed files name the path and the field") {
  using vae::FormatError;
  using vae::io::read_idx_images;
  using vae::io::read_idx_labels;
  const Bytes one_image(8, 1);

  std::string p = write_raw("magic", images_file(1, 2, 4, one_image, 0x802));
  CHECK_THROWS_WITH_AS(read_idx_images(p), has(p + ": magic number is 0x00000802, expected 0x00000803 (idx3 images)"),
                       FormatError);
  p = write_raw("swapped", labels_file(3, kLabels));
  CHECK_THROWS_WITH_AS(read_idx_images(p), has("this looks like an idx1 labels file"), FormatError);
  p = write_raw("swapped2", images_file(1, 2, 4, one_image));
  CHECK_THROWS_WITH_AS(read_idx_labels(p), has(p + ": magic number is 0x00000803, expected 0x00000801"),
                       FormatError);

  p = write_raw("short-header", Bytes{0, 0, 8, 3, 0, 0});
  CHECK_THROWS_WITH_AS(read_idx_images(p), has(p + ": too short for an IDX header: 6 bytes, expected 16"),
                       FormatError);

  // 3 images of 2x4 need 24 bytes; 20 are there.
  const Bytes cut(kPixels.begin(), kPixels.end() - 4);
  for (const std::string& q : {write_raw("trunc", images_file(3, 2, 4, cut)), write_gz("trunc.gz", images_file(3, 2, 4, cut))})
    CHECK_THROWS_WITH_AS(read_idx_images(q),
                         has(q + ": truncated: the header promises 3 images of 2x4 pixels (24 bytes after "
                                               "the 16-byte header) but only 20 bytes are there"),
                         FormatError);
  p = write_raw("trunc-labels", labels_file(5, kLabels));
  CHECK_THROWS_WITH_AS(read_idx_labels(p), has(p + ": truncated: the header promises 5 labels (5 bytes after the 8-byte header) but only 3"),
                       FormatError);

  Bytes extra = images_file(3, 2, 4, kPixels);
  extra.insert(extra.end(), {1, 2, 3});
  for (const std::string& q : {write_raw("trailing", extra), write_gz("trailing.gz", extra)})
    CHECK_THROWS_WITH_AS(read_idx_images(q), has(q + ": 3 trailing bytes after 3 images of 2x4 pixels; expected the data to end at byte 40"),
                         FormatError);

  extra.resize(extra.size() + (std::size_t(3) << 20));  // 3 MiB of zeros inflate from a few KiB
  p = write_gz("bomb.gz", extra);
  CHECK_THROWS_WITH_AS(read_idx_images(p), has(p + ": more than 1048576 trailing bytes after 3 images"), FormatError);

  p = write_raw("zero-rows", images_file(1, 0, 4, {}));
  CHECK_THROWS_WITH_AS(read_idx_images(p), has(p + ": rows is 0, expected 1 to 4096"), FormatError);
  p = write_raw("zero-count", images_file(0, 2, 4, {}));
  CHECK_THROWS_WITH_AS(read_idx_images(p), has(p + ": image count is 0"), FormatError);
  p = write_raw("wide", images_file(1, 2, 5000, {}));
  CHECK_THROWS_WITH_AS(read_idx_images(p), has(p + ": cols is 5000, expected 1 to 4096"), FormatError);
}

TEST_CASE("a header promising terabytes is rejected from the data actually there") {
  // 2^32-1 images of 4096x4096: the reader must not try to allocate that.
  const Bytes huge = images_file(0xffffffffu, 4096, 4096, Bytes(100, 7));
  for (const std::string& p : {write_raw("huge", huge), write_gz("huge.gz", huge)})
    CHECK_THROWS_WITH_AS(vae::io::read_idx_images(p), has("but only 100 bytes are there"), vae::FormatError);
}

TEST_CASE("a cut-off gzip stream is reported as such") {
  const std::string whole = write_gz("cut-source.gz", images_file(3, 2, 4, kPixels));
  std::ifstream in(whole, std::ios::binary);
  Bytes gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  gz.resize(gz.size() - 12);  // drop the CRC/size trailer and some data
  const std::string p = write_raw("cut.gz", gz);
  CHECK_THROWS_WITH_AS(vae::io::read_idx_images(p), has(p + ": the gzip stream is truncated"), vae::FormatError);
}

namespace {

Bytes file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("bytes after the last gzip member are an error; further members are read") {
  const Bytes images = images_file(3, 2, 4, kPixels);
  const Bytes gz = file_bytes(write_gz("member-a.gz", images));
  // "junk\n" after the member: gzread ignores it, this reader must not.
  Bytes junk = gz;
  junk.insert(junk.end(), {'j', 'u', 'n', 'k', '\n'});
  std::string p = write_raw("junk.gz", junk);
  CHECK_THROWS_WITH_AS(vae::io::read_idx_images(p),
                       has(p + ": 5 bytes after the end of the gzip data (from byte " + std::to_string(gz.size()) +
                           ") are not another gzip member; expected the file to end there"),
                       vae::FormatError);
  // Zero padding, and a lone first byte of gzip's magic, are not members either.
  Bytes padded = gz;
  padded.resize(gz.size() + 512, 0);
  p = write_raw("padded.gz", padded);
  CHECK_THROWS_WITH_AS(vae::io::read_idx_images(p), has(p + ": 512 bytes after the end of the gzip data"), vae::FormatError);
  Bytes half_magic = gz;
  half_magic.push_back(0x1f);
  p = write_raw("half-magic.gz", half_magic);
  CHECK_THROWS_WITH_AS(vae::io::read_idx_images(p), has(p + ": 1 bytes after the end of the gzip data"), vae::FormatError);
  // A second member that is damaged is corrupt data, not a clean end.
  Bytes bad_member = gz;
  bad_member.insert(bad_member.end(), {0x1f, 0x8b, 0x63, 0, 0, 0, 0, 0, 0, 0});
  p = write_raw("bad-member.gz", bad_member);
  CHECK_THROWS_WITH_AS(vae::io::read_idx_images(p), has(p + ": corrupt gzip data"), vae::FormatError);

  // Two members (the header and half the pixels, then the rest) read as one
  // file, as gunzip reads them; the labels file ends after its only member.
  const Bytes head(images.begin(), images.begin() + 28), tail(images.begin() + 28, images.end());
  Bytes two = file_bytes(write_gz("member-1.gz", head));
  const Bytes second = file_bytes(write_gz("member-2.gz", tail));
  two.insert(two.end(), second.begin(), second.end());
  check_small(vae::io::load_dataset(write_raw("two-members.gz", two), write_gz("one-member-labels.gz", labels_file(3, kLabels))));
}

TEST_CASE("count mismatch and missing files") {
  const std::string images = write_raw("m-images", images_file(3, 2, 4, kPixels));
  const std::string labels = write_raw("m-labels", labels_file(2, {1, 2}));
  CHECK_THROWS_WITH_AS(vae::io::load_dataset(images, labels),
                       has(labels + ": label count is 2, expected 3 (the image count of " + images + ")"),
                       vae::FormatError);
  const std::string missing = (temp_dir() / "no-such-file").string();
  CHECK_THROWS_WITH_AS(vae::io::read_idx_images(missing), has(missing + ": cannot open: No such file"),
                       vae::IoError);
}

TEST_CASE("bytes become byte / 255 in the requested column order") {
  vae::io::Dataset d;
  d.rows = 1;
  d.cols = 3;
  d.pixels = {0, 255, 128, 1, 2, 3};
  const vae::Index order[2] = {1, 0};
  float f[6];
  vae::io::to_unit_float(d, order, 2, f);
  CHECK(f[0] == 1.0f / 255.0f);
  CHECK(f[3] == 0.0f);
  CHECK(f[4] == 1.0f);
  CHECK(f[5] == 128.0f / 255.0f);
  double g[3];
  vae::io::to_unit_float(d, order + 1, 1, g);
  CHECK(g[1] == 1.0);
  CHECK(g[2] == 128.0 / 255.0);

  const Eigen::MatrixXd b = vae::io::batch<double>(d, 0, 2);
  CHECK(b.rows() == 3);
  CHECK(b.cols() == 2);
  CHECK(b(2, 0) == 128.0 / 255.0);
  CHECK(b(2, 1) == 3.0 / 255.0);

  const vae::Index bad = 2;
  CHECK_THROWS_WITH_AS(vae::io::to_unit_float(d, &bad, 1, f), has("image index 2 (entry 0) is out of range, expected 0 to 1"),
                       vae::ShapeError);
  CHECK_THROWS_WITH_AS(vae::io::batch<float>(d, 1, 2), has("images [1, 3) are out of range for a dataset of 2"),
                       vae::ShapeError);
}

namespace {

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : (fallback != nullptr ? fallback : "");
}

void check_real(const std::string& dir, const char* which, int first_train_label) {
  const vae::io::Dataset train = vae::io::load_mnist(dir, vae::io::Split::Train);
  const vae::io::Dataset test = vae::io::load_mnist(dir, vae::io::Split::Test);
  CHECK(train.size() == 60000);
  CHECK(test.size() == 10000);
  CHECK(train.rows == 28);
  CHECK(train.cols == 28);
  CHECK(test.features() == 784);
  CHECK(int(train.labels[0]) == first_train_label);
  int histogram[10] = {}, above_nine = 0;
  for (std::uint8_t l : train.labels) l <= 9 ? ++histogram[l] : ++above_nine;
  CHECK(above_nine == 0);
  for (int k = 0; k < 10; ++k) CHECK(histogram[k] > 5000);  // every class well represented
  const std::string read_from = std::string(which) + " read from " + dir;
  MESSAGE(read_from);
}

}  // namespace

TEST_CASE("real MNIST (VAE_MNIST_DIR)") {
  const std::string dir = env_or("VAE_MNIST_DIR", nullptr);
  if (dir.empty() || !fs::is_directory(dir)) {
    MESSAGE("skipped: set VAE_MNIST_DIR to a folder with the MNIST IDX files (scripts/fetch_mnist.sh)");
    return;
  }
  check_real(dir, "MNIST", 5);
  const vae::io::Dataset train = vae::io::load_mnist(dir, vae::io::Split::Train);
  CHECK(int(train.labels[1]) == 0);
  CHECK(int(train.pixels[152]) == 3);  // first non-zero byte of the first image (row 5, col 12)
}

TEST_CASE("real Fashion-MNIST, gzipped") {
  const std::string dir = env_or("VAE_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist");
  if (!fs::exists(fs::path(dir) / "train-images-idx3-ubyte.gz") && !fs::exists(fs::path(dir) / "train-images-idx3-ubyte")) {
    const std::string why = "skipped: no Fashion-MNIST in " + dir + " (set VAE_FASHION_MNIST_DIR)";
    MESSAGE(why);
    return;
  }
  check_real(dir, "Fashion-MNIST", 9);  // the first training image is an ankle boot
}

}  // namespace test_idx
