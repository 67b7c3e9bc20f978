#pragma once
// 2-D convolution and transposed convolution on batches of images, as
// PyTorch's nn.Conv2d and nn.ConvTranspose2d compute them (square kernels,
// the same stride and zero padding along both axes, no dilation or groups).
//
// Layout. A batch is a matrix with one image per column, each image channel
// after channel and row after row inside a channel (PyTorch's C x H x W, the
// order nn.Flatten gives a dense layer). The weights are PyTorch's tensors
// in their own order: a convolution's [out, in, kh, kw], a transposed
// convolution's [in, out, kh, kw], then the bias [out].
//
// Method (im2col plus one large GEMM per layer and batch). For a convolution
// of an image C x H x W into Co x OH x OW with kernel k, the patches of the
// whole batch form a matrix P of R = batch x OH x OW rows (one output pixel
// of one image each) and K = C k k columns; P times the weight seen as a
// K x Co matrix gives every output pixel of every image, channel by channel:
// a (R x Co) matrix whose columns the last step scatters back into the
// images while it adds the bias and applies the activation. A transposed
// convolution is the same map's adjoint: its input, one channel per column,
// times the weight gives the patches' values, which col2im adds into the
// image. The gradients are the same products transposed. Every loop here
// writes each output element from one thread in a fixed order, so the bits
// never depend on the thread count.

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>

#include <Eigen/Core>

#include "vae/backend/backend.hpp"
#include "vae/backend/cpu.hpp"
#include "vae/core/elementwise.hpp"
#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"
#include "vae/layers/activations.hpp"

namespace vae {

/// The shapes of one convolution, as the im2col of its larger image sees
/// them: the image (channels x height x width) a convolution reads and a
/// transposed convolution writes, and the grid of kernel positions (one per
/// pixel of the smaller image).
struct ConvGeometry {
  /// @{
  /// The larger image: channels, height, width.
  Index channels = 0, height = 0, width = 0;
  /// @}
  /// @{
  /// The kernel's side, the stride and the zero padding on every side.
  Index kernel = 1, stride = 1, padding = 0;
  /// @}
  /// @{
  /// The grid of kernel positions: the smaller image's height and width.
  Index grid_height = 0, grid_width = 0;
  /// @}

  /// The geometry of a convolution of a channels x height x width image:
  /// grid floor((height + 2 padding - kernel) / stride) + 1 on each side.
  static ConvGeometry of(Index channels, Index height, Index width, Index kernel, Index stride, Index padding) {
    ConvGeometry g{channels, height, width, kernel, stride, padding, 0, 0};
    g.grid_height = (height + 2 * padding - kernel) / stride + 1;
    g.grid_width = (width + 2 * padding - kernel) / stride + 1;
    return g;
  }
  /// Elements of the larger image.
  VAE_HOST_DEVICE Index image_size() const { return channels * height * width; }
  /// Kernel positions per image.
  VAE_HOST_DEVICE Index positions() const { return grid_height * grid_width; }
  /// Columns of the patch matrix: channels x kernel x kernel.
  VAE_HOST_DEVICE Index patch_size() const { return channels * kernel * kernel; }
};

/// The shape checks of a convolution; throws ShapeError naming `who` and the
/// offending value unless the sizes are positive, the padding is less than
/// the kernel and the kernel fits in the padded image.
inline void check_conv_shape(const std::string& who, Index channels, Index height, Index width, Index kernel,
                             Index stride, Index padding) {
  const auto fail = [&](const std::string& what) { throw ShapeError(who + ": " + what); };
  if (channels < 1 || height < 1 || width < 1)
    fail("the image is " + std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width) +
         ", expected positive channels, height and width");
  if (kernel < 1 || stride < 1) fail("kernel " + std::to_string(kernel) + " and stride " + std::to_string(stride) +
                                     ": both must be at least 1");
  if (padding < 0 || padding >= kernel)
    fail("padding " + std::to_string(padding) + " with kernel " + std::to_string(kernel) +
         ": the padding must be at least 0 and less than the kernel");
  if (height + 2 * padding < kernel || width + 2 * padding < kernel)
    fail("the kernel " + std::to_string(kernel) + "x" + std::to_string(kernel) + " is larger than the padded image " +
         std::to_string(height + 2 * padding) + "x" + std::to_string(width + 2 * padding));
}

/// The same steps as element kernels, one output element per call of
/// apply<S>(i, j) (a scalar: how a GPU thread runs them, through
/// Ops<B, S>::for_each); the backends without the CPU's loops run these, on
/// whole batches. Each writes its own element only, in a fixed order.
namespace kernels {

/// p(r, k) = the image pixel patch element k of row r reads (im2col), 0 in
/// the padding: p is R x K over the images x.
template <class S>
struct Im2col {
  ConvGeometry g;
  ConstView<S> x;
  View<S> p;
  VAE_ELEMENTWISE(class T) void apply(Index r, Index k) const {
    const Index positions = g.grid_height * g.grid_width, b = r / positions, q = r % positions;
    const Index c = k / (g.kernel * g.kernel), ky = (k / g.kernel) % g.kernel, kx = k % g.kernel;
    const Index iy = (q / g.grid_width) * g.stride - g.padding + ky, ix = (q % g.grid_width) * g.stride - g.padding + kx;
    const bool inside = iy >= 0 && iy < g.height && ix >= 0 && ix < g.width;
    p(r, k) = inside ? x((c * g.height + iy) * g.width + ix, b) : T(0);
  }
};

/// dx(i, b) = the sum of the patch elements of p taken from pixel i of image
/// b (col2im), kernel offsets in order.
template <class S>
struct Col2im {
  ConvGeometry g;
  ConstView<S> p;
  View<S> dx;
  VAE_ELEMENTWISE(class T) void apply(Index i, Index b) const {
    const Index c = i / (g.height * g.width), iy = (i / g.width) % g.height, ix = i % g.width;
    const Index positions = g.grid_height * g.grid_width;
    T total = T(0);
    for (Index ky = 0; ky < g.kernel; ++ky) {
      const Index ty = iy + g.padding - ky;
      if (ty < 0 || ty % g.stride != 0 || ty / g.stride >= g.grid_height) continue;
      for (Index kx = 0; kx < g.kernel; ++kx) {
        const Index tx = ix + g.padding - kx;
        if (tx < 0 || tx % g.stride != 0 || tx / g.stride >= g.grid_width) continue;
        total += p(b * positions + (ty / g.stride) * g.grid_width + tx / g.stride, (c * g.kernel + ky) * g.kernel + kx);
      }
    }
    dx(i, b) = total;
  }
};

/// y(i, b) = act(yp(b positions + q, c) + bias(c)), i = c positions + q:
/// from the product's layout (a pixel a row, a channel a column) to images.
template <class Act, class S>
struct ScatterBiasActivation {
  ConstView<S> yp, bias;
  Index positions;
  View<S> y;
  VAE_ELEMENTWISE(class T) void apply(Index i, Index b) const {
    const Index c = i / positions, q = i % positions;
    y(i, b) = Act::value(T(yp(b * positions + q, c) + bias(c, 0)));
  }
};

/// gp(r, c) = g(c positions + q, b) act'(y(c positions + q, b)), r = b
/// positions + q: from images to the product's layout (with y = g and
/// Identity, a plain gather).
template <class Act, class S>
struct GatherActivationGrad {
  ConstView<S> g, y;
  Index positions;
  View<S> gp;
  VAE_ELEMENTWISE(class T) void apply(Index r, Index c) const {
    const Index b = r / positions, i = c * positions + r % positions;
    gp(r, c) = T(g(i, b) * Act::derivative(T(y(i, b))));
  }
};

/// y(i, b) = act(y(i, b) + bias(c)), c = i / positions.
template <class Act, class S>
struct BiasActivationImages {
  View<S> y;
  ConstView<S> bias;
  Index positions;
  VAE_ELEMENTWISE(class T) void apply(Index i, Index b) const { y(i, b) = Act::value(T(y(i, b) + bias(i / positions, 0))); }
};

/// dx(i, b) = dxp(b positions + q, c), i = c positions + q.
template <class S>
struct ScatterChannels {
  ConstView<S> dxp;
  Index positions;
  View<S> dx;
  VAE_ELEMENTWISE(class T) void apply(Index i, Index b) const {
    dx(i, b) = dxp(b * positions + i % positions, i / positions);
  }
};

/// The element itself: column_sums of it are a matrix's column sums.
template <class S>
struct Element {
  ConstView<S> m;
  VAE_ELEMENTWISE(class T) T apply(Index i, Index j) const { return T(m(i, j)); }
};

/// y(i, b) = x(i, b) for the image's `image` rows, then each of x's label
/// rows spread over a plane of `plane` elements: label row k fills y's rows
/// image + k plane to image + (k + 1) plane.
template <class S>
struct LabelPlanes {
  ConstView<S> x;
  Index image, plane;
  View<S> y;
  VAE_ELEMENTWISE(class T) void apply(Index i, Index b) const {
    y(i, b) = i < image ? x(i, b) : x(image + (i - image) / plane, b);
  }
};

/// The gradient of LabelPlanes: dx(i, b) = dy(i, b) for the image's rows, a
/// label row's the sum of its plane's gradients, in order.
template <class S>
struct LabelPlanesGrad {
  ConstView<S> dy;
  Index image, plane;
  View<S> dx;
  VAE_ELEMENTWISE(class T) void apply(Index i, Index b) const {
    if (i < image) {
      dx(i, b) = dy(i, b);
      return;
    }
    const Index first = image + (i - image) * plane;
    T total = T(0);
    for (Index q = 0; q < plane; ++q) total += dy(first + q, b);
    dx(i, b) = total;
  }
};

}  // namespace kernels

namespace detail {

/// The patches of a batch (im2col): p (R x K, R = batch x positions,
/// K = patch_size; row b * positions + oy * grid_width + ox, column
/// (c * kernel + ky) * kernel + kx) from the images x (image_size x batch),
/// zeros where the kernel covers the padding. On the calling thread.
template <class S>
void im2col(const ConvGeometry& g, ConstView<S> x, View<S> p) {
  const Index batch = x.cols, positions = g.positions(), k = g.kernel;
  for (Index b = 0; b < batch; ++b) {
    const S* image = x.data + b * x.ld;
    for (Index c = 0; c < g.channels; ++c)
      for (Index ky = 0; ky < k; ++ky)
        for (Index kx = 0; kx < k; ++kx) {
          S* out = p.data + ((c * k + ky) * k + kx) * p.ld + b * positions;
          // The grid columns whose input column lies inside the image.
          const Index first = std::min(g.grid_width, std::max<Index>(0, (g.padding - kx + g.stride - 1) / g.stride));
          const Index last = std::max(first, std::min(g.grid_width, (g.width + g.padding - kx + g.stride - 1) / g.stride));
          for (Index oy = 0; oy < g.grid_height; ++oy) {
            S* row = out + oy * g.grid_width;
            const Index iy = oy * g.stride - g.padding + ky;
            if (iy < 0 || iy >= g.height) {
              std::fill(row, row + g.grid_width, S(0));
              continue;
            }
            const S* in = image + (c * g.height + iy) * g.width - g.padding + kx;
            std::fill(row, row + first, S(0));
            if (g.stride == 1) {
              std::copy(in + first, in + last, row + first);
            } else {
              for (Index ox = first; ox < last; ++ox) row[ox] = in[ox * g.stride];
            }
            std::fill(row + last, row + g.grid_width, S(0));
          }
        }
  }
}

/// im2col's adjoint (col2im): dx (image_size x batch) = the sum, over every
/// patch element of p, of that element at the image pixel it was taken
/// from; assigned (the padding's share is dropped), the terms added in a
/// fixed order. On the calling thread.
template <class S>
void col2im(const ConvGeometry& g, ConstView<S> p, View<S> dx) {
  const Index batch = dx.cols, positions = g.positions(), k = g.kernel;
  for (Index b = 0; b < batch; ++b) {
    S* image = dx.data + b * dx.ld;
    std::fill(image, image + g.image_size(), S(0));
    for (Index c = 0; c < g.channels; ++c)
      for (Index ky = 0; ky < k; ++ky)
        for (Index kx = 0; kx < k; ++kx) {
          const S* in = p.data + ((c * k + ky) * k + kx) * p.ld + b * positions;
          const Index first = std::min(g.grid_width, std::max<Index>(0, (g.padding - kx + g.stride - 1) / g.stride));
          const Index last = std::max(first, std::min(g.grid_width, (g.width + g.padding - kx + g.stride - 1) / g.stride));
          for (Index oy = 0; oy < g.grid_height; ++oy) {
            const Index iy = oy * g.stride - g.padding + ky;
            if (iy < 0 || iy >= g.height) continue;
            const S* row = in + oy * g.grid_width;
            S* out = image + (c * g.height + iy) * g.width - g.padding + kx;
            if (g.stride == 1) {
              for (Index ox = first; ox < last; ++ox) out[ox] += row[ox];
            } else {
              for (Index ox = first; ox < last; ++ox) out[ox * g.stride] += row[ox];
            }
          }
        }
  }
}

/// A type carried as a value (a generic lambda's T).
template <class T>
struct TypeTag {
  using type = T;
};

/// f over [0, n) in packets of kPacketSize<S> and a scalar tail:
/// f(TypeTag<T>{}, i) handles elements [i, i + size of T).
template <class S, class F>
void packets(Index n, const F& f) {
  Index i = 0;
  for (; i + kPacketSize<S> <= n; i += kPacketSize<S>) f(TypeTag<Packet<S>>{}, i);
  for (; i < n; ++i) f(TypeTag<S>{}, i);
}

/// The sum of in[0, n), in packets from in[0] and then the tail: the same
/// order wherever `in` lies (Eigen's own sum starts at an aligned address,
/// so its bits would depend on the memory a thread happens to work in).
template <class S>
S sum_run(const S* in, Index n) {
  Packet<S> packets = Packet<S>::Zero();
  Index i = 0;
  for (; i + kPacketSize<S> <= n; i += kPacketSize<S>) packets += el::load<Packet<S>>(in + i);
  S total = packets.sum();
  for (; i < n; ++i) total += in[i];
  return total;
}

/// f(b, c) for every image b of a batch and every channel c.
template <class F>
void each_image_channel(Index batch, Index channels, const F& f) {
  for (Index b = 0; b < batch; ++b)
    for (Index c = 0; c < channels; ++c) f(b, c);
}

/// out[i] = act(in[i] + beta) for i in [0, n) (in may be out).
template <class Act, class S>
void bias_activation_run(const S* in, S beta, Index n, S* out) {
  packets<S>(n, [&](auto tag, Index i) {
    using T = typename decltype(tag)::type;
    el::store(out + i, Act::value(T(el::load<T>(in + i) + beta)));
  });
}

/// out[i] = g[i] act'(a[i]) for i in [0, n) (g may be out); a copy for Identity.
template <class Act, class S>
void activation_grad_run(const S* g, const S* a, Index n, S* out) {
  if constexpr (std::is_same_v<Act, Identity>) {
    if (g != out) std::copy(g, g + n, out);
  } else {
    packets<S>(n, [&](auto tag, Index i) {
      using T = typename decltype(tag)::type;
      el::store(out + i, T(el::load<T>(g + i) * Act::derivative(el::load<T>(a + i))));
    });
  }
}

/// y (channels x positions per column, one image each) = act(yp + bias):
/// yp is R x channels with R = batch x positions (one output pixel a row,
/// one channel a column), the layout of the convolution's product.
template <class Act, class S>
void scatter_bias_activation(ConstView<S> yp, ConstView<S> bias, Index positions, View<S> y) {
  each_image_channel(y.cols, yp.cols, [&](Index b, Index c) {
    bias_activation_run<Act>(yp.data + c * yp.ld + b * positions, bias.data[c], positions,
                             y.data + b * y.ld + c * positions);
  });
}

/// The other way: gp (R x channels) from images g (channels x positions per
/// column), each element multiplied by act'(y) (y the forward's output)
/// unless Act is Identity: dL/d(pre-activation) in the product's layout.
template <class Act, class S>
void gather_activation_grad(ConstView<S> g, ConstView<S> y, Index positions, View<S> gp) {
  each_image_channel(g.cols, gp.cols, [&](Index b, Index c) {
    activation_grad_run<Act>(g.data + b * g.ld + c * positions, y.data + b * y.ld + c * positions, positions,
                             gp.data + c * gp.ld + b * positions);
  });
}

/// y = act(y + bias[c]) in place over images of `channels` x positions.
template <class Act, class S>
void bias_activation_images(View<S> y, ConstView<S> bias, Index channels, Index positions) {
  each_image_channel(y.cols, channels, [&](Index b, Index c) {
    S* at = y.data + b * y.ld + c * positions;
    bias_activation_run<Act>(at, bias.data[c], positions, at);
  });
}

/// dy *= act'(y) in place (nothing for Identity).
template <class Act, class S>
void activation_grad_images(View<S> dy, ConstView<S> y) {
  if constexpr (!std::is_same_v<Act, Identity>)
    each_image_channel(dy.cols, 1, [&](Index b, Index) {
      activation_grad_run<Act>(dy.data + b * dy.ld, y.data + b * y.ld, dy.rows, dy.data + b * dy.ld);
    });
}

/// db[c] = the sum of every element of channel c over the images g
/// (channels x positions per column), added image after image (added to db
/// when `accumulate`).
template <class S>
void channel_sums_images(ConstView<S> g, Index channels, Index positions, View<S> db, bool accumulate = false) {
  for (Index c = 0; c < channels; ++c) {
    double total = 0;
    for (Index b = 0; b < g.cols; ++b) total += double(sum_run(g.data + b * g.ld + c * positions, positions));
    db.data[c] = accumulate ? S(db.data[c] + S(total)) : S(total);
  }
}

/// xp (R x channels, one pixel a row) from images x (channels x positions
/// per column): a transposed convolution's input in the product's layout.
template <class S>
void gather_channels(ConstView<S> x, Index positions, View<S> xp) {
  gather_activation_grad<Identity>(x, x, positions, xp);
}

/// The reverse of gather_channels: images dx from dxp (R x channels).
template <class S>
void scatter_channels(ConstView<S> dxp, Index positions, View<S> dx) {
  each_image_channel(dx.cols, dxp.cols, [&](Index b, Index c) {
    const S* in = dxp.data + c * dxp.ld + b * positions;
    std::copy(in, in + positions, dx.data + b * dx.ld + c * positions);
  });
}

/// f(b) for every column b of a rows x cols matrix, a column a task.
template <class F>
void each_column(Index rows, Index cols, const F& f) {
  const Index threads = loop_threads(rows, cols);
  run_blocks(cols, threads, loop_chunk(cols, threads), f);
}

/// LabelPlanes on the CPU: y (image + classes x plane rows) from x (image +
/// classes rows).
template <class S>
void label_planes(ConstView<S> x, Index image, Index plane, View<S> y) {
  each_column(y.rows, y.cols, [&](Index b) {
    const S* in = x.data + b * x.ld;
    S* out = y.data + b * y.ld;
    std::copy(in, in + image, out);
    for (Index k = 0; k < x.rows - image; ++k)
      std::fill(out + image + k * plane, out + image + (k + 1) * plane, in[image + k]);
  });
}

/// LabelPlanesGrad on the CPU: each label row's plane summed in sum_run's
/// fixed order.
template <class S>
void label_planes_grad(ConstView<S> dy, Index image, Index plane, View<S> dx) {
  each_column(dy.rows, dy.cols, [&](Index b) {
    const S* in = dy.data + b * dy.ld;
    S* out = dx.data + b * dx.ld;
    std::copy(in, in + image, out);
    for (Index k = 0; k < dx.rows - image; ++k) out[image + k] = sum_run(in + image + k * plane, plane);
  });
}

/// PyTorch's default initialisation of a convolution's weight and bias:
/// uniform in +-1/sqrt(fan_in), fan_in = (the weight's second dimension) x
/// kernel x kernel (in channels for nn.Conv2d, out channels for
/// nn.ConvTranspose2d), `count` weights then `bias` biases.
template <class S>
void initialize_conv(Rng& rng, Index fan_in, Index count, Index bias, S* host) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  for (Index i = 0; i < count + bias; ++i) host[i] = rng.uniform<S>(S(-bound), S(bound));
}

}  // namespace detail
}  // namespace vae
