// Built by tests/consumer/pkgconfig.sh with `pkg-config --cflags --libs vae`
// alone, against an installed vae. Trains a small VAE (through OpenBLAS when
// the flags ask for it) and, when they turn on gzip input, reads back a
// gzip-compressed IDX file it writes with zlib, so that each flag vae.pc
// gives must reach the compiler and the linker for this program to build.
#include <cstdint>
#include <cstdio>
#include <string>

#include <vae/vae.hpp>

namespace {

#if defined(VAE_WITH_ZLIB)
// A 2-image, 2 x 3 IDX file, gzip-compressed; true when vae reads it back.
bool gzip_round_trip(const std::string& path) {
  const unsigned char idx[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3,  // magic, 2 images, 2 x 3
                               1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  gzFile f = gzopen(path.c_str(), "wb");
  if (f == nullptr || gzwrite(f, idx, sizeof idx) != int(sizeof idx) || gzclose(f) != Z_OK) return false;
  const vae::io::Dataset d = vae::io::read_idx_images(path);
  return d.size() == 2 && d.rows == 2 && d.cols == 3 && d.pixels.back() == 12;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  vae::VariationalAutoencoder<32, 16, 2> model(1);
  vae::Adam<float> opt;
  vae::Rng rng(2);
  const Eigen::MatrixXf x = (Eigen::MatrixXf::Random(32, 8).array() + 1) / 2;
  const float first = model.train_step(x, opt, rng).total;
  float last = first;
  for (int i = 0; i < 50; ++i) last = model.train_step(x, opt, rng).total;

#if defined(VAE_USE_BLAS)
  const char* blas = "ON";
#else
  const char* blas = "OFF";
#endif
#if defined(VAE_WITH_ZLIB)
  if (argc < 2 || !gzip_round_trip(std::string(argv[1]) + "/images-idx3-ubyte.gz")) {
    std::printf("consumer_pkgconfig: the gzip IDX file did not read back\n");
    return 1;
  }
  const char* zlib = "ON";
#else
  (void)argc;
  (void)argv;
  const char* zlib = "OFF";
#endif
  std::printf("consumer_pkgconfig: vae %s, loss %.3f -> %.3f, blas %s, zlib %s\n", VAE_VERSION_STRING, first, last,
              blas, zlib);
  return last < first ? 0 : 1;
}
