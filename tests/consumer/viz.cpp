// Draws through vae::viz: a PNG and a two-frame GIF, read back as sizes; the
// consumer tests check that the pictures target builds and runs against an
// installed or embedded vae.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include <vae/viz.hpp>

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  const vae::viz::Image dark(8, 8, 1, 0), light(8, 8, 1, 255);
  vae::viz::write_png(dir + "/consumer.png", vae::viz::tile({dark, light}, 2));
  vae::viz::write_gif(dir + "/consumer.gif", {dark, light}, 10);
  const auto png = std::filesystem::file_size(dir + "/consumer.png");
  const auto gif = std::filesystem::file_size(dir + "/consumer.gif");
  std::printf("consumer: viz wrote a %ju-byte PNG and a %ju-byte GIF\n", std::uintmax_t(png), std::uintmax_t(gif));
  return png > 0 && gif > 0 ? 0 : 1;
}
