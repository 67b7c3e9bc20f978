// The convolutions of the Keras example's convolutional VAE
// (vae::keras_conv_networks(2): conv2d 1x28x28->32x14x14 and
// 32x14x14->64x7x7, conv_transpose2d 64x7x7->64x14x14, 64x14x14->32x28x28
// and 32x28x28->1x28x28), layer by layer, computed two ways on the CPU in
// float:
//   vae     its own im2col + GEMM kernels (layers/conv.hpp), through a
//           SequentialNet<float, Cpu> of that one layer: forward, and
//           backward with the input's gradient (dx) as well as the weights'
//           and the bias's;
//   oneDNN  (Debian's libdnnl-dev, 2.6) convolution_forward (forward_training,
//           with bias), convolution_backward_data and _backward_weights (with
//           bias); deconvolution_* for a transposed convolution. Images are
//           NCHW (format_tag::nchw, which is vae's layout: one image per
//           column, C x H x W inside); the weights are format_tag::any, the
//           layout oneDNN prefers, reordered from PyTorch's order (vae's)
//           once, outside the timing: oneDNN's best case for vae's layout.
//           Where oneDNN's layout is not the plain one, a user keeping
//           PyTorch's order would pay those reorders every step (listed).
// Both compute the convolution and its bias alone: the layers' ReLUs are
// left out of both (the vae layer runs with its activation set to identity).
// Before timing, each layer's forward output and gradients from oneDNN are
// checked against vae's (the maximum absolute difference is printed; the
// program exits 1 when one exceeds 1e-3 of the largest value compared).
// Each repetition runs vae's forward, vae's backward, oneDNN's forward and
// oneDNN's backward (backward data then backward weights), one after the
// other; the table gives the median of each over the repetitions, after
// warm-up ones, in milliseconds. Both run on the same OpenMP thread count
// (vae::set_num_threads and omp_set_num_threads).
//   conv_kernels [--threads N] [--batch N] [--reps N] [--warmup N] [--any-activations]
// --any-activations lets oneDNN choose the images' layout too (format_tag::any,
// the data reordered outside the timing): not vae's layout, for reference.
// Prints markdown: notes per layer, then a table whose last row sums the layers.
// Built only where CMake finds oneDNN (benchmarks/CMakeLists.txt).
#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include <dnnl.hpp>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include <vae/backend/blas_kernels.hpp>
#include <vae/vae.hpp>

namespace {

using vae::Index;
using Net = vae::detail::SequentialNet<float, vae::Cpu>;
using Clock = std::chrono::steady_clock;
using dnnl::memory;
using Tag = memory::format_tag;

/// Milliseconds since t0.
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

/// The median of v (the upper one of an even count).
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

/// A convolution's shapes, read from its LayerSpec.
struct Shape {
  bool transposed = false;
  Index in_c = 0, in_h = 0, in_w = 0, out_c = 0, out_h = 0, out_w = 0;
  Index kernel = 0, stride = 0, padding = 0, output_padding = 0;
  Index in_size() const { return in_c * in_h * in_w; }
  Index out_size() const { return out_c * out_h * out_w; }
  Index weights() const { return in_c * out_c * kernel * kernel; }
  /// "conv2d 1x28x28->32x14x14 k3 s2 p1".
  std::string label() const {
    const auto image = [](Index c, Index h, Index w) {
      return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
    };
    std::string s = std::string(transposed ? "conv_transpose2d " : "conv2d ") + image(in_c, in_h, in_w) + "->" +
                    image(out_c, out_h, out_w) + " k" + std::to_string(kernel) + " s" + std::to_string(stride) +
                    " p" + std::to_string(padding);
    if (transposed) s += " op" + std::to_string(output_padding);
    return s;
  }
};

Shape shape_of(const vae::LayerSpec& l) {
  Shape s;
  s.transposed = l.kind == "conv_transpose2d";
  s.in_c = Index(l.input[0]), s.in_h = Index(l.input[1]), s.in_w = Index(l.input[2]);
  s.out_c = Index(l.output[0]), s.out_h = Index(l.output[1]), s.out_w = Index(l.output[2]);
  s.kernel = Index(l.settings[0]), s.stride = Index(l.settings[1]), s.padding = Index(l.settings[2]);
  if (s.transposed) s.output_padding = Index(l.settings[3]);
  return s;
}

/// The data of one layer's run: the same input, output gradient and
/// parameters for both ways.
struct Data {
  Eigen::MatrixXf x, dy;   // in_size x batch, out_size x batch (NCHW)
  Eigen::VectorXf params;  // PyTorch's order: weights, then the bias
};

/// What a run computed: output, input gradient, weight and bias gradients
/// (vae's layouts and PyTorch's order).
struct Result {
  Eigen::MatrixXf y, dx;
  Eigen::VectorXf dw, db;
};

/// vae's way: a SequentialNet of the one layer.
class VaeLayer {
 public:
  VaeLayer(const vae::LayerSpec& spec, const Data& data)
      : net_(std::vector<vae::LayerSpec>{spec}, "conv_kernels"), params_(data.params),
        grads_(Eigen::VectorXf::Zero(data.params.size())), x_(data.x), dy_(data.dy),
        dx_(data.x.rows(), data.x.cols()) {
    net_.bind(params_.data(), grads_.data());
    ws_ = net_.workspace();
    ws_.reserve(x_.cols());
  }
  void forward() { y_ = net_.forward(ctx_, xv(), ws_); }
  /// After forward(): every gradient, dL/dx among them. The identity
  /// activation leaves dy as it is, so it can be used again.
  void backward() {
    net_.backward(ctx_, xv(), ws_, vae::make_view(dy_.data(), dy_.rows(), dy_.cols()),
                  vae::make_view(dx_.data(), dx_.rows(), dx_.cols()));
  }
  Result result(const Shape& s) const {
    Result r;
    r.y = Eigen::Map<const Eigen::MatrixXf>(y_.data, y_.rows, y_.cols);
    r.dx = dx_;
    r.dw = grads_.head(s.weights());
    r.db = grads_.tail(s.out_c);
    return r;
  }

 private:
  vae::ConstView<float> xv() const { return vae::ConstView<float>(x_.data(), x_.rows(), x_.cols(), x_.rows()); }
  Net net_;
  Eigen::VectorXf params_, grads_;
  Eigen::MatrixXf x_, dy_, dx_;
  Net::Workspace ws_;
  vae::View<float> y_{};
  vae::Cpu::Context ctx_{};
};

/// A memory descriptor's layout in oneDNN's notation, its dimensions named
/// by `names` ("oihw" for weights, "nchw" for images): the dimensions from
/// the outermost (upper case where blocked), then the inner blocks
/// ("oihw" plain, "OIhw16i16o" blocked).
std::string layout(const memory::desc& md, const char* names) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked) return "(not blocked)";
  const auto& blk = d.format_desc.blocking;
  std::vector<int> order(static_cast<std::size_t>(d.ndims));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return blk.strides[a] > blk.strides[b]; });
  std::string s;
  for (const int i : order) {
    bool blocked = false;
    for (int j = 0; j < blk.inner_nblks; ++j) blocked = blocked || blk.inner_idxs[j] == i;
    s += blocked ? char(std::toupper(names[i])) : names[i];
  }
  for (int j = 0; j < blk.inner_nblks; ++j) s += std::to_string(blk.inner_blks[j]) + names[blk.inner_idxs[j]];
  return s;
}

/// oneDNN's way, for a convolution (Fwd = convolution_forward, ...) or a
/// transposed one (deconvolution_*): the primitives, their memories in the
/// layouts they chose, and the user's (vae's) data reordered into them once.
template <class Fwd, class BwdData, class BwdWeights>
class DnnlLayer {
 public:
  DnnlLayer(const Shape& s, const Data& data, dnnl::algorithm algorithm, bool any_activations)
      : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    const memory::dim n = data.x.cols();
    const memory::dims src_dims = {n, s.in_c, s.in_h, s.in_w}, dst_dims = {n, s.out_c, s.out_h, s.out_w};
    // oneDNN's weights are {out channels, in channels, kh, kw} for both: a
    // convolution's [out, in, kh, kw] is oihw, a transposed one's
    // [in, out, kh, kw] (PyTorch's, vae's) iohw.
    const memory::dims w_dims = {s.out_c, s.in_c, s.kernel, s.kernel}, b_dims = {s.out_c};
    const memory::dims strides = {s.stride, s.stride}, pad_l = {s.padding, s.padding};
    // A transposed convolution's output is (in - 1) stride - pad_l - pad_r +
    // kernel: PyTorch's output padding is taken off the padding on the right.
    const memory::dims pad_r = {s.padding - s.output_padding, s.padding - s.output_padding};
    const auto f32 = memory::data_type::f32;
    const Tag image_tag = any_activations ? Tag::any : Tag::nchw;
    user_src_ = memory::desc(src_dims, f32, Tag::nchw);
    user_dst_ = memory::desc(dst_dims, f32, Tag::nchw);
    user_w_ = memory::desc(w_dims, f32, s.transposed ? Tag::iohw : Tag::oihw);
    user_w_tag_ = s.transposed ? "iohw" : "oihw";
    const memory::desc src(src_dims, f32, image_tag), dst(dst_dims, f32, image_tag), w(w_dims, f32, Tag::any),
        b(b_dims, f32, Tag::x);

    fwd_pd_ = typename Fwd::primitive_desc(
        typename Fwd::desc(dnnl::prop_kind::forward_training, algorithm, src, w, b, dst, strides, pad_l, pad_r),
        engine_);
    bwd_data_pd_ = typename BwdData::primitive_desc(
        typename BwdData::desc(algorithm, src, w, dst, strides, pad_l, pad_r), engine_, fwd_pd_);
    bwd_weights_pd_ = typename BwdWeights::primitive_desc(
        typename BwdWeights::desc(algorithm, src, w, b, dst, strides, pad_l, pad_r), engine_, fwd_pd_);
    fwd_ = Fwd(fwd_pd_);
    bwd_data_ = BwdData(bwd_data_pd_);
    bwd_weights_ = BwdWeights(bwd_weights_pd_);

    src_ = memory(fwd_pd_.src_desc(), engine_);
    w_fwd_ = memory(fwd_pd_.weights_desc(), engine_);
    b_ = memory(fwd_pd_.bias_desc(), engine_);
    dst_ = memory(fwd_pd_.dst_desc(), engine_);
    diff_dst_ = memory(bwd_data_pd_.diff_dst_desc(), engine_);
    diff_dst_w_ = bwd_weights_pd_.diff_dst_desc() == bwd_data_pd_.diff_dst_desc()
                      ? diff_dst_
                      : memory(bwd_weights_pd_.diff_dst_desc(), engine_);
    src_w_ = bwd_weights_pd_.src_desc() == fwd_pd_.src_desc() ? src_ : memory(bwd_weights_pd_.src_desc(), engine_);
    w_bwd_ =
        bwd_data_pd_.weights_desc() == fwd_pd_.weights_desc() ? w_fwd_ : memory(bwd_data_pd_.weights_desc(), engine_);
    diff_src_ = memory(bwd_data_pd_.diff_src_desc(), engine_);
    diff_w_ = memory(bwd_weights_pd_.diff_weights_desc(), engine_);
    diff_b_ = memory(bwd_weights_pd_.diff_bias_desc(), engine_);

    // The user's data, once: the same input, output gradient and parameters as vae's.
    auto* x = const_cast<float*>(data.x.data());
    auto* dy = const_cast<float*>(data.dy.data());
    auto* p = const_cast<float*>(data.params.data());
    reorder(memory(user_src_, engine_, x), src_);
    if (src_w_ != src_) reorder(memory(user_src_, engine_, x), src_w_);
    reorder(memory(user_dst_, engine_, dy), diff_dst_);
    if (diff_dst_w_ != diff_dst_) reorder(memory(user_dst_, engine_, dy), diff_dst_w_);
    reorder(memory(user_w_, engine_, p), w_fwd_);
    if (w_bwd_ != w_fwd_) reorder(memory(user_w_, engine_, p), w_bwd_);
    std::memcpy(b_.get_data_handle(), p + s.weights(), sizeof(float) * std::size_t(s.out_c));
  }

  void forward() {
    fwd_.execute(stream_,
                 {{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, w_fwd_}, {DNNL_ARG_BIAS, b_}, {DNNL_ARG_DST, dst_}});
    stream_.wait();
  }
  void backward() {
    bwd_data_.execute(stream_,
                      {{DNNL_ARG_DIFF_DST, diff_dst_}, {DNNL_ARG_WEIGHTS, w_bwd_}, {DNNL_ARG_DIFF_SRC, diff_src_}});
    bwd_weights_.execute(stream_, {{DNNL_ARG_SRC, src_w_},
                                   {DNNL_ARG_DIFF_DST, diff_dst_w_},
                                   {DNNL_ARG_DIFF_WEIGHTS, diff_w_},
                                   {DNNL_ARG_DIFF_BIAS, diff_b_}});
    stream_.wait();
  }

  /// What the last forward and backward computed, in vae's layouts.
  Result result(const Shape& s, Index batch) {
    Result r;
    r.y.resize(s.out_size(), batch);
    r.dx.resize(s.in_size(), batch);
    r.dw.resize(s.weights());
    r.db.resize(s.out_c);
    reorder(dst_, memory(user_dst_, engine_, r.y.data()));
    reorder(diff_src_, memory(user_src_, engine_, r.dx.data()));
    reorder(diff_w_, memory(user_w_, engine_, r.dw.data()));
    std::memcpy(r.db.data(), diff_b_.get_data_handle(), sizeof(float) * std::size_t(s.out_c));
    return r;
  }

  /// Which implementations oneDNN chose, and the layouts that differ from
  /// the user's (the reorders a training step would need).
  std::string notes() const {
    // The user's own tag where a layout is the user's (a dimension of 1 leaves the order of the others open).
    const auto weights = [&](const memory::desc& md) { return md == user_w_ ? user_w_tag_ : layout(md, "oihw"); };
    std::string s = "oneDNN implementations: forward `" + std::string(fwd_pd_.impl_info_str()) + "`, backward data `" +
                    bwd_data_pd_.impl_info_str() + "`, backward weights `" + bwd_weights_pd_.impl_info_str() +
                    "`; weights: user " + weights(user_w_) + ", forward " + weights(fwd_pd_.weights_desc()) +
                    ", backward data " + weights(bwd_data_pd_.weights_desc()) + ", weight gradient " +
                    weights(bwd_weights_pd_.diff_weights_desc());
    const bool reorders = fwd_pd_.weights_desc() != user_w_ || bwd_data_pd_.weights_desc() != user_w_ ||
                          bwd_weights_pd_.diff_weights_desc() != user_w_;
    s += reorders ? " (not the user's: reorders each step, untimed here)" : " (no reorder)";
    if (fwd_pd_.src_desc() != user_src_ || fwd_pd_.dst_desc() != user_dst_)
      s += "; images: src " + layout(fwd_pd_.src_desc(), "nchw") + ", dst " + layout(fwd_pd_.dst_desc(), "nchw") +
           " (not NCHW: reorders untimed)";
    return s;
  }

 private:
  void reorder(memory from, memory to) {
    dnnl::reorder(from, to).execute(stream_, from, to);
    stream_.wait();
  }

  dnnl::engine engine_;
  dnnl::stream stream_;
  memory::desc user_src_, user_dst_, user_w_;
  std::string user_w_tag_;
  typename Fwd::primitive_desc fwd_pd_;
  typename BwdData::primitive_desc bwd_data_pd_;
  typename BwdWeights::primitive_desc bwd_weights_pd_;
  Fwd fwd_;
  BwdData bwd_data_;
  BwdWeights bwd_weights_;
  memory src_, src_w_, w_fwd_, w_bwd_, b_, dst_, diff_dst_, diff_dst_w_, diff_src_, diff_w_, diff_b_;
};

/// The largest |a - b|, and the largest |b| (the scale it is judged by).
struct Difference {
  double max_abs = 0, scale = 0;
  bool ok() const { return max_abs <= 1e-3 * std::max(1.0, scale); }
};
template <class A, class B>
Difference difference(const A& a, const B& b) {
  Difference d;
  d.max_abs = double((a - b).cwiseAbs().maxCoeff());
  d.scale = double(b.cwiseAbs().maxCoeff());
  return d;
}

struct Row {
  std::string label;
  double vae_fwd, vae_bwd, dnnl_fwd, dnnl_bwd;
};

struct Options {
  int threads = 2, reps = 20, warmup = 3;
  Index batch = 128;
  bool any_activations = false;
};

/// Checks and times one layer both ways; false when the results differ.
template <class Fwd, class BwdData, class BwdWeights>
bool run_layer(const vae::LayerSpec& taken, dnnl::algorithm algorithm, const Options& o, std::uint64_t seed,
               std::vector<Row>& rows) {
  vae::LayerSpec spec = taken;
  spec.activation = "identity";  // the convolution and its bias alone, as oneDNN's primitives compute them
  const Shape s = shape_of(spec);
  Data data;
  vae::Rng rng(seed);
  data.x.resize(s.in_size(), o.batch);
  data.dy.resize(s.out_size(), o.batch);
  for (Index i = 0; i < data.x.size(); ++i) data.x.data()[i] = rng.uniform<float>(-1.f, 1.f);
  for (Index i = 0; i < data.dy.size(); ++i) data.dy.data()[i] = rng.uniform<float>(-1.f, 1.f);
  const Net net(std::vector<vae::LayerSpec>{spec}, "conv_kernels");
  data.params.resize(net.num_parameters());
  net.initialize(rng, data.params.data());  // PyTorch's default initialisation

  VaeLayer ours(spec, data);
  DnnlLayer<Fwd, BwdData, BwdWeights> theirs(s, data, algorithm, o.any_activations);

  // The same computation: one forward and backward each, compared.
  ours.forward();
  ours.backward();
  theirs.forward();
  theirs.backward();
  const Result a = ours.result(s), b = theirs.result(s, o.batch);
  const Difference dy = difference(b.y, a.y), dx = difference(b.dx, a.dx), dw = difference(b.dw, a.dw),
                   db = difference(b.db, a.db);
  const bool ok = dy.ok() && dx.ok() && dw.ok() && db.ok();
  std::printf(
      "- **%s**: %s.\n  Check against vae (max |oneDNN - vae| / max |vae|): output %.3g / %.3g, dx %.3g / %.3g, "
      "dW %.3g / %.3g, db %.3g / %.3g: %s\n",
      s.label().c_str(), theirs.notes().c_str(), dy.max_abs, dy.scale, dx.max_abs, dx.scale, dw.max_abs, dw.scale,
      db.max_abs, db.scale, ok ? "same" : "DIFFERENT");
  std::fflush(stdout);
  if (!ok) return false;

  std::vector<double> t[4];
  for (int rep = 0; rep < o.warmup + o.reps; ++rep) {
    double ms[4];
    Clock::time_point t0 = Clock::now();
    ours.forward();
    ms[0] = ms_since(t0);
    t0 = Clock::now();
    ours.backward();
    ms[1] = ms_since(t0);
    t0 = Clock::now();
    theirs.forward();
    ms[2] = ms_since(t0);
    t0 = Clock::now();
    theirs.backward();
    ms[3] = ms_since(t0);
    if (rep >= o.warmup)
      for (int i = 0; i < 4; ++i) t[i].push_back(ms[i]);
  }
  rows.push_back({s.label(), median(t[0]), median(t[1]), median(t[2]), median(t[3])});
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  vae::use_native_blas_kernels(argv);
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const bool has_value = i + 1 < argc;
    if (flag == "--threads" && has_value) o.threads = std::stoi(argv[++i]);
    else if (flag == "--batch" && has_value) o.batch = std::stol(argv[++i]);
    else if (flag == "--reps" && has_value) o.reps = std::stoi(argv[++i]);
    else if (flag == "--warmup" && has_value) o.warmup = std::stoi(argv[++i]);
    else if (flag == "--any-activations") o.any_activations = true;
    else {
      std::fprintf(stderr,
                   "conv_kernels: unknown flag or missing value: %s (expected --threads N, --batch N, --reps N, "
                   "--warmup N, --any-activations)\n",
                   argv[i]);
      return 2;
    }
  }
  if (o.threads < 1 || o.batch < 1 || o.reps < 1 || o.warmup < 0) {
    std::fprintf(stderr, "conv_kernels: --threads, --batch and --reps must be at least 1, --warmup at least 0\n");
    return 2;
  }
  vae::set_num_threads(o.threads);
#if defined(_OPENMP)
  omp_set_num_threads(o.threads);
#endif
  const dnnl::version_t* v = dnnl::version();
  const vae::BlasKernels kernels = vae::blas_kernels();
  std::printf("# conv_kernels: vae im2col + GEMM against oneDNN %d.%d.%d\n\n"
              "float, batch %ld, %d threads, median of %d repetitions after %d warm-up ones; vae's GEMM: %s; "
              "oneDNN images: %s, weights: any.\n\n",
              v->major, v->minor, v->patch, static_cast<long>(o.batch), o.threads, o.reps, o.warmup,
              kernels.core.empty() ? "Eigen" : ("OpenBLAS " + kernels.core).c_str(),
              o.any_activations ? "any (reordered outside the timing)" : "NCHW");

  using namespace dnnl;
  const vae::ConvNetworks networks = vae::keras_conv_networks(2);
  std::vector<vae::LayerSpec> layers;
  for (const auto* list : {&networks.encoder, &networks.decoder})
    for (const vae::LayerSpec& l : *list)
      if (l.kind == "conv2d" || l.kind == "conv_transpose2d") layers.push_back(l);
  std::vector<Row> rows;
  bool ok = true;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const std::uint64_t seed = 1000 + i;
    if (layers[i].kind == "conv2d")
      ok = run_layer<convolution_forward, convolution_backward_data, convolution_backward_weights>(
               layers[i], algorithm::convolution_direct, o, seed, rows) && ok;
    else
      ok = run_layer<deconvolution_forward, deconvolution_backward_data, deconvolution_backward_weights>(
               layers[i], algorithm::deconvolution_direct, o, seed, rows) && ok;
  }
  if (!ok) {
    std::printf("\nconv_kernels: oneDNN and vae computed different results; nothing timed is comparable\n");
    return 1;
  }

  std::printf("\n| layer | vae fwd ms | vae bwd ms | oneDNN fwd ms | oneDNN bwd ms | ratio (vae / oneDNN) |\n"
              "|---|---:|---:|---:|---:|---:|\n");
  Row total{"**all " + std::to_string(rows.size()) + " layers**", 0, 0, 0, 0};
  for (const Row& r : rows) {
    std::printf("| %s | %.3f | %.3f | %.3f | %.3f | %.2f |\n", r.label.c_str(), r.vae_fwd, r.vae_bwd, r.dnnl_fwd,
                r.dnnl_bwd, (r.vae_fwd + r.vae_bwd) / (r.dnnl_fwd + r.dnnl_bwd));
    total.vae_fwd += r.vae_fwd;
    total.vae_bwd += r.vae_bwd;
    total.dnnl_fwd += r.dnnl_fwd;
    total.dnnl_bwd += r.dnnl_bwd;
  }
  std::printf("| %s | %.3f | %.3f | %.3f | %.3f | %.2f |\n", total.label.c_str(), total.vae_fwd, total.vae_bwd,
              total.dnnl_fwd, total.dnnl_bwd, (total.vae_fwd + total.vae_bwd) / (total.dnnl_fwd + total.dnnl_bwd));
  return 0;
}
