// Pictures: PNG and GIF written and decoded back to the exact pixels, atomic
// writes that fail cleanly, the mosaic helpers, the plots' geometry, colours
// and text, and the principal plane that larger latent spaces are drawn in.
// Needs: the vae::viz target (vae, giflib, stb headers; stb_image.h is
// compiled here to decode the PNGs), doctest.
#include <doctest/doctest.h>

#include <gif_lib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include <vae/viz.hpp>

#include "temp_dir.hpp"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#endif
#include <stb_image.h>

namespace test_image {
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace fs = std::filesystem;
using vae::viz::Image;

namespace {

doctest::Contains has(const std::string& s) { return doctest::Contains(s.c_str()); }

fs::path temp_dir() { return vae::test::temp_dir("vae_image"); }

/// An image whose every byte differs from its neighbours.
Image pattern(int w, int h, int c) {
  Image im(w, h, c);
  for (std::size_t i = 0; i < im.data.size(); ++i) im.data[i] = std::uint8_t(i * 37 + 11);
  return im;
}

Image read_png(const std::string& path) {
  int w = 0, h = 0, c = 0;
  unsigned char* p = stbi_load(path.c_str(), &w, &h, &c, 0);
  REQUIRE(p != nullptr);
  Image im(w, h, c);
  std::memcpy(im.data.data(), p, im.data.size());
  stbi_image_free(p);
  return im;
}

std::size_t files_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

bool same_rgb(const std::uint8_t* p, vae::viz::Rgb c) { return p[0] == c.r && p[1] == c.g && p[2] == c.b; }

}  // namespace

TEST_CASE("PNG round trip gives the exact pixels") {
  for (int c : {1, 2, 3, 4}) {
    const Image im = pattern(13, 7, c);
    const std::string path = (temp_dir() / ("p" + std::to_string(c) + ".png")).string();
    vae::viz::write_png(path, im);
    const Image back = read_png(path);
    CHECK(back.width == 13);
    CHECK(back.height == 7);
    CHECK(back.channels == c);
    CHECK(back.data == im.data);
  }
}

TEST_CASE("atomic writes: a failed write leaves no file and no temporary") {
  const fs::path dir = temp_dir() / "atomic";
  fs::create_directories(dir);
  const std::string good = (dir / "keep.png").string();
  vae::viz::write_png(good, pattern(4, 4, 1));
  const auto before = fs::file_size(good);

  // The folder does not exist: the temporary file cannot even be created.
  const std::string nowhere = (dir / "missing" / "x.png").string();
  CHECK_THROWS_WITH_AS(vae::viz::write_png(nowhere, pattern(4, 4, 1)), has(nowhere + ": cannot create a temporary file"),
                       vae::IoError);
  CHECK_THROWS_WITH_AS(vae::viz::write_gif(nowhere, {pattern(4, 4, 1)}, 10), has(nowhere), vae::IoError);
  // The target is a folder: the temporary is written, the rename fails, the
  // temporary is removed.
  const std::string folder = (dir / "a_folder").string();
  fs::create_directories(folder);
  CHECK_THROWS_WITH_AS(vae::viz::write_png(folder, pattern(4, 4, 3)), has(folder + ": cannot rename"), vae::IoError);
  // Bad input is refused before anything touches the disk.
  Image broken = pattern(4, 4, 1);
  broken.data.pop_back();
  CHECK_THROWS_WITH_AS(vae::viz::write_png(good, broken), has(good + ": image is 4x4 with 1 channels but holds 15 bytes, expected 16"),
                       vae::ShapeError);
  if (::geteuid() != 0) {  // root ignores permissions
    const fs::path ro = dir / "read_only";
    fs::create_directories(ro);
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
    const std::string p = (ro / "x.png").string();
    CHECK_THROWS_WITH_AS(vae::viz::write_png(p, pattern(4, 4, 1)), has(p + ": cannot create a temporary file"), vae::IoError);
    CHECK(files_in(ro) == 0);
    fs::permissions(ro, fs::perms::owner_all);
  }
  CHECK(fs::file_size(good) == before);
  CHECK(files_in(dir) == 2);  // keep.png and a_folder: no temporaries left behind
  CHECK(!fs::exists(nowhere));
}

TEST_CASE("floats to gray, tiles and scaling") {
  const float v[6] = {0.0f, 1.0f, 0.5f, 2.0f, -1.0f, std::numeric_limits<float>::quiet_NaN()};
  const Image g = vae::viz::gray_image(v, 2, 3);  // 2 rows of 3
  CHECK(g.width == 3);
  CHECK(g.height == 2);
  CHECK(g.data == std::vector<std::uint8_t>{0, 255, 128, 255, 0, 0});
  CHECK(int(g.at(2, 0)[0]) == 128);  // pixel (r 0, c 2) is values[0 * 3 + 2]

  vae::Matrix<float> cols(6, 2);
  for (int i = 0; i < 6; ++i) cols(i, 0) = std::clamp(v[i], 0.0f, 1.0f);
  cols.col(1).setConstant(0.25f);
  cols(5, 0) = 0.0f;
  const std::vector<Image> two = vae::viz::gray_images<float>(cols, 2, 3);
  REQUIRE(two.size() == 2);
  CHECK(int(two[1].at(1, 1)[0]) == 64);  // round(0.25 * 255) = 64
  CHECK_THROWS_WITH_AS(vae::viz::gray_images<float>(cols, 3, 3), has("columns have 6 rows, expected 3x3 = 9"),
                       vae::ShapeError);

  // Three 2x2 tiles, 2 to a row, padding 1 of value 7: 7x7 with one empty cell.
  std::vector<Image> tiles;
  for (int k = 0; k < 3; ++k) tiles.push_back(Image(2, 2, 1, std::uint8_t(100 + k)));
  const Image m = vae::viz::tile(tiles, 2, 1, 7);
  CHECK(m.width == 7);
  CHECK(m.height == 7);
  CHECK(int(m.at(0, 0)[0]) == 7);
  CHECK(int(m.at(1, 1)[0]) == 100);
  CHECK(int(m.at(2, 2)[0]) == 100);
  CHECK(int(m.at(3, 1)[0]) == 7);
  CHECK(int(m.at(4, 2)[0]) == 101);
  CHECK(int(m.at(1, 4)[0]) == 102);
  CHECK(int(m.at(4, 4)[0]) == 7);  // the fourth cell is empty
  tiles.push_back(Image(3, 2, 1));
  CHECK_THROWS_WITH_AS(vae::viz::tile(tiles, 2), has("tile 3 is 3x2x1, expected 2x2x1 like tile 0"), vae::ShapeError);

  const Image src = pattern(3, 2, 3);
  const Image up = vae::viz::upscale(src, 4);
  CHECK(up.width == 12);
  CHECK(up.height == 8);
  CHECK(std::memcmp(up.at(11, 7), src.at(2, 1), 3) == 0);
  CHECK(std::memcmp(up.at(4, 3), src.at(1, 0), 3) == 0);
  const Image down = vae::viz::resize_nearest(up, 3, 2);
  CHECK(down.data == src.data);
}

namespace {

struct GifFile {
  GifFileType* gif = nullptr;
  explicit GifFile(const std::string& path) {
    int err = 0;
    gif = DGifOpenFileName(path.c_str(), &err);
    REQUIRE(gif != nullptr);
    REQUIRE(DGifSlurp(gif) == GIF_OK);
  }
  ~GifFile() { DGifCloseFile(gif, nullptr); }

  /// True when the NETSCAPE2.0 block with loop count 0 precedes the first frame.
  bool loops_forever() const {
    const SavedImage& f = gif->SavedImages[0];
    for (int i = 0; i + 1 < f.ExtensionBlockCount; ++i) {
      const ExtensionBlock& a = f.ExtensionBlocks[i];
      const ExtensionBlock& b = f.ExtensionBlocks[i + 1];
      if (a.Function == APPLICATION_EXT_FUNC_CODE && a.ByteCount == 11 && std::memcmp(a.Bytes, "NETSCAPE2.0", 11) == 0 &&
          b.Function == CONTINUE_EXT_FUNC_CODE && b.ByteCount == 3 && b.Bytes[0] == 1 && b.Bytes[1] == 0 && b.Bytes[2] == 0)
        return true;
    }
    return false;
  }
  /// Colour of pixel (x, y) of frame k.
  GifColorType color(int k, int x, int y) const {
    const SavedImage& f = gif->SavedImages[k];
    const ColorMapObject* map = f.ImageDesc.ColorMap != nullptr ? f.ImageDesc.ColorMap : gif->SColorMap;
    return map->Colors[f.RasterBits[y * f.ImageDesc.Width + x]];
  }
};

}  // namespace

TEST_CASE("gray GIF round trip: frames, size, delay, loop, pixels") {
  std::vector<Image> frames;
  for (int k = 0; k < 3; ++k) {
    Image f(5, 4, 1);
    for (std::size_t i = 0; i < f.data.size(); ++i) f.data[i] = std::uint8_t(k * 80 + int(i) * 3);
    frames.push_back(f);
  }
  const std::string path = (temp_dir() / "walk.gif").string();
  vae::viz::write_gif(path, frames, 7);
  GifFile g(path);
  CHECK(g.gif->ImageCount == 3);
  CHECK(g.gif->SWidth == 5);
  CHECK(g.gif->SHeight == 4);
  CHECK(g.loops_forever());
  GraphicsControlBlock gcb{};
  REQUIRE(DGifSavedExtensionToGCB(g.gif, 2, &gcb) == GIF_OK);
  CHECK(gcb.DelayTime == 7);
  int wrong = 0;
  for (int k = 0; k < 3; ++k)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 5; ++x) {
        const GifColorType c = g.color(k, x, y);
        const int want = frames[std::size_t(k)].at(x, y)[0];
        wrong += c.Red != want || c.Green != want || c.Blue != want;
      }
  CHECK(wrong == 0);

  const std::string once = (temp_dir() / "once.gif").string();
  vae::viz::write_gif(once, frames, 7, false);
  CHECK(!GifFile(once).loops_forever());
  frames[1] = Image(6, 4, 1);
  CHECK_THROWS_WITH_AS(vae::viz::write_gif(path, frames, 7), has(path + ": frame 1 is 6x4, expected 5x4 like frame 0"),
                       vae::ShapeError);
}

TEST_CASE("colour GIF keeps a few flat colours") {
  Image f(8, 8, 3);
  const vae::viz::Rgb colours[4] = {vae::viz::kTab10[0], vae::viz::kTab10[1], vae::viz::kTab10[2], {255, 255, 255}};
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) {
      const vae::viz::Rgb c = colours[(y / 4) * 2 + x / 4];
      f.at(x, y)[0] = c.r, f.at(x, y)[1] = c.g, f.at(x, y)[2] = c.b;
    }
  const std::string path = (temp_dir() / "colour.gif").string();
  vae::viz::write_gif(path, {f, f}, 5);
  GifFile g(path);
  CHECK(g.gif->ImageCount == 2);
  int worst = 0;  // the quantizer works on 5 bits per channel
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) {
      const GifColorType c = g.color(1, x, y);
      worst = std::max({worst, std::abs(c.Red - f.at(x, y)[0]), std::abs(c.Green - f.at(x, y)[1]),
                        std::abs(c.Blue - f.at(x, y)[2])});
    }
  CHECK(worst <= 8);
}

TEST_CASE("nice ticks in 1-2-5 steps") {
  double step = 0;
  CHECK(vae::viz::detail::nice_ticks({-3, 3}, 8, &step) == std::vector<double>{-3, -2, -1, 0, 1, 2, 3});
  CHECK(step == 1);
  CHECK(vae::viz::detail::nice_ticks({0, 130}, 6, &step).size() == 3);  // 0, 50, 100
  CHECK(step == 50);
  vae::viz::detail::nice_ticks({0.01, 0.69}, 8, &step);
  CHECK(step == doctest::Approx(0.1));
  CHECK(vae::viz::detail::format_tick(-1e-17, 0.1) == "0.0");
  CHECK(vae::viz::detail::format_tick(0.30000000000000004, 0.1) == "0.3");
  CHECK(vae::viz::detail::format_tick(-2, 1) == "-2");
}

namespace {

/// Columns or rows of pure black along a line through the image: the frame.
std::vector<int> black_runs(const Image& im, int fixed, bool along_x) {
  std::vector<int> at;
  const int n = along_x ? im.width : im.height;
  for (int i = 0; i < n; ++i) {
    const std::uint8_t* p = along_x ? im.at(i, fixed) : im.at(fixed, i);
    if (p[0] == 0 && p[1] == 0 && p[2] == 0) at.push_back(i);
  }
  return at;
}

/// Horizontal runs of at least `min_len` pixels of colour `c` (anti-aliased
/// text can hit any one colour, a long run cannot): {x_first, x_last, y} each.
std::vector<std::array<int, 3>> runs(const Image& im, vae::viz::Rgb c, int min_len) {
  std::vector<std::array<int, 3>> out;
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < im.width;) {
      int e = x;
      while (e < im.width && same_rgb(im.at(e, y), c)) ++e;
      if (e - x >= min_len) out.push_back({x, e - 1, y});
      x = e > x ? e : x + 1;
    }
  return out;
}

}  // namespace

TEST_CASE("scatter plot: size, point positions and colours") {
  vae::viz::PlotOptions o;
  o.x_range = vae::viz::Range{0, 1};
  o.y_range = vae::viz::Range{0, 1};
  o.point_radius = 4;
  o.point_alpha = 1;
  const std::vector<double> x = {0.25, 0.75}, y = {0.25, 0.75};
  const Image im = vae::viz::scatter_plot(x, y, std::vector<int>{}, o);  // no labels: tab10[0], no legend
  CHECK(im.width == 800);
  CHECK(im.height == 700);
  CHECK(im.channels == 3);

  // The frame: first and last black pixels across the middle row and column.
  const std::vector<int> cols = black_runs(im, im.height / 2, true), rows = black_runs(im, im.width / 2, false);
  REQUIRE(cols.size() >= 2);
  REQUIRE(rows.size() >= 2);
  const double left = cols.front() + 0.5, right = cols.back() + 0.5;  // line centres = the range's ends
  const double top = rows.front() + 0.5, bottom = rows.back() + 0.5;

  // Each point is a disc of exactly tab10 blue; its centroid is where the
  // data maps.
  for (int k = 0; k < 2; ++k) {
    const double want_x = left + x[std::size_t(k)] * (right - left), want_y = bottom - y[std::size_t(k)] * (bottom - top);
    double sx = 0, sy = 0;
    int n = 0;
    for (int py = int(want_y) - 10; py <= int(want_y) + 10; ++py)
      for (int px = int(want_x) - 10; px <= int(want_x) + 10; ++px)
        if (same_rgb(im.at(px, py), vae::viz::kTab10[0])) sx += px + 0.5, sy += py + 0.5, ++n;
    CHECK(n >= 25);  // about pi * 4^2 fully covered pixels
    CHECK(n <= 50);
    CHECK(sx / n == doctest::Approx(want_x).epsilon(0.003));
    CHECK(sy / n == doctest::Approx(want_y).epsilon(0.003));
  }
  CHECK_THROWS_WITH_AS(vae::viz::scatter_plot(x, std::vector<double>{1}, std::vector<int>{}, o),
                       has("x has 2 values, y 1, labels 0"), vae::ShapeError);
  CHECK_THROWS_WITH_AS(vae::viz::scatter_plot(x, y, std::vector<int>{1, 10}, o),
                       has("label of point 1 is 10, expected an integer 0 to 9"), vae::ValueError);
}

TEST_CASE("scatter plot: legend with every colour and its text, and a title") {
  std::vector<double> x, y;
  std::vector<std::uint8_t> labels;  // Dataset labels are bytes
  for (int k = 0; k < 10; ++k) x.push_back(k), y.push_back(k * k), labels.push_back(std::uint8_t(k));
  vae::viz::PlotOptions o;
  o.title = "latent space";
  o.legend_title = "digit";
  const Image im = vae::viz::scatter_plot(x, y, labels, o);

  // The legend box: its light gray top and bottom edges are the long runs.
  const auto edges = runs(im, {0xcc, 0xcc, 0xcc}, 30);
  REQUIRE(edges.size() == 2);
  const int x0 = edges[0][0], x1 = edges[0][1], y0 = edges[0][2], y1 = edges[1][2];
  CHECK(x0 > im.width * 3 / 4);  // right of the axes
  CHECK(y1 - y0 > 10 * 15);      // ten entries and a heading

  int dark = 0;
  bool colour_seen[10] = {};
  for (int py = y0 + 1; py < y1; ++py)
    for (int px = x0 + 1; px < x1; ++px) {
      const std::uint8_t* p = im.at(px, py);
      dark += p[0] < 128 && p[1] < 128 && p[2] < 128;
      for (int k = 0; k < 10; ++k) colour_seen[k] = colour_seen[k] || same_rgb(p, vae::viz::kTab10[k]);
    }
  CHECK(dark > 100);  // the labels 0..9 and "digit"
  for (int k = 0; k < 10; ++k) CHECK(colour_seen[k]);

  int title_ink = 0;  // dark pixels in the top band, above the frame
  for (int py = 0; py < 30; ++py)
    for (int px = 0; px < im.width; ++px) title_ink += im.at(px, py)[0] < 128;
  CHECK(title_ink > 50);
  o.title.clear();
  const Image untitled = vae::viz::scatter_plot(x, y, labels, o);
  title_ink = 0;
  for (int py = 0; py < 15; ++py)
    for (int px = 0; px < untitled.width; ++px) title_ink += untitled.at(px, py)[0] < 128;
  CHECK(title_ink == 0);
}

TEST_CASE("scatter plot: class names in the legend, numbers past their end") {
  std::vector<double> x, y;
  std::vector<int> labels;
  for (int k = 0; k < 10; ++k) x.push_back(k), y.push_back(k), labels.push_back(k);
  vae::viz::PlotOptions o;
  const Image digits = vae::viz::scatter_plot(x, y, labels, o);
  o.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  const Image named = vae::viz::scatter_plot(x, y, labels, o);
  const auto box = [](const Image& im) {
    const auto edges = runs(im, {0xcc, 0xcc, 0xcc}, 30);
    REQUIRE(edges.size() == 2);
    return edges[0];
  };
  // The box keeps its right edge and grows left by the widest name's extra
  // ink over the widest digit's, at the legend's font size (1.6 per unit).
  const double grow = vae::viz::detail::text_width("T-shirt/top", 1.6) - vae::viz::detail::text_width("0", 1.6);
  CHECK(box(named)[1] == box(digits)[1]);
  CHECK(box(digits)[0] - box(named)[0] == doctest::Approx(grow).epsilon(0.05));
  o.class_names = {"zero"};
  CHECK(vae::viz::detail::legend_label(0, o) == "zero");
  CHECK(vae::viz::detail::legend_label(7, o) == "7");
}

TEST_CASE("principal plane: the two directions of largest spread, projected and lifted back") {
  // 16 codes in 5-d: mean m plus a full factorial of a in {-3, -1, 1, 3}
  // along u, b in {-1, 1} along v and c in {-0.2, 0.2} along e4; the three
  // are exactly uncorrelated, so the covariance's leading eigenvectors are u
  // and v, with variances 5 and 1 (times 16/15, the unbiased estimate).
  Eigen::VectorXd m(5), u(5), v(5), e4 = Eigen::VectorXd::Unit(5, 4);
  m << 1, 2, 3, 4, 5;
  u << 0.6, 0.8, 0, 0, 0;
  v << 0, 0, 0, -1, 0;  // the sign is fixed to make the largest entry positive: +e3
  Eigen::MatrixXf codes(5, 16);
  Eigen::MatrixXf ab(2, 16);
  int j = 0;
  for (double a : {-3, -1, 1, 3})
    for (double b : {-1, 1})
      for (double c : {-0.2, 0.2}) {
        codes.col(j) = (m + a * u + b * v + c * e4).cast<float>();
        ab.col(j++) << float(a), float(-b);
      }
  const vae::viz::PrincipalPlane p = vae::viz::principal_plane(codes);
  CHECK((p.mean - m).norm() < 1e-6);
  CHECK((p.axes.col(0) - u).norm() < 1e-6);
  CHECK((p.axes.col(1) + v).norm() < 1e-6);
  CHECK(p.variance(0) == doctest::Approx(5.0 * 16 / 15).epsilon(1e-6));
  CHECK(p.variance(1) == doctest::Approx(1.0 * 16 / 15).epsilon(1e-6));
  CHECK(p.total_variance == doctest::Approx(6.04 * 16 / 15).epsilon(1e-6));
  CHECK((p.project(codes) - ab).cwiseAbs().maxCoeff() < 1e-5f);
  // Lifting drops the e4 component: each code comes back up to +-0.2 e4.
  const Eigen::MatrixXf back = p.lift(ab);
  CHECK(back.rows() == 5);
  CHECK(((back - codes).cwiseAbs().maxCoeff()) == doctest::Approx(0.2f).epsilon(1e-4));

  CHECK_THROWS_WITH_AS(vae::viz::principal_plane(Eigen::MatrixXf::Zero(1, 8)),
                       has("codes are 1 x 8, expected at least 2 latent dimensions and 2 codes"), vae::ShapeError);
  codes(2, 3) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_WITH_AS(vae::viz::principal_plane(codes), has("code 3 is not finite"), vae::ValueError);
  CHECK_THROWS_WITH_AS(p.lift(Eigen::MatrixXf::Zero(3, 1)), has("the points have 3 rows, expected 2 (a, b)"),
                       vae::ShapeError);
  CHECK_THROWS_WITH_AS(p.project(Eigen::MatrixXf::Zero(4, 1)), has("the codes have 4 rows, expected the plane's latent size 5"),
                       vae::ShapeError);
}

TEST_CASE("a picture framed with axes keeps its pixels") {
  const Image picture(300, 240, 1, 77);
  vae::viz::PlotOptions o;
  o.title = "decoded grid";
  o.x_label = "z[0]";
  o.y_label = "z[1]";
  const Image fig = vae::viz::image_with_axes(picture, vae::viz::Range{-4, 4}, vae::viz::Range{-2, 2}, o);
  CHECK(fig.width > 300 + 30);
  CHECK(fig.height > 240 + 40);
  // The picture's rows are the runs of 300 pixels of value 77.
  const auto rows = runs(fig, {77, 77, 77}, 300);
  REQUIRE(rows.size() == 240);
  const int fx = rows[0][0], fy = rows[0][2];
  int inside = 0;
  for (int py = fy; py < fy + 240; ++py)
    for (int px = fx; px < fx + 300; ++px) inside += same_rgb(fig.at(px, py), {77, 77, 77});
  CHECK(inside == 300 * 240);
  // The frame hugs it: black just outside on all four sides.
  CHECK(same_rgb(fig.at(fx - 1, fy + 40), {0, 0, 0}));
  CHECK(same_rgb(fig.at(fx + 300, fy + 40), {0, 0, 0}));
  CHECK(same_rgb(fig.at(fx + 50, fy - 1), {0, 0, 0}));
  CHECK(same_rgb(fig.at(fx + 50, fy + 240), {0, 0, 0}));
  // Ticks (step 2) at x = -4 and 4 continue the frame's sides downwards; at
  // y = 2, 0, -2 they stick out to the left at the top, middle and bottom.
  CHECK(same_rgb(fig.at(fx - 1, fy + 243), {0, 0, 0}));
  CHECK(same_rgb(fig.at(fx + 300, fy + 243), {0, 0, 0}));
  CHECK(same_rgb(fig.at(fx + 150, fy + 243), {0, 0, 0}));
  CHECK(same_rgb(fig.at(fx + 149, fy + 243), {255, 255, 255}));  // between ticks: background
  CHECK(same_rgb(fig.at(fx - 4, fy - 1), {0, 0, 0}));
  CHECK(same_rgb(fig.at(fx - 4, fy + 120), {0, 0, 0}));
  CHECK(same_rgb(fig.at(fx - 4, fy + 240), {0, 0, 0}));

  const Image titled = vae::viz::image_with_axes(picture, -5, 10, -10, 5, "AE grid");
  CHECK(runs(titled, {77, 77, 77}, 300).size() == 240);
  // A title wider than a small picture widens the figure instead of being cut.
  const std::string long_title = "an autoencoder's decoded latent grid";
  const Image narrow = vae::viz::image_with_axes(Image(60, 60, 1, 77), 0, 1, 0, 1, long_title);
  CHECK(narrow.width >= vae::viz::detail::text_width(long_title, 2.2) + 24);
  int edge_ink = 0;
  for (int py = 0; py < narrow.height; ++py)
    for (int px : {0, 1, 2, narrow.width - 3, narrow.width - 2, narrow.width - 1}) edge_ink += narrow.at(px, py)[0] < 250;
  CHECK(edge_ink == 0);
  CHECK_THROWS_WITH_AS(vae::viz::image_with_axes(picture, 1, 1, 0, 1, "t"), has("x range is [1, 1], expected finite lo < hi"),
                       vae::ValueError);
}

TEST_CASE("the pictures' names from before vae::viz still work in vae::io") {
  static_assert(std::is_same_v<vae::io::Image, vae::viz::Image>);
  static_assert(std::is_same_v<vae::io::PlotOptions, vae::viz::PlotOptions>);
  const Image up = vae::io::upscale(pattern(2, 2, 1), 3);
  CHECK(up.width == 6);
  CHECK(up.data == vae::viz::upscale(pattern(2, 2, 1), 3).data);
}

}  // namespace test_image
