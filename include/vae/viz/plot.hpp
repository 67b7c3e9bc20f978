#pragma once
// Small raster figures in the style of matplotlib's defaults, for the latent
// space pictures: a labelled scatter plot of 2-d codes and a decoded mosaic
// framed with the latent ranges on its axes. Everything is drawn into an RGB
// Image (write it with write_png); text comes from stb_easy_font, whose glyphs
// are axis-aligned rectangles, rendered here with exact area coverage so that
// any scale is anti-aliased.
//
// Geometry: pixel (x, y) is the unit square [x, x+1) x [y, y+1), y downwards.
// The axes' frame lines are the pixel columns ax0 - 1 and ax1 and the rows
// ay0 - 1 and ay1; the data range maps onto the centres of these lines, so a
// tick at the range's end sits exactly on the frame.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vae/core/error.hpp"
#include "vae/viz/image.hpp"

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#endif
#include <stb_easy_font.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

namespace vae::viz {

/// A colour, 8 bits per channel.
struct Rgb {
  /// @{
  /// Red, green and blue.
  std::uint8_t r = 0, g = 0, b = 0;
  /// @}
};

/// matplotlib's "tab10" colours, the default colour cycle (label k gets kTab10[k]).
inline constexpr Rgb kTab10[10] = {{0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}, {0xd6, 0x27, 0x28},
                                   {0x94, 0x67, 0xbd}, {0x8c, 0x56, 0x4b}, {0xe3, 0x77, 0xc2}, {0x7f, 0x7f, 0x7f},
                                   {0xbc, 0xbd, 0x22}, {0x17, 0xbe, 0xcf}};

/// A closed interval of data values, lo < hi.
struct Range {
  /// Lower end.
  double lo = 0;
  /// Upper end.
  double hi = 1;
};

/// Titles, labels, legend and sizes of a figure (scatter_plot, image_with_axes).
struct PlotOptions {
  int width = 800;   ///< figure size in pixels (scatter_plot; image_with_axes sizes to its picture)
  /// Figure height in pixels (scatter_plot).
  int height = 700;
  /// Heading above the plot; empty for none.
  std::string title;
  /// Label under the x axis.
  std::string x_label;
  /// Label beside the y axis.
  std::string y_label;
  std::string note;          ///< small gray text at the bottom left (e.g. the run's settings)
  std::string legend_title;  ///< heading of the legend, e.g. "digit"; empty for none
  /// Legend text of label k: class_names[k] (e.g. "Trouser"); the number k
  /// itself for labels past its end, and for all labels when empty.
  std::vector<std::string> class_names;
  double point_radius = 2.0; ///< scatter disc radius in pixels
  double point_alpha = 0.8;  ///< scatter disc opacity
  double font_scale = 1.0;   ///< multiplies every text size
  std::optional<Range> x_range;  ///< fixed axis limits; default: the data's range plus 5% each side
  /// Like x_range, for the y axis.
  std::optional<Range> y_range;
};

namespace detail {

inline constexpr Rgb kBlack{0, 0, 0};
inline constexpr Rgb kWhite{255, 255, 255};
inline constexpr Rgb kNoteGray{0x55, 0x55, 0x55};
inline constexpr Rgb kLegendEdge{0xcc, 0xcc, 0xcc};
inline constexpr double kCapUnits = 7;      // stb_easy_font cap height, in font units
inline constexpr double kTickLength = 5;    // matplotlib: 3.5 pt at 100 dpi
inline constexpr double kPad = 12;          // figure edge to content

/// Font sizes as pixels per font unit (cap height = 7 units).
struct Fonts {
  double tick, label, title, legend, note;
  explicit Fonts(double s) : tick(1.5 * s), label(1.7 * s), title(2.2 * s), legend(1.6 * s), note(1.4 * s) {}
};

/// An RGB raster with alpha blending and an optional clip rectangle.
class Canvas {
 public:
  Canvas(int width, int height) : image_(width, height, 3, 255) { reset_clip(); }

  void set_clip(int x0, int y0, int x1, int y1) { clip_ = {x0, y0, x1, y1}; }
  void reset_clip() { clip_ = {0, 0, image_.width, image_.height}; }

  void blend(int x, int y, Rgb c, double alpha) {
    if (x < clip_[0] || y < clip_[1] || x >= clip_[2] || y >= clip_[3] || alpha <= 0) return;
    std::uint8_t* p = image_.at(x, y);
    const double a = std::min(alpha, 1.0);
    p[0] = static_cast<std::uint8_t>(std::lround(p[0] + (c.r - p[0]) * a));
    p[1] = static_cast<std::uint8_t>(std::lround(p[1] + (c.g - p[1]) * a));
    p[2] = static_cast<std::uint8_t>(std::lround(p[2] + (c.b - p[2]) * a));
  }

  /// Fills [x0, x1) x [y0, y1), partially covered pixels by their covered area.
  void fill_rect(double x0, double y0, double x1, double y1, Rgb c, double alpha = 1) {
    for (int y = int(std::floor(y0)); y < int(std::ceil(y1)); ++y) {
      const double cy = std::min(y + 1.0, y1) - std::max(double(y), y0);
      for (int x = int(std::floor(x0)); x < int(std::ceil(x1)); ++x)
        blend(x, y, c, alpha * cy * (std::min(x + 1.0, x1) - std::max(double(x), x0)));
    }
  }

  /// A disc centred at (cx, cy); the edge pixel's coverage is approximated by
  /// its centre's distance to the circle.
  void fill_disc(double cx, double cy, double r, Rgb c, double alpha) {
    for (int y = int(std::floor(cy - r)); y <= int(std::ceil(cy + r)); ++y)
      for (int x = int(std::floor(cx - r)); x <= int(std::ceil(cx + r)); ++x) {
        const double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
        blend(x, y, c, alpha * std::clamp(r + 0.5 - d, 0.0, 1.0));
      }
  }

  /// Copies `picture` (any channel count) with its top-left corner at (x, y).
  void draw_image(const Image& picture, int x, int y) {
    const Image rgb = to_rgb(picture);
    for (int r = 0; r < rgb.height; ++r)
      for (int col = 0; col < rgb.width; ++col) {
        const std::uint8_t* p = rgb.at(col, r);
        blend(x + col, y + r, {p[0], p[1], p[2]}, 1);
      }
  }

  int width() const { return image_.width; }
  int height() const { return image_.height; }
  Image take() { return std::move(image_); }

 private:
  Image image_;
  std::array<int, 4> clip_{};
};

/// One glyph rectangle in font units: [x0, x1) x [y0, y1), y downwards from the cap line.
struct Quad {
  float x0, y0, x1, y1;
};

/// The rectangles stb_easy_font draws for `text` (one line; characters outside
/// printable ASCII become '?').
inline std::vector<Quad> text_quads(const std::string& text) {
  std::string s = text;
  for (char& ch : s)
    if (static_cast<unsigned char>(ch) < 32 || static_cast<unsigned char>(ch) > 126) ch = '?';
  constexpr std::size_t kVertexBytes = 16, kMaxQuadsPerGlyph = 16;  // at most 11 in stb_easy_font 1.1
  std::vector<char> buf((s.size() + 1) * kMaxQuadsPerGlyph * 4 * kVertexBytes);
  const int n = stb_easy_font_print(0, 0, s.data(), nullptr, buf.data(), static_cast<int>(buf.size()));
  std::vector<Quad> quads(static_cast<std::size_t>(n));
  for (std::size_t q = 0; q < quads.size(); ++q) {
    float xy[4][2];  // x, y of the quad's four vertices (z and colour skipped)
    for (std::size_t v = 0; v < 4; ++v) std::memcpy(xy[v], buf.data() + (4 * q + v) * kVertexBytes, sizeof xy[v]);
    quads[q] = {std::min({xy[0][0], xy[1][0], xy[2][0], xy[3][0]}), std::min({xy[0][1], xy[1][1], xy[2][1], xy[3][1]}),
                std::max({xy[0][0], xy[1][0], xy[2][0], xy[3][0]}), std::max({xy[0][1], xy[1][1], xy[2][1], xy[3][1]})};
  }
  return quads;
}

/// Width of the ink of `text` in pixels at `scale`.
inline double text_width(const std::string& text, double scale) {
  double w = 0;
  for (const Quad& q : text_quads(text)) w = std::max(w, double(q.x1));
  return w * scale;
}

inline double cap_height(double scale) { return kCapUnits * scale; }

/// Draws `text` so that the point (ax, ay) of its box (fractions of ink width
/// and cap height; (0, 0) top left, (0.5, 1) middle of the baseline) lands on
/// (x, y). `vertical` turns it 90 degrees counter-clockwise (reads upwards).
inline void draw_text(Canvas& canvas, const std::string& text, double x, double y, double scale, Rgb color, double ax,
                      double ay, bool vertical = false) {
  const std::vector<Quad> quads = text_quads(text);
  double w = 0;
  for (const Quad& q : quads) w = std::max(w, double(q.x1));
  const double du = std::round(ax * w * scale), dv = std::round(ay * kCapUnits * scale);  // whole pixels: crisper
  for (const Quad& q : quads) {
    if (vertical)
      canvas.fill_rect(x - dv + q.y0 * scale, y + du - q.x1 * scale, x - dv + q.y1 * scale, y + du - q.x0 * scale, color);
    else
      canvas.fill_rect(x - du + q.x0 * scale, y - dv + q.y0 * scale, x - du + q.x1 * scale, y - dv + q.y1 * scale, color);
  }
}

/// Ticks at multiples of a 1-2-5 step, at most `max_ticks` intervals across [lo, hi].
inline std::vector<double> nice_ticks(Range r, int max_ticks, double* step_out = nullptr) {
  const double raw = (r.hi - r.lo) / std::max(max_ticks, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double m : {1.0, 2.0, 5.0})
    if (m * mag >= raw * (1 - 1e-9)) {
      step = m * mag;
      break;
    }
  std::vector<double> ticks;
  for (double k = std::ceil(r.lo / step - 1e-9); k <= std::floor(r.hi / step + 1e-9); ++k) ticks.push_back(k * step);
  if (step_out != nullptr) *step_out = step;
  return ticks;
}

/// A tick value with as many decimals as the step needs ("-0" printed as "0").
inline std::string format_tick(double v, double step) {
  const int decimals = std::max(0, -int(std::floor(std::log10(step) + 1e-9)));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  if (s.find_first_not_of("-0.") == std::string::npos) s = decimals > 0 ? "0." + std::string(std::size_t(decimals), '0') : "0";
  return s;
}

/// Axis labels of the ticks of `r` for an axis `length` pixels long.
struct AxisTicks {
  std::vector<double> values;
  std::vector<std::string> labels;
};
inline AxisTicks axis_ticks(Range r, double length) {
  AxisTicks t;
  double step = 1;
  t.values = nice_ticks(r, std::max(2, int(length / 75)), &step);
  for (double v : t.values) t.labels.push_back(format_tick(v, step));
  return t;
}

/// The plotting area in pixels and the data ranges it shows.
struct Axes {
  int x0, y0, x1, y1;  // inner pixels [x0, x1) x [y0, y1); the frame lies just outside
  Range x, y;
  double px(double v) const { return x0 - 0.5 + (v - x.lo) / (x.hi - x.lo) * (x1 - x0 + 1); }
  double py(double v) const { return y1 + 0.5 - (v - y.lo) / (y.hi - y.lo) * (y1 - y0 + 1); }
};

/// The title centred over the axes (shifted, and if need be shrunk, to stay
/// inside the figure) and the note at the bottom left.
inline void draw_title_and_note(Canvas& c, const Axes& a, const PlotOptions& o) {
  const Fonts f(o.font_scale);
  if (!o.title.empty()) {
    const double room = c.width() - 2 * kPad, natural = text_width(o.title, f.title);
    const double scale = natural > room ? f.title * room / natural : f.title;
    const double half = text_width(o.title, scale) / 2;
    const double cx = std::max(kPad + half, std::min((a.x0 + a.x1) / 2.0, c.width() - kPad - half));
    draw_text(c, o.title, cx, a.y0 - 1 - 12, scale, kBlack, 0.5, 1);
  }
  if (!o.note.empty()) draw_text(c, o.note, kPad, c.height() - kPad, f.note, kNoteGray, 0, 1);
}

/// Frame, outward ticks with labels, axis labels, title and note.
inline void draw_axes(Canvas& c, const Axes& a, const AxisTicks& xt, const AxisTicks& yt, const PlotOptions& o) {
  const Fonts f(o.font_scale);
  c.fill_rect(a.x0 - 1, a.y0 - 1, a.x1 + 1, a.y0, kBlack);
  c.fill_rect(a.x0 - 1, a.y1, a.x1 + 1, a.y1 + 1, kBlack);
  c.fill_rect(a.x0 - 1, a.y0, a.x0, a.y1, kBlack);
  c.fill_rect(a.x1, a.y0, a.x1 + 1, a.y1, kBlack);
  for (std::size_t i = 0; i < xt.values.size(); ++i) {
    const double x = std::floor(a.px(xt.values[i]));
    c.fill_rect(x, a.y1 + 1, x + 1, a.y1 + 1 + kTickLength, kBlack);
    draw_text(c, xt.labels[i], x + 0.5, a.y1 + 1 + kTickLength + 4, f.tick, kBlack, 0.5, 0);
  }
  double widest = 0;
  for (std::size_t i = 0; i < yt.values.size(); ++i) {
    const double y = std::floor(a.py(yt.values[i]));
    c.fill_rect(a.x0 - 1 - kTickLength, y, a.x0 - 1, y + 1, kBlack);
    draw_text(c, yt.labels[i], a.x0 - 1 - kTickLength - 4, y + 0.5, f.tick, kBlack, 1, 0.5);
    widest = std::max(widest, text_width(yt.labels[i], f.tick));
  }
  const double mid_x = (a.x0 + a.x1) / 2.0, mid_y = (a.y0 + a.y1) / 2.0;
  if (!o.x_label.empty())
    draw_text(c, o.x_label, mid_x, a.y1 + 1 + kTickLength + 4 + cap_height(f.tick) + 10, f.label, kBlack, 0.5, 0);
  if (!o.y_label.empty())
    draw_text(c, o.y_label, a.x0 - 1 - kTickLength - 4 - widest - 10, mid_y, f.label, kBlack, 0.5, 1, true);
  draw_title_and_note(c, a, o);
}

/// Space above and below the axes for the title, tick labels, x label and note.
inline std::pair<int, int> vertical_margins(const PlotOptions& o) {
  const Fonts f(o.font_scale);
  double top = kPad + (o.title.empty() ? 8 : cap_height(f.title) + 12);
  double bottom = 1 + kTickLength + 4 + cap_height(f.tick) + kPad;
  if (!o.x_label.empty()) bottom += 10 + cap_height(f.label);
  if (!o.note.empty()) bottom += 8 + cap_height(f.note);
  return {int(std::ceil(top)), int(std::ceil(bottom))};
}

/// Space left of the axes for the y tick labels and the y label.
inline int left_margin(const AxisTicks& yt, const PlotOptions& o) {
  const Fonts f(o.font_scale);
  double widest = 0;
  for (const std::string& s : yt.labels) widest = std::max(widest, text_width(s, f.tick));
  double left = kPad + 1 + kTickLength + 4 + widest;
  if (!o.y_label.empty()) left += 10 + cap_height(f.label);
  return int(std::ceil(left));
}

/// The data range with matplotlib's 5% margins; a degenerate range is widened.
inline Range auto_range(const std::vector<double>& v) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double x : v)
    if (std::isfinite(x)) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  if (!(lo <= hi)) return {0, 1};
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(lo))) {
    const double half = std::max(0.5, 0.05 * std::abs(lo));
    return {lo - half, hi + half};
  }
  const double m = 0.05 * (hi - lo);
  return {lo - m, hi + m};
}

/// A number for an error message, e.g. "10", "0.25", "nan".
inline std::string shortest(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

inline void check_range(Range r, const char* what) {
  if (!std::isfinite(r.lo) || !std::isfinite(r.hi) || !(r.lo < r.hi))
    throw ValueError(std::string(what) + " is [" + shortest(r.lo) + ", " + shortest(r.hi) + "], expected finite lo < hi");
}

/// Legend geometry: row height, marker radius and the x offsets (from the
/// box's left edge) of the marker centre and the label.
struct LegendLayout {
  double row, marker, marker_x, text_x;
  explicit LegendLayout(const PlotOptions& o)
      : row(cap_height(Fonts(o.font_scale).legend) * 2),
        marker(std::max(3.0, o.point_radius * 1.8)),
        marker_x(10 + marker),
        text_x(marker_x + marker + 8) {}
};

/// The legend's text for label `e`.
inline std::string legend_label(int e, const PlotOptions& o) {
  const auto k = static_cast<std::size_t>(e);
  return k < o.class_names.size() ? o.class_names[k] : std::to_string(e);
}

/// Legend size in pixels for `entries` (labels present, ascending).
inline std::pair<int, int> legend_size(const std::vector<int>& entries, const PlotOptions& o) {
  const Fonts f(o.font_scale);
  const LegendLayout l(o);
  double w = o.legend_title.empty() ? 0 : 10 + text_width(o.legend_title, f.legend);
  for (int e : entries) w = std::max(w, l.text_x + text_width(legend_label(e, o), f.legend));
  const double rows = double(entries.size()) + (o.legend_title.empty() ? 0 : 1);
  return {int(std::ceil(w + 10)), int(std::ceil(rows * l.row + 2 * 6))};
}

/// The legend's box at (x, y): a marker and the label for each entry.
inline void draw_legend(Canvas& c, int x, int y, const std::vector<int>& entries, const PlotOptions& o) {
  const Fonts f(o.font_scale);
  const LegendLayout l(o);
  const auto [w, h] = legend_size(entries, o);
  c.fill_rect(x, y, x + w, y + h, kLegendEdge);
  c.fill_rect(x + 1, y + 1, x + w - 1, y + h - 1, kWhite);
  double cy = y + 6 + l.row / 2;
  if (!o.legend_title.empty()) {
    draw_text(c, o.legend_title, x + w / 2.0, cy, f.legend, kBlack, 0.5, 0.5);
    cy += l.row;
  }
  for (int e : entries) {
    c.fill_disc(x + l.marker_x, cy, l.marker, kTab10[e], 1);
    draw_text(c, legend_label(e, o), x + l.text_x, cy, f.legend, kBlack, 0, 0.5);
    cy += l.row;
  }
}

template <class C>
std::vector<double> to_doubles(const C& c) {
  std::vector<double> v(static_cast<std::size_t>(c.size()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(c[static_cast<decltype(c.size())>(i)]);
  return v;
}

/// Sorted distinct labels; throws unless each is a tab10 index 0..9.
inline std::vector<int> legend_entries(const std::vector<double>& labels) {
  std::array<bool, 10> seen{};
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const double l = labels[i];
    if (!(l >= 0 && l <= 9 && l == std::floor(l)))
      throw ValueError("vae::viz::scatter_plot: label of point " + std::to_string(i) + " is " + shortest(l) +
                       ", expected an integer 0 to 9 (one tab10 colour each)");
    seen[std::size_t(l)] = true;
  }
  std::vector<int> entries;
  for (int k = 0; k < 10; ++k)
    if (seen[std::size_t(k)]) entries.push_back(k);
  return entries;
}

inline Image scatter_plot(const std::vector<double>& x, const std::vector<double>& y, const std::vector<double>& labels,
                          const PlotOptions& o) {
  if (x.size() != y.size() || (!labels.empty() && labels.size() != x.size()))
    throw ShapeError("vae::viz::scatter_plot: x has " + std::to_string(x.size()) + " values, y " +
                     std::to_string(y.size()) + ", labels " + std::to_string(labels.size()) +
                     "; expected equal counts (or no labels)");
  const std::vector<int> entries = legend_entries(labels);
  Axes a{0, 0, 0, 0, o.x_range.value_or(auto_range(x)), o.y_range.value_or(auto_range(y))};
  check_range(a.x, "vae::viz::scatter_plot: x range");
  check_range(a.y, "vae::viz::scatter_plot: y range");
  const auto [top, bottom] = vertical_margins(o);
  const AxisTicks yt = axis_ticks(a.y, o.height - top - bottom);
  const auto [legend_w, legend_h] = legend_size(entries, o);
  const int right = int(kPad) + (entries.empty() ? 10 : legend_w + 14);
  a.x0 = left_margin(yt, o), a.y0 = top, a.x1 = o.width - right, a.y1 = o.height - bottom;
  if (a.x1 - a.x0 < 50 || a.y1 - a.y0 < 50 || legend_h > o.height)
    throw ValueError("vae::viz::scatter_plot: a " + std::to_string(o.width) + "x" + std::to_string(o.height) +
                     " figure leaves no room for the axes; expected a larger PlotOptions width/height");
  Canvas c(o.width, o.height);
  c.set_clip(a.x0, a.y0, a.x1, a.y1);
  for (std::size_t i = 0; i < x.size(); ++i)  // in data order, so no class is always on top
    if (std::isfinite(x[i]) && std::isfinite(y[i]))
      c.fill_disc(a.px(x[i]), a.py(y[i]), o.point_radius, kTab10[labels.empty() ? 0 : std::size_t(labels[i])],
                  o.point_alpha);
  c.reset_clip();
  draw_axes(c, a, axis_ticks(a.x, a.x1 - a.x0), yt, o);
  if (!entries.empty()) draw_legend(c, a.x1 + 1 + 14, a.y0 - 1, entries, o);
  return c.take();
}

}  // namespace detail

/// A scatter plot of points (x[i], y[i]) coloured by labels[i] (0..9, tab10
/// colours; empty for one colour and no legend), with a legend of the labels
/// present (named by options.class_names) to the right of the axes. x, y and labels are any containers with
/// size() and operator[] (std::vector, Eigen vectors and rows). Points with a
/// non-finite coordinate are left out.
template <class XS, class YS, class LS>
Image scatter_plot(const XS& x, const YS& y, const LS& labels, const PlotOptions& options = {}) {
  return detail::scatter_plot(detail::to_doubles(x), detail::to_doubles(y), detail::to_doubles(labels), options);
}

/// `picture` (e.g. a mosaic of decoded samples) framed by axes whose ticks
/// show `x` across its width and `y` up its height, like matplotlib's
/// imshow(picture, extent=[x.lo, x.hi, y.lo, y.hi]): the top row is y.hi. The
/// figure is sized to the picture plus margins (options.width and height are
/// not used); upscale a small picture first.
inline Image image_with_axes(const Image& picture, Range x, Range y, const PlotOptions& options) {
  detail::check_image(picture, "vae::viz::image_with_axes");
  detail::check_range(x, "vae::viz::image_with_axes: x range");
  detail::check_range(y, "vae::viz::image_with_axes: y range");
  const auto [top, bottom] = detail::vertical_margins(options);
  const detail::AxisTicks yt = detail::axis_ticks(y, picture.height);
  const detail::AxisTicks xt = detail::axis_ticks(x, picture.width);
  const detail::Fonts f(options.font_scale);
  int left = detail::left_margin(yt, options);
  const double last_tick = xt.labels.empty() ? 0 : detail::text_width(xt.labels.back(), f.tick);
  const int right = int(detail::kPad + std::ceil(last_tick / 2));
  // Widen a figure narrower than its title or note, keeping the axes central.
  const double text = std::max(options.title.empty() ? 0 : detail::text_width(options.title, f.title),
                               options.note.empty() ? 0 : detail::text_width(options.note, f.note));
  const int width = std::max(left + picture.width + right, int(std::ceil(text + 2 * detail::kPad)));
  left += (width - (left + picture.width + right)) / 2;
  detail::Canvas c(width, top + picture.height + bottom);
  const detail::Axes a{left, top, left + picture.width, top + picture.height, x, y};
  c.draw_image(picture, a.x0, a.y0);
  detail::draw_axes(c, a, xt, yt, options);
  return c.take();
}

/// The same with only a title: the latent ranges as four numbers.
inline Image image_with_axes(const Image& picture, double x_lo, double x_hi, double y_lo, double y_hi,
                             const std::string& title) {
  PlotOptions o;
  o.title = title;
  return image_with_axes(picture, Range{x_lo, x_hi}, Range{y_lo, y_hi}, o);
}

}  // namespace vae::viz
