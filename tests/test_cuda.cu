// The CUDA backend. Two suites:
//   host   - runs everywhere: the library's element-wise kernels (activations,
//            losses, KL forms, Adam) run one element at a time with T = S, as
//            a GPU thread runs them, against the CPU's packet path, and the
//            backend's own functors against Ops<Cpu>; the device suite's
//            gradient-check configurations on the CPU; and, without a GPU,
//            every entry point reports DeviceError instead of crashing;
//   device - needs a GPU: Ops<Cuda> against Ops<Cpu> primitive by primitive,
//            buffers, whole-model gradient checks in double (one- and
//            three-hidden-layer models for every activation, and an activation
//            defined in this file), CPU/GPU parity of inference, gradients and
//            training, determinism and concurrent inference. Without a device
//            each case prints "no CUDA device: skipping ..." and returns; ctest
//            then reports the device suite as skipped (tests/CMakeLists.txt).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <vae/vae.hpp>

#include "gradient_check.hpp"
#include "soft_sign.hpp"

namespace test_cuda {

namespace {

using vae::Index;
template <class S>
using Mat = vae::Matrix<S>;
using Gpu = vae::Cuda;
using vae::test::SoftSign;  // tests/soft_sign.hpp: device code through VAE_ELEMENTWISE
using R = vae::Reconstruction;
using K = vae::KlForm;

static_assert(vae::is_activation_v<SoftSign>, "SoftSign meets the activation requirements");

template <class T>
struct Tag {
  using type = T;
};
template <class... T>
struct TypeList {};
/// f(Tag<T>{}) for each T of the list.
template <class... T, class F>
void for_each_type(TypeList<T...>, F&& f) {
  (f(Tag<T>{}), ...);
}
/// Every activation of the library and the one defined above.
using Activations = TypeList<vae::Identity, vae::Relu, vae::Tanh, vae::Softplus, vae::Elu, vae::Sigmoid, SoftSign>;

/// True (after saying so on stdout and in doctest's log) when there is no GPU.
bool no_device(const char* what) {
  if (vae::cuda_device_count() > 0) return false;
  std::printf("no CUDA device: skipping %s\n", what);
  std::fflush(stdout);
  MESSAGE("no CUDA device: skipping " << std::string(what));
  return true;
}

/// max |a - b| / max |b|: the error relative to the scale of the reference.
template <class A, class B>
double rel_diff(const A& a, const B& b) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  const double scale = std::max(static_cast<double>(b.cwiseAbs().maxCoeff()), 1e-300);
  return static_cast<double>((a - b).cwiseAbs().maxCoeff()) / scale;
}

double rel_diff(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-300); }

/// max over the elements of |a - b| / max(|b|, floor): relative element by
/// element, for values of very different sizes (sigma = e^20 next to e^-20).
template <class A, class B>
double elem_rel_diff(const A& a, const B& b, double floor) {
  REQUIRE(a.rows() == b.rows());
  REQUIRE(a.cols() == b.cols());
  const Eigen::ArrayXXd ad = a.template cast<double>().array(), bd = b.template cast<double>().array();
  return ((ad - bd).abs() / bd.abs().max(floor)).maxCoeff();
}

/// The generator of the test data that needs no particular values.
vae::Rng& data_rng() {
  static vae::Rng rng(2024);
  return rng;
}

/// Uniform in [lo, hi), from a vae::Rng: the same values on every platform.
template <class S>
Mat<S> random_matrix(Index rows, Index cols, S lo = S(-1), S hi = S(1), vae::Rng& rng = data_rng()) {
  Mat<S> m(rows, cols);
  for (Index k = 0; k < m.size(); ++k) m.data()[k] = rng.uniform<S>(lo, hi);
  return m;
}

/// A host matrix stored with `pad` extra rows per column, seen through a view
/// of its first `rows` rows: exercises leading dimensions > rows.
template <class S>
struct Strided {
  Mat<S> storage;
  Index rows;
  Strided(const Mat<S>& m, Index pad) : storage(Mat<S>::Constant(m.rows() + pad, m.cols(), S(7))), rows(m.rows()) {
    storage.topRows(rows) = m;
  }
  vae::View<S> view() { return vae::make_view(storage.data(), storage.rows(), storage.cols()).row_block(0, rows); }
  Mat<S> value() const { return storage.topRows(rows); }
  bool padding_untouched() const { return (storage.bottomRows(storage.rows() - rows).array() == S(7)).all(); }
};

/// The same layout on the device: `pad` extra rows per column.
template <class S>
struct DeviceStrided {
  vae::Buffer<Gpu, S> buffer;
  Index rows, cols, ld;
  DeviceStrided(const Gpu::Context& ctx, const Mat<S>& m, Index pad)
      : buffer((m.rows() + pad) * m.cols()), rows(m.rows()), cols(m.cols()), ld(m.rows() + pad) {
    Mat<S> padded = Mat<S>::Constant(ld, cols, S(7));
    padded.topRows(rows) = m;
    vae::Ops<Gpu, S>::upload(ctx, padded.data(), vae::make_view(buffer.data(), ld, cols));
  }
  vae::View<S> view() { return vae::make_view(buffer.data(), ld, cols).row_block(0, rows); }
  Mat<S> value(const Gpu::Context& ctx) {
    Mat<S> out(rows, cols);
    vae::Ops<Gpu, S>::download(ctx, view(), out.data());
    return out;
  }
  /// The padding rows, which no operation may touch.
  Mat<S> padding(const Gpu::Context& ctx) {
    Mat<S> all(ld, cols);
    vae::Ops<Gpu, S>::download(ctx, vae::make_view(buffer.data(), ld, cols), all.data());
    return all.bottomRows(ld - rows);
  }
  bool padding_untouched(const Gpu::Context& ctx) { return (padding(ctx).array() == S(7)).all(); }
};

/// f(k) for k in [0, n): how the backend's generic kernels apply its functors.
template <class F>
void on_host(Index n, const F& f) {
  for (Index k = 0; k < n; ++k) f(k);
}

/// f.apply<S>(i, j) at every element, one at a time (T = S): what the GPU's
/// for_each does, one element per thread, run here on the host.
template <class S, class F>
void apply_each(Index rows, Index cols, const F& f) {
  for (Index j = 0; j < cols; ++j)
    for (Index i = 0; i < rows; ++i) f.template apply<S>(i, j);
}

/// The GPU's column_sums on the host: the same functor (ApplyAt, T = S, each
/// term in double), each column added in double.
template <class S, class F>
Mat<S> column_sums_on_host(Index rows, Index cols, const F& f) {
  const vae::detail::gpu::ApplyAt<F, S> at{f};
  Mat<S> out(1, cols);
  for (Index j = 0; j < cols; ++j) {
    double total = 0;
    for (Index i = 0; i < rows; ++i) total += at(i, j);
    out(0, j) = static_cast<S>(total);
  }
  return out;
}

constexpr Index kIn = 12, kHidden = 6, kLatent = 3, kBatch = 5;
/// The three-hidden-layer networks of the gradient checks.
using Deep = vae::Layers<12, 8, 7, 6, 3>;

/// The gradient checks' batch: fixed values, whatever ran before.
template <class S>
const Mat<S>& batch() {
  static const Mat<S> x = [] {
    vae::Rng rng(77);
    return random_matrix<S>(kIn, kBatch, S(0), S(1), rng);
  }();
  return x;
}

template <class Model>
constexpr const char* backend_name() {
  return std::is_same_v<typename Model::Backend, Gpu> ? "GPU" : "CPU";
}

/// "VAE 12-8-7-6-3 tanh (double), binary-cross-entropy + 2 x half-variance-prior KL".
template <class Model>
std::string describe(const vae::Objective<double>& objective) {
  std::string s = Model::architecture().describe() + ", " + vae::name_of(objective.reconstruction);
  if (Model::is_variational)
    s += " + " + std::to_string(objective.beta).substr(0, 4) + " x " + vae::name_of(objective.kl) + " KL";
  return s;
}

/// d(batch loss sum)/d(params) of a whole model against five-point finite
/// differences in double, as tests/test_models.cpp does: compute_gradients and
/// every probe.evaluate take their noise from copies of one generator.
template <class Model>
void model_gradient_check(vae::Objective<double> objective, const Mat<double>& x = batch<double>()) {
  const std::string name = std::string(backend_name<Model>()) + " " + describe<Model>(objective);
  INFO(name);
  Model model(11, objective);
  vae::Rng rng(5);
  const auto parts = model.evaluate(x, rng);
  const auto check = vae::test::model_gradient_check(model, x, vae::Rng(5));
  CHECK(model.gradients_host().allFinite());
  CHECK(parts.total == doctest::Approx(parts.reconstruction + objective.beta * parts.kl));
  MESSAGE(name << ": " << check.checked << " parameters, max relative error " << check.max_relative_error
               << " (worst index " << check.worst_index << "), loss " << parts.total);
  CHECK(check.checked == Model::parameter_count);
  CHECK(check.max_relative_error <= 1e-6);
}

/// The one-hidden-layer (blog) autoencoder and VAE, ReLU, each loss and KL form.
template <class B>
void one_hidden_layer_gradient_checks() {
  using Ae = vae::Autoencoder<kIn, kHidden, kLatent, double, B>;
  using Vae = vae::VariationalAutoencoder<kIn, kHidden, kLatent, double, B>;
  model_gradient_check<Ae>({R::SquaredError});
  model_gradient_check<Ae>({R::BinaryCrossEntropy});
  model_gradient_check<Vae>({R::SquaredError, K::HalfVariancePrior, 1.0});
  model_gradient_check<Vae>({R::BinaryCrossEntropy, K::Exact, 4.0});
  model_gradient_check<Vae>({R::ContinuousBernoulli, K::Exact, 1.0});
  model_gradient_check<Vae>({R::Gaussian, K::Exact, 1.0});
}

/// A three-hidden-layer autoencoder and VAE with activation Act.
template <class Act, class B>
void deep_gradient_checks() {
  model_gradient_check<vae::MlpAutoencoder<Deep, Act, double, B>>({R::SquaredError});
  model_gradient_check<vae::MlpVae<Deep, Act, double, B>>({R::BinaryCrossEntropy, K::HalfVariancePrior, 2.0});
  model_gradient_check<vae::MlpVae<Deep, Act, double, B>>({R::SquaredError, K::Exact, 1.0});
}

/// A conditional VAE (8 features and 4 classes: the batch's 12 rows, the
/// last 4 one-hot), one and two hidden layers. (Smooth activations: with
/// ReLU this batch puts a hidden unit on the kink.)
template <class B>
void conditional_gradient_checks() {
  const Mat<double> x = vae::with_labels<double>(Mat<double>(batch<double>().topRows(8)), std::vector<int>{2, 0, 3, 1, 2}, 4);
  model_gradient_check<vae::MlpCvae<vae::Layers<8, 6, kLatent>, 4, vae::Softplus, double, B>>(
      {R::BinaryCrossEntropy, K::Exact, 1.0}, x);
  model_gradient_check<vae::MlpCvae<vae::Layers<8, 7, 6, kLatent>, 4, vae::Tanh, double, B>>(
      {R::SquaredError, K::HalfVariancePrior, 2.0}, x);
}

}  // namespace

// ---------------------------------------------------------------------------
TEST_SUITE("host") {

TEST_CASE_TEMPLATE("the library's kernels run one element at a time (as on the GPU) match Ops<Cpu>", S, float,
                   double) {
  using Cpu = vae::Ops<vae::Cpu, S>;
  namespace k = vae::kernels;
  const vae::Cpu::Context c;
  // Packets against one element: the same formulas through Eigen's vectorised
  // exp/log1p/tanh on the CPU's side, the scalar std:: functions here.
  const double tol = std::is_same_v<S, float> ? 1e-5 : 1e-12;
  const Index rows = 37, cols = 4;  // 37: whole packets and a ragged tail, float and double

  SUBCASE("BiasActivation, Activation and ActivationGrad, every activation") {
    for_each_type(Activations{}, [&](auto tag) {
      using A = typename decltype(tag)::type;
      INFO("activation " << A::name);
      const Mat<S> t0 = random_matrix<S>(rows, cols, S(-5), S(5)), bias = random_matrix<S>(rows, 1);
      Strided<S> one(t0, 2), ref(t0, 0);
      apply_each<S>(rows, cols, k::BiasActivation<A, S>{one.view(), vae::view_of<S>(bias)});
      Cpu::for_each(c, rows, cols, k::BiasActivation<A, S>{ref.view(), vae::view_of<S>(bias)});
      CHECK(rel_diff(one.value(), ref.value()) <= tol);
      CHECK(one.padding_untouched());

      Mat<S> a(rows, cols), a_ref(rows, cols);
      apply_each<S>(rows, cols, k::Activation<A, S>{vae::view_of<S>(t0), vae::make_view(a.data(), rows, cols)});
      Cpu::for_each(c, rows, cols, k::Activation<A, S>{vae::view_of<S>(t0), vae::make_view(a_ref.data(), rows, cols)});
      CHECK(rel_diff(a, a_ref) <= tol);

      const Mat<S> y = ref.value(), d0 = random_matrix<S>(rows, cols);
      Strided<S> d(d0, 1), d_ref(d0, 0);
      apply_each<S>(rows, cols, k::ActivationGrad<A, S>{d.view(), vae::view_of<S>(y)});
      Cpu::for_each(c, rows, cols, k::ActivationGrad<A, S>{d_ref.view(), vae::view_of<S>(y)});
      CHECK(rel_diff(d.value(), d_ref.value()) <= tol);
      CHECK(d.padding_untouched());
    });
  }

  SUBCASE("ReconstructionLoss through column_sums: loss per column and gradient in place, every loss") {
    for (auto kind : {R::SquaredError, R::BinaryCrossEntropy, R::ContinuousBernoulli, R::Gaussian}) {
      vae::with_reconstruction(kind, [&](auto loss) {
        using L = decltype(loss);
        INFO("loss " << L::name);
        const Mat<S> x = random_matrix<S>(rows, cols, S(0), S(1));
        Mat<S> logits = random_matrix<S>(rows, cols, S(-6), S(6)), logits_ref = logits, col_ref(1, cols);
        const Mat<S> col = column_sums_on_host<S>(
            rows, cols, k::ReconstructionLoss<L, S>{vae::make_view(logits.data(), rows, cols), vae::view_of<S>(x)});
        Cpu::column_sums(c, rows, cols,
                         k::ReconstructionLoss<L, S>{vae::make_view(logits_ref.data(), rows, cols), vae::view_of<S>(x)},
                         vae::make_view(col_ref.data(), 1, cols));
        CHECK(rel_diff(logits, logits_ref) <= tol);
        CHECK(rel_diff(col, col_ref) <= tol);
        CHECK(L::kind == kind);
      });
    }
  }

  SUBCASE("GaussianSample and GaussianSampleGrad, both KL forms, clamped log sigmas; ClampedExp") {
    const Index latent = 5;
    for (auto form : {K::Exact, K::HalfVariancePrior}) {
      vae::with_kl(form, [&](auto kl) {
        using Kl = decltype(kl);
        INFO("KL " << Kl::name);
        Mat<S> heads = random_matrix<S>(2 * latent, cols, S(-2), S(2));
        heads(latent, 0) = S(-25);     // below the clamp range
        heads(latent + 1, 2) = S(23);  // above it
        const Mat<S> eps = random_matrix<S>(latent, cols), dz = random_matrix<S>(latent, cols);
        const auto hv = vae::view_of<S>(heads), ev = vae::view_of<S>(eps);
        Mat<S> z(latent, cols), z_ref(latent, cols), kl_ref(1, cols);
        const Mat<S> col_kl = column_sums_on_host<S>(
            latent, cols, k::GaussianSample<Kl, S>{hv, ev, vae::make_view(z.data(), latent, cols)});
        Cpu::column_sums(c, latent, cols, k::GaussianSample<Kl, S>{hv, ev, vae::make_view(z_ref.data(), latent, cols)},
                         vae::make_view(kl_ref.data(), 1, cols));
        CHECK(elem_rel_diff(z, z_ref, 1.0) <= tol);
        CHECK(elem_rel_diff(col_kl, kl_ref, 1.0) <= tol);

        Mat<S> dh(2 * latent, cols), dh_ref(2 * latent, cols);
        apply_each<S>(latent, cols,
                      k::GaussianSampleGrad<Kl, S>{S(0.7), hv, ev, vae::view_of<S>(dz),
                                                   vae::make_view(dh.data(), 2 * latent, cols)});
        Cpu::for_each(c, latent, cols,
                      k::GaussianSampleGrad<Kl, S>{S(0.7), hv, ev, vae::view_of<S>(dz),
                                                   vae::make_view(dh_ref.data(), 2 * latent, cols)});
        CHECK(elem_rel_diff(dh, dh_ref, 1.0) <= tol);
        CHECK(dh(latent, 0) == 0);  // outside the clamp range: no log-sigma gradient
        CHECK(dh(latent + 1, 2) == 0);
        CHECK(dh_ref(latent, 0) == 0);
        CHECK(dh_ref(latent + 1, 2) == 0);
      });
    }
    const Mat<S> ls = random_matrix<S>(rows, cols, S(-30), S(30));
    Mat<S> sigma(rows, cols), sigma_ref(rows, cols);
    apply_each<S>(rows, cols, k::ClampedExp<S>{vae::view_of<S>(ls), vae::make_view(sigma.data(), rows, cols)});
    Cpu::for_each(c, rows, cols, k::ClampedExp<S>{vae::view_of<S>(ls), vae::make_view(sigma_ref.data(), rows, cols)});
    CHECK(elem_rel_diff(sigma, sigma_ref, 0.0) <= tol);
    CHECK(sigma.maxCoeff() <= S(std::exp(20.0) * (1 + 1e-6)));
  }

  SUBCASE("AdamUpdate with weight decay and a gradient scale") {
    const Index n = 50;  // whole packets and a ragged tail
    for (S scale : {S(1), S(0.5)}) {
      Mat<S> p = random_matrix<S>(n, 1), g = random_matrix<S>(n, 1);
      Mat<S> m = random_matrix<S>(n, 1, S(-0.1), S(0.1)), v = random_matrix<S>(n, 1, S(0), S(0.01));
      Mat<S> p2 = p, m2 = m, v2 = v;
      const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01, bc1 = 1 - b1 * b1, bc2 = 1 - b2 * b2;
      const auto update = [&](Mat<S>& pp, Mat<S>& mm, Mat<S>& vv) {
        return k::AdamUpdate<S>{pp.data(), g.data(), mm.data(), vv.data(), S(lr / bc1),       S(b1), S(b2),
                                S(eps),    S(wd),    S(1 / std::sqrt(bc2)), scale};
      };
      apply_each<S>(n, 1, update(p, m, v));
      Cpu::for_each(c, n, 1, update(p2, m2, v2));
      CHECK(rel_diff(p, p2) <= tol);
      CHECK(rel_diff(m, m2) <= tol);
      CHECK(rel_diff(v, v2) <= tol);
    }
  }

  SUBCASE("the backend's own functors: BiasGrad (row_sums), FillNormal, Scale, sums") {
    namespace gpu = vae::detail::gpu;
    const Mat<S> dy = random_matrix<S>(rows, cols);
    Mat<S> db(rows, 1), db_ref(rows, 1);
    on_host(rows, gpu::BiasGrad<S>{vae::view_of<S>(dy), vae::make_view(db.data(), rows, 1)});
    Cpu::row_sums(c, vae::view_of<S>(dy), vae::make_view(db_ref.data(), rows, 1));
    CHECK(rel_diff(db, db_ref) <= tol);

    vae::Rng a(42, 3), b(42, 3);
    Mat<S> out(rows, cols), ref(rows, cols);
    const std::uint64_t first = a.reserve_normals(out.size());
    on_host(out.size(), gpu::FillNormal<S>{vae::make_view(out.data(), rows, cols), a.seed(), first});
    b.fill_normal(ref.data(), ref.size());
    CHECK(out == ref);
    CHECK(a.counter() == b.counter());

    Strided<S> v(random_matrix<S>(rows, cols), 2);
    const Mat<S> before = v.value();
    on_host(rows * cols, gpu::Scale<S>{v.view(), S(-2.5)});
    CHECK(rel_diff(v.value(), Mat<S>(S(-2.5) * before)) <= tol);
    CHECK(v.padding_untouched());

    double total = 0, squares = 0, bad = 0;
    on_host(rows * cols, [&](Index i) {
      total += gpu::ValueOf<S>{v.view()}(i);
      squares += gpu::SquareOf<S>{v.view()}(i);
      bad += gpu::NonFinite<S>{v.view()}(i);
    });
    CHECK(rel_diff(total, double(Cpu::sum(v.view()))) <= tol);
    CHECK(rel_diff(squares, double(Cpu::squared_norm(c, v.view()))) <= tol);
    CHECK(bad == 0);
    v.storage(1, 2) = std::numeric_limits<S>::quiet_NaN();
    v.storage(3, 0) = -std::numeric_limits<S>::infinity();
    v.storage(rows, 1) = std::numeric_limits<S>::infinity();  // in the padding: not part of the view
    bad = 0;
    on_host(rows * cols, [&](Index i) { bad += gpu::NonFinite<S>{v.view()}(i); });
    CHECK(bad == 2);
    CHECK_FALSE(Cpu::all_finite(c, v.view()));
  }
}

TEST_CASE_TEMPLATE("the convolution's element kernels (the GPU's) match the CPU's loops", S, float, double) {
  namespace k = vae::kernels;
  namespace d = vae::detail;
  const double tol = std::is_same_v<S, float> ? 1e-6 : 1e-14;
  struct Case {
    Index c, h, w, kernel, stride, padding;
  };
  for (const Case g0 : {Case{3, 7, 8, 3, 2, 1}, Case{2, 6, 6, 4, 2, 1}, Case{1, 5, 7, 3, 1, 1}, Case{2, 8, 8, 2, 2, 0}}) {
    const vae::ConvGeometry g = vae::ConvGeometry::of(g0.c, g0.h, g0.w, g0.kernel, g0.stride, g0.padding);
    INFO("image " << g.channels << "x" << g.height << "x" << g.width << ", kernel " << g.kernel << " stride " << g.stride
                  << " padding " << g.padding);
    const Index batch = 3, rows = batch * g.positions(), k = g.patch_size(), oc = 4;
    const Mat<S> x = random_matrix<S>(g.image_size(), batch, S(-1), S(1));
    Mat<S> p(rows, k), p_ref(rows, k);
    apply_each<S>(rows, k, k::Im2col<S>{g, vae::view_of<S>(x), vae::make_view(p.data(), rows, k)});
    d::im2col(g, vae::view_of<S>(x), vae::make_view(p_ref.data(), rows, k));
    CHECK(p == p_ref);
    const Mat<S> q = random_matrix<S>(rows, k, S(-1), S(1));
    Mat<S> dx(g.image_size(), batch), dx_ref(g.image_size(), batch);
    apply_each<S>(dx.rows(), batch, k::Col2im<S>{g, vae::view_of<S>(q), vae::make_view(dx.data(), dx.rows(), batch)});
    d::col2im(g, vae::view_of<S>(q), vae::make_view(dx_ref.data(), dx.rows(), batch));
    CHECK(rel_diff(dx, dx_ref) <= tol);
    // Between the product's layout (a pixel a row) and images, with bias and activation.
    const Index positions = g.positions();
    const Mat<S> yp = random_matrix<S>(rows, oc, S(-2), S(2)), bias = random_matrix<S>(oc, 1);
    Mat<S> y(oc * positions, batch), y_ref(oc * positions, batch);
    apply_each<S>(y.rows(), batch, k::ScatterBiasActivation<vae::Tanh, S>{vae::view_of<S>(yp), vae::view_of<S>(bias),
                                                                          positions, vae::make_view(y.data(), y.rows(), batch)});
    d::scatter_bias_activation<vae::Tanh>(vae::view_of<S>(yp), vae::view_of<S>(bias), positions,
                                          vae::make_view(y_ref.data(), y.rows(), batch));
    CHECK(rel_diff(y, y_ref) <= tol);
    const Mat<S> gy = random_matrix<S>(oc * positions, batch, S(-1), S(1));
    Mat<S> gp(rows, oc), gp_ref(rows, oc);
    apply_each<S>(rows, oc, k::GatherActivationGrad<vae::Tanh, S>{vae::view_of<S>(gy), vae::view_of<S>(y), positions,
                                                                  vae::make_view(gp.data(), rows, oc)});
    d::gather_activation_grad<vae::Tanh>(vae::view_of<S>(gy), vae::view_of<S>(y), positions,
                                         vae::make_view(gp_ref.data(), rows, oc));
    CHECK(rel_diff(gp, gp_ref) <= tol);
    Mat<S> yi = gy, yi_ref = gy;
    apply_each<S>(yi.rows(), batch, k::BiasActivationImages<vae::Relu, S>{vae::make_view(yi.data(), yi.rows(), batch),
                                                                          vae::view_of<S>(bias), positions});
    d::bias_activation_images<vae::Relu>(vae::make_view(yi_ref.data(), yi.rows(), batch), vae::view_of<S>(bias), oc,
                                         positions);
    CHECK(rel_diff(yi, yi_ref) <= tol);
    Mat<S> back(oc * positions, batch), back_ref(oc * positions, batch);
    apply_each<S>(back.rows(), batch, k::ScatterChannels<S>{vae::view_of<S>(gp_ref), positions,
                                                             vae::make_view(back.data(), back.rows(), batch)});
    d::scatter_channels(vae::view_of<S>(gp_ref), positions, vae::make_view(back_ref.data(), back.rows(), batch));
    CHECK(back == back_ref);
    // The column sums the bias gradients take.
    const Mat<S> sums = column_sums_on_host<S>(rows, oc, k::Element<S>{vae::view_of<S>(gp_ref)});
    CHECK(rel_diff(sums, Mat<S>(gp_ref.colwise().sum())) <= 10 * tol);
  }
  // A conditional model's label as planes beside the image, and back.
  const Index image = 2 * 5 * 6, plane = 5 * 6, classes = 3, batch = 4;
  const Mat<S> xl = random_matrix<S>(image + classes, batch, S(-1), S(1));
  Mat<S> planes(image + classes * plane, batch), planes_ref(image + classes * plane, batch);
  apply_each<S>(planes.rows(), batch, k::LabelPlanes<S>{vae::view_of<S>(xl), image, plane,
                                                       vae::make_view(planes.data(), planes.rows(), batch)});
  d::label_planes(vae::view_of<S>(xl), image, plane, vae::make_view(planes_ref.data(), planes.rows(), batch));
  CHECK(planes == planes_ref);
  const Mat<S> dplanes = random_matrix<S>(planes.rows(), batch, S(-1), S(1));
  Mat<S> dl(xl.rows(), batch), dl_ref(xl.rows(), batch);
  apply_each<S>(dl.rows(), batch, k::LabelPlanesGrad<S>{vae::view_of<S>(dplanes), image, plane,
                                                       vae::make_view(dl.data(), dl.rows(), batch)});
  d::label_planes_grad(vae::view_of<S>(dplanes), image, plane, vae::make_view(dl_ref.data(), dl.rows(), batch));
  CHECK(rel_diff(dl, dl_ref) <= 10 * tol);
}

TEST_CASE("the device suite's gradient-check configurations pass on the CPU") {
  // The same models, seeds, batch and noise as the device suite's checks: if
  // one of them sat on a ReLU kink, it would show here, on any machine.
  one_hidden_layer_gradient_checks<vae::Cpu>();
  deep_gradient_checks<vae::Relu, vae::Cpu>();
  deep_gradient_checks<vae::Tanh, vae::Cpu>();
  deep_gradient_checks<vae::Softplus, vae::Cpu>();
  deep_gradient_checks<vae::Elu, vae::Cpu>();
  deep_gradient_checks<SoftSign, vae::Cpu>();
  conditional_gradient_checks<vae::Cpu>();
}

TEST_CASE("without a device, every entry point reports DeviceError") {
  if (vae::cuda_device_count() > 0) {
    MESSAGE("a CUDA device is present: the no-device checks do not apply");
    return;
  }
  const auto no_gpu = doctest::Contains("CUDA device");
  CHECK_THROWS_WITH_AS(Gpu::Context{}, no_gpu, vae::DeviceError);
  CHECK_THROWS_WITH_AS(Gpu::Context::with_own_stream(), no_gpu, vae::DeviceError);
  CHECK_THROWS_WITH_AS((vae::Buffer<Gpu, float>(16)), doctest::Contains("cudaMalloc"), vae::DeviceError);
  CHECK_THROWS_WITH_AS((vae::Ops<Gpu, float>::sum(vae::ConstView<float>{})), no_gpu, vae::DeviceError);
  // Models of every kind, including one with the activation defined here.
  CHECK_THROWS_WITH_AS((vae::Autoencoder<kIn, kHidden, kLatent, float, Gpu>(1)), no_gpu, vae::DeviceError);
  CHECK_THROWS_WITH_AS((vae::VariationalAutoencoder<kIn, kHidden, kLatent, float, Gpu>(1)), no_gpu, vae::DeviceError);
  CHECK_THROWS_WITH_AS((vae::MlpAutoencoder<Deep, vae::Tanh, double, Gpu>(1)), no_gpu, vae::DeviceError);
  CHECK_THROWS_WITH_AS((vae::MlpVae<Deep, SoftSign, double, Gpu>(1)), no_gpu, vae::DeviceError);
  CHECK_THROWS_WITH_AS((vae::Adam<float, Gpu>()), no_gpu, vae::DeviceError);
  CHECK_THROWS_WITH_AS((vae::Adam<double, Gpu>()), no_gpu, vae::DeviceError);
  // The message says what is missing, not just that something failed.
  try {
    const Gpu::Context ctx;
    FAIL("a Cuda::Context was constructed without a device, on device " << ctx.device());
  } catch (const vae::DeviceError& e) {
    MESSAGE("without a device: " << std::string(e.what()));
    CHECK(std::string(e.what()).find("vae::Cuda::Context") != std::string::npos);
  }
  // Empty buffers need no device.
  vae::Buffer<Gpu, float> empty;
  CHECK(empty.size() == 0);
  vae::Buffer<Gpu, float> copy = empty;
  CHECK(copy.data() == nullptr);
  vae::Buffer<Gpu, float> zero(0);
  CHECK(zero.data() == nullptr);
}

}  // TEST_SUITE("host")

// ---------------------------------------------------------------------------
TEST_SUITE("device") {

TEST_CASE("Buffer<Cuda>: zeroed, deep copies, moves, grows without keeping contents") {
  if (no_device("Buffer<Cuda> copy and move")) return;
  using Ops = vae::Ops<Gpu, double>;
  const Gpu::Context ctx;
  vae::Buffer<Gpu, double> a(6);
  Mat<double> host(6, 1);
  Ops::download(ctx, vae::make_view<double>(a.data(), 6, 1), host.data());
  CHECK(host.isZero(0));

  const Mat<double> values = random_matrix<double>(6, 1);
  Ops::upload(ctx, values.data(), vae::make_view(a.data(), 6, 1));
  vae::Buffer<Gpu, double> b = a;
  CHECK(b.size() == 6);
  CHECK(b.data() != a.data());
  Ops::set_zero(ctx, vae::make_view(a.data(), 6, 1));
  Ops::download(ctx, vae::make_view<double>(b.data(), 6, 1), host.data());
  CHECK(host == values);

  const double* where = b.data();
  vae::Buffer<Gpu, double> moved = std::move(b);
  CHECK(moved.data() == where);
  CHECK(b.data() == nullptr);
  CHECK(b.size() == 0);
  a = moved;
  Ops::download(ctx, vae::make_view<double>(a.data(), 6, 1), host.data());
  CHECK(host == values);

  moved.reserve(3);
  CHECK(moved.data() == where);  // never shrinks
  moved.reserve(1000);
  CHECK(moved.size() == 1000);
  CHECK(moved.data() != nullptr);
}

TEST_CASE_TEMPLATE("Ops<Cuda> matches Ops<Cpu> primitive by primitive", S, float, double) {
  if (no_device("Ops<Cuda> against Ops<Cpu>")) return;
  using Cpu = vae::Ops<vae::Cpu, S>;
  using Ops = vae::Ops<Gpu, S>;
  namespace k = vae::kernels;
  const vae::Cpu::Context c;
  const Gpu::Context g;
  const double tol = std::is_same_v<S, float> ? 2e-5 : 1e-12;
  const Index rows = 37, cols = 9;

  SUBCASE("gemm, all four transposes, strided operands") {
    const Index m = 13, n = 11, kk = 7;
    for (auto ta : {vae::Trans::No, vae::Trans::Yes})
      for (auto tb : {vae::Trans::No, vae::Trans::Yes}) {
        const Mat<S> a = ta == vae::Trans::No ? random_matrix<S>(m, kk) : random_matrix<S>(kk, m);
        const Mat<S> b = tb == vae::Trans::No ? random_matrix<S>(kk, n) : random_matrix<S>(n, kk);
        const Mat<S> c0 = random_matrix<S>(m, n);
        Strided<S> cpu_c(c0, 0);
        DeviceStrided<S> da(g, a, 2), db(g, b, 1), dc(g, c0, 3);
        Cpu::gemm(c, ta, tb, S(0.5), vae::view_of<S>(a), vae::view_of<S>(b), S(2), cpu_c.view());
        Ops::gemm(g, ta, tb, S(0.5), da.view(), db.view(), S(2), dc.view());
        CHECK(rel_diff(dc.value(g), cpu_c.value()) <= tol);
        CHECK(dc.padding_untouched(g));
        // beta = 0 overwrites whatever C held.
        Cpu::gemm(c, ta, tb, S(1), vae::view_of<S>(a), vae::view_of<S>(b), S(0), cpu_c.view());
        Ops::gemm(g, ta, tb, S(1), da.view(), db.view(), S(0), dc.view());
        CHECK(rel_diff(dc.value(g), cpu_c.value()) <= tol);
      }
  }

  SUBCASE("gemm with TF32 allowed stays close") {
    Gpu::Context tf32 = g;
    tf32.set_allow_tf32(true);
    CHECK_FALSE(g.allow_tf32());
    const Mat<S> a = random_matrix<S>(64, 128), b = random_matrix<S>(128, 32);
    const Mat<S> ref = a * b, out = Mat<S>::Zero(64, 32);
    DeviceStrided<S> da(g, a, 0), db(g, b, 0), dc(g, out, 0);
    Ops::gemm(tf32, vae::Trans::No, vae::Trans::No, S(1), da.view(), db.view(), S(0), dc.view());
    CHECK(rel_diff(dc.value(g), ref) <= 1e-2);
    Ops::gemm(g, vae::Trans::No, vae::Trans::No, S(1), da.view(), db.view(), S(0), dc.view());
    CHECK(rel_diff(dc.value(g), ref) <= tol * 10);
  }

  SUBCASE("for_each: BiasActivation, Activation and ActivationGrad, every activation") {
    for_each_type(Activations{}, [&](auto tag) {
      using A = typename decltype(tag)::type;
      INFO("activation " << A::name);
      const Mat<S> t0 = random_matrix<S>(rows, cols, S(-5), S(5)), bias = random_matrix<S>(rows, 1);
      Strided<S> cy(t0, 0);
      DeviceStrided<S> dy(g, t0, 2), db(g, bias, 0);
      Cpu::for_each(c, rows, cols, k::BiasActivation<A, S>{cy.view(), vae::view_of<S>(bias)});
      Ops::for_each(g, rows, cols, k::BiasActivation<A, S>{dy.view(), db.view()});
      CHECK(rel_diff(dy.value(g), cy.value()) <= tol);
      CHECK(dy.padding_untouched(g));

      Mat<S> ca(rows, cols);
      DeviceStrided<S> dt(g, t0, 1), da(g, Mat<S>::Zero(rows, cols), 3);
      Cpu::for_each(c, rows, cols, k::Activation<A, S>{vae::view_of<S>(t0), vae::make_view(ca.data(), rows, cols)});
      Ops::for_each(g, rows, cols, k::Activation<A, S>{dt.view(), da.view()});
      CHECK(rel_diff(da.value(g), ca) <= tol);
      CHECK(da.padding_untouched(g));

      // The gradient through the same outputs (the CPU's) on both sides.
      const Mat<S> y = cy.value(), d0 = random_matrix<S>(rows, cols);
      Strided<S> cd(d0, 0);
      DeviceStrided<S> dd(g, d0, 1), dyv(g, y, 2);
      Cpu::for_each(c, rows, cols, k::ActivationGrad<A, S>{cd.view(), vae::view_of<S>(y)});
      Ops::for_each(g, rows, cols, k::ActivationGrad<A, S>{dd.view(), dyv.view()});
      CHECK(rel_diff(dd.value(g), cd.value()) <= tol);
      CHECK(dd.padding_untouched(g));
    });
  }

  SUBCASE("row_sums (bias gradients) and scale") {
    const Mat<S> d0 = random_matrix<S>(rows, cols);
    Mat<S> cb(rows, 1);
    DeviceStrided<S> dd(g, d0, 2), gb(g, Mat<S>::Zero(rows, 1), 0);
    Cpu::row_sums(c, vae::view_of<S>(d0), vae::make_view(cb.data(), rows, 1));
    Ops::row_sums(g, dd.view(), gb.view());
    CHECK(rel_diff(gb.value(g), cb) <= tol);

    DeviceStrided<S> sc(g, d0, 2);
    Ops::scale(g, sc.view(), S(-3));
    CHECK(rel_diff(sc.value(g), Mat<S>(S(-3) * d0)) <= tol);
    CHECK(sc.padding_untouched(g));
  }

  SUBCASE("column_sums with ReconstructionLoss, every loss: loss per column, sum, gradient in place") {
    const Index tall = 700;  // more rows than a block has threads
    for (auto kind : {R::SquaredError, R::BinaryCrossEntropy, R::ContinuousBernoulli, R::Gaussian}) {
      vae::with_reconstruction(kind, [&](auto loss) {
        using L = decltype(loss);
        INFO("loss " << L::name);
        const Mat<S> x = random_matrix<S>(tall, cols, S(0), S(1)), logits = random_matrix<S>(tall, cols, S(-5), S(5));
        Mat<S> cl = logits, ccol(1, cols);
        DeviceStrided<S> dl(g, logits, 3), dx(g, x, 1), dcol(g, Mat<S>::Zero(1, cols), 0);
        Cpu::column_sums(c, tall, cols,
                         k::ReconstructionLoss<L, S>{vae::make_view(cl.data(), tall, cols), vae::view_of<S>(x)},
                         vae::make_view(ccol.data(), 1, cols));
        Ops::column_sums(g, tall, cols, k::ReconstructionLoss<L, S>{dl.view(), dx.view()}, dcol.view());
        CHECK(rel_diff(dcol.value(g), ccol) <= tol);
        CHECK(rel_diff(dl.value(g), cl) <= tol);
        CHECK(dl.padding_untouched(g));
        const S total = Ops::sum(g, dcol.view());
        CHECK(rel_diff(double(total), double(Cpu::sum(c, vae::view_of<S>(ccol)))) <= tol);
        // Deterministic: the same call again gives the same bits.
        DeviceStrided<S> dl2(g, logits, 3), dcol2(g, Mat<S>::Zero(1, cols), 0);
        Ops::column_sums(g, tall, cols, k::ReconstructionLoss<L, S>{dl2.view(), dx.view()}, dcol2.view());
        CHECK(dcol2.value(g) == dcol.value(g));
        CHECK(Ops::sum(g, dcol2.view()) == total);
      });
    }
  }

  SUBCASE("fill_normal, GaussianSample (column_sums) and GaussianSampleGrad (for_each), both KL forms; ClampedExp") {
    const Index latent = 5;
    vae::Rng rc(11, 5), rg(11, 5);
    Mat<S> eps = Mat<S>::Zero(latent, cols);
    DeviceStrided<S> deps(g, eps, 0);
    Cpu::fill_normal(c, rc, vae::make_view(eps.data(), latent, cols));
    Ops::fill_normal(g, rg, deps.view());
    CHECK(rc.counter() == rg.counter());
    CHECK(rel_diff(deps.value(g), eps) <= tol);

    for (auto form : {K::Exact, K::HalfVariancePrior}) {
      vae::with_kl(form, [&](auto kl) {
        using Kl = decltype(kl);
        INFO("KL " << Kl::name);
        Mat<S> heads = random_matrix<S>(2 * latent, cols, S(-2), S(2));
        heads(latent, 1) = S(-24);     // below the clamp range
        heads(latent + 2, 4) = S(22);  // above it
        const Mat<S> dz = random_matrix<S>(latent, cols);
        Mat<S> z(latent, cols), ckl(1, cols), dh(2 * latent, cols);
        DeviceStrided<S> dheads(g, heads, 1), ddz(g, dz, 0), dzv(g, Mat<S>::Zero(latent, cols), 2),
            dkl(g, Mat<S>::Zero(1, cols), 0), ddh(g, Mat<S>::Zero(2 * latent, cols), 2);
        Cpu::column_sums(c, latent, cols,
                         k::GaussianSample<Kl, S>{vae::view_of<S>(heads), vae::view_of<S>(eps),
                                                  vae::make_view(z.data(), latent, cols)},
                         vae::make_view(ckl.data(), 1, cols));
        Ops::column_sums(g, latent, cols, k::GaussianSample<Kl, S>{dheads.view(), deps.view(), dzv.view()}, dkl.view());
        CHECK(elem_rel_diff(dkl.value(g), ckl, 1.0) <= tol);
        CHECK(elem_rel_diff(dzv.value(g), z, 1.0) <= tol);
        CHECK(dzv.padding_untouched(g));

        Cpu::for_each(c, latent, cols,
                      k::GaussianSampleGrad<Kl, S>{S(0.5), vae::view_of<S>(heads), vae::view_of<S>(eps),
                                                   vae::view_of<S>(dz), vae::make_view(dh.data(), 2 * latent, cols)});
        Ops::for_each(g, latent, cols,
                      k::GaussianSampleGrad<Kl, S>{S(0.5), dheads.view(), deps.view(), ddz.view(), ddh.view()});
        const Mat<S> gdh = ddh.value(g);
        CHECK(elem_rel_diff(gdh, dh, 1.0) <= tol);
        CHECK(gdh(latent, 1) == 0);
        CHECK(gdh(latent + 2, 4) == 0);
        CHECK(ddh.padding_untouched(g));
      });
    }

    const Mat<S> ls = random_matrix<S>(rows, cols, S(-30), S(30));
    Mat<S> sigma(rows, cols);
    DeviceStrided<S> dls(g, ls, 1), dsig(g, Mat<S>::Zero(rows, cols), 0);
    Cpu::for_each(c, rows, cols, k::ClampedExp<S>{vae::view_of<S>(ls), vae::make_view(sigma.data(), rows, cols)});
    Ops::for_each(g, rows, cols, k::ClampedExp<S>{dls.view(), dsig.view()});
    CHECK(elem_rel_diff(dsig.value(g), sigma, 0.0) <= tol);
  }

  SUBCASE("AdamUpdate through for_each, with weight decay and a gradient scale") {
    const Index n = 100000;  // several blocks
    Mat<S> p = random_matrix<S>(n, 1), grad = random_matrix<S>(n, 1);
    Mat<S> m = Mat<S>::Zero(n, 1), v = Mat<S>::Zero(n, 1);
    DeviceStrided<S> dp(g, p, 0), dg(g, grad, 0), dm(g, m, 0), dv(g, v, 0);
    for (int t = 1; t <= 3; ++t) {
      const double bc1 = 1 - std::pow(0.9, t), bc2 = 1 - std::pow(0.999, t);
      const auto update = [&](S* pp, const S* gg, S* mm, S* vv) {
        return k::AdamUpdate<S>{pp,     gg,     mm,      vv, S(1e-3 / bc1), S(0.9), S(0.999), S(1e-8),
                                S(0.01), S(1 / std::sqrt(bc2)), S(0.8)};
      };
      Cpu::for_each(c, n, 1, update(p.data(), grad.data(), m.data(), v.data()));
      Ops::for_each(g, n, 1, update(dp.view().data, dg.view().data, dm.view().data, dv.view().data));
    }
    CHECK(rel_diff(dp.value(g), p) <= tol);
    CHECK(rel_diff(dm.value(g), m) <= tol);
    CHECK(rel_diff(dv.value(g), v) <= tol);
  }

  SUBCASE("sum, squared_norm, all_finite, copy, set_zero, upload, download, stage") {
    const Mat<S> a = random_matrix<S>(rows, 3000);  // many reduction blocks
    DeviceStrided<S> da(g, a, 2);
    CHECK(da.value(g) == a);  // upload and download through a strided view
    CHECK(rel_diff(double(Ops::sum(g, da.view())), a.template cast<double>().sum()) <= tol);
    CHECK(Ops::sum(g, da.view()) == Ops::sum(g, da.view()));
    CHECK(Ops::sum(da.view()) == Ops::sum(g, da.view()));  // the default context
    CHECK(rel_diff(double(Ops::squared_norm(g, da.view())), a.template cast<double>().squaredNorm()) <= tol);
    CHECK(Ops::all_finite(g, da.view()));
    for (const S bad_value : {std::numeric_limits<S>::infinity(), std::numeric_limits<S>::quiet_NaN()}) {
      Mat<S> bad = a;
      bad(5, 2000) = bad_value;
      DeviceStrided<S> dbad(g, bad, 1);
      CHECK_FALSE(Ops::all_finite(g, dbad.view()));
      CHECK_FALSE(Cpu::all_finite(c, vae::view_of<S>(bad)));
    }

    DeviceStrided<S> dst(g, Mat<S>::Zero(rows, 3000), 1);
    Ops::copy(g, da.view(), dst.view());
    CHECK(dst.value(g) == a);
    CHECK(dst.padding_untouched(g));
    Ops::set_zero(g, dst.view());
    CHECK(dst.value(g).isZero(0));
    CHECK(dst.padding_untouched(g));

    Strided<S> host(a, 4);
    vae::Buffer<Gpu, S> staging;
    const vae::ConstView<S> staged = Ops::stage(g, host.view(), staging);
    CHECK(staged.rows == rows);
    CHECK(staged.ld == rows);
    CHECK(staging.size() >= a.size());
    Mat<S> back(rows, 3000);
    Ops::download(g, staged, back.data());
    CHECK(back == a);
  }
}

TEST_CASE("one-hidden-layer autoencoder and VAE: GPU gradients match finite differences (double)") {
  if (no_device("GPU gradient checks of one-hidden-layer models")) return;
  one_hidden_layer_gradient_checks<Gpu>();
}

TEST_CASE_TEMPLATE("three-hidden-layer autoencoder and VAE: GPU gradients match finite differences (double)", Act,
                   vae::Relu, vae::Tanh, vae::Softplus, vae::Elu) {
  if (no_device("GPU gradient checks of three-hidden-layer models")) return;
  deep_gradient_checks<Act, Gpu>();
}

TEST_CASE("conditional VAE: GPU gradients match finite differences (double)") {
  if (no_device("GPU gradient checks of conditional VAEs")) return;
  conditional_gradient_checks<Gpu>();
}

TEST_CASE("an activation defined outside the library runs on the GPU: gradients match finite differences") {
  if (no_device("GPU gradient checks of a custom activation")) return;
  deep_gradient_checks<SoftSign, Gpu>();
  using Model = vae::MlpVae<Deep, SoftSign, double, Gpu>;
  CHECK(Model::architecture().encoder_activation == "softsign");
}

/// Same seed (so the same initial weights) and the same Rng state (so the same
/// noise) on both backends: outputs and gradients agree to `tol`.
template <class CpuModel, class GpuModel>
void model_parity(vae::Objective<typename CpuModel::Scalar> objective, double tol) {
  using S = typename CpuModel::Scalar;
  INFO(CpuModel::architecture().describe());
  CHECK(CpuModel::architecture() == GpuModel::architecture());
  const CpuModel cpu(21, objective);
  const GpuModel gpu(21, objective);
  CHECK(cpu.parameters_host() == gpu.parameters_host());
  const Mat<S>& x = batch<S>();
  const Mat<S> z = cpu.encode(x);
  CHECK(rel_diff(gpu.encode(x), z) <= tol);
  CHECK(rel_diff(gpu.decode(z), cpu.decode(z)) <= tol);
  CHECK(rel_diff(gpu.reconstruct(x), cpu.reconstruct(x)) <= tol);

  vae::Rng rc(3), rg(3);
  const auto ec = cpu.evaluate(x, rc), eg = gpu.evaluate(x, rg);
  CHECK(rel_diff(double(eg.total), double(ec.total)) <= tol);
  CHECK(rel_diff(double(eg.reconstruction), double(ec.reconstruction)) <= tol);
  CHECK(rc.counter() == rg.counter());

  CpuModel cpu_train = cpu;
  GpuModel gpu_train = gpu;
  const auto pc = cpu_train.compute_gradients(x, rc), pg = gpu_train.compute_gradients(x, rg);
  CHECK(rel_diff(double(pg.total), double(pc.total)) <= tol);
  CHECK(rel_diff(double(pg.kl), double(pc.kl)) <= tol);
  const double grad_err = rel_diff(gpu_train.gradients_host(), cpu_train.gradients_host());
  MESSAGE(CpuModel::architecture().describe() << ": gradient difference GPU vs CPU, relative to the largest: "
                                              << grad_err);
  CHECK(grad_err <= tol);
}

TEST_CASE("CPU and GPU models agree: inference, losses, gradients") {
  if (no_device("CPU/GPU model parity")) return;
  model_parity<vae::Autoencoder<kIn, kHidden, kLatent, double>, vae::Autoencoder<kIn, kHidden, kLatent, double, Gpu>>(
      {R::BinaryCrossEntropy}, 1e-10);
  model_parity<vae::VariationalAutoencoder<kIn, kHidden, kLatent, double>,
               vae::VariationalAutoencoder<kIn, kHidden, kLatent, double, Gpu>>({R::ContinuousBernoulli, K::Exact, 1.0},
                                                                                1e-10);
  model_parity<vae::Autoencoder<kIn, kHidden, kLatent, double>, vae::Autoencoder<kIn, kHidden, kLatent, double, Gpu>>(
      {R::Gaussian}, 1e-10);
  model_parity<vae::VariationalAutoencoder<kIn, kHidden, kLatent, double>,
               vae::VariationalAutoencoder<kIn, kHidden, kLatent, double, Gpu>>({R::SquaredError, K::Exact, 1.0},
                                                                                1e-10);
  model_parity<vae::Autoencoder<kIn, kHidden, kLatent, float>, vae::Autoencoder<kIn, kHidden, kLatent, float, Gpu>>(
      {R::SquaredError}, 1e-4);
  model_parity<vae::VariationalAutoencoder<kIn, kHidden, kLatent, float>,
               vae::VariationalAutoencoder<kIn, kHidden, kLatent, float, Gpu>>(
      {R::BinaryCrossEntropy, K::HalfVariancePrior, 2.0}, 1e-4);
  // Deeper models, each activation, and the one defined here.
  model_parity<vae::MlpAutoencoder<Deep, vae::Elu, double>, vae::MlpAutoencoder<Deep, vae::Elu, double, Gpu>>(
      {R::BinaryCrossEntropy}, 1e-10);
  model_parity<vae::MlpVae<Deep, vae::Softplus, double>, vae::MlpVae<Deep, vae::Softplus, double, Gpu>>(
      {R::SquaredError, K::HalfVariancePrior, 1.0}, 1e-10);
  model_parity<vae::MlpVae<Deep, vae::Tanh, float>, vae::MlpVae<Deep, vae::Tanh, float, Gpu>>(
      {R::BinaryCrossEntropy, K::Exact, 1.0}, 1e-4);
  model_parity<vae::MlpVae<Deep, vae::Relu, float>, vae::MlpVae<Deep, vae::Relu, float, Gpu>>(
      {R::SquaredError, K::Exact, 1.0}, 1e-4);
  model_parity<vae::MlpVae<Deep, SoftSign, double>, vae::MlpVae<Deep, SoftSign, double, Gpu>>(
      {R::BinaryCrossEntropy, K::Exact, 1.0}, 1e-10);

  // The VAE's latent distribution, a sample of it, and decoded prior samples.
  const vae::VariationalAutoencoder<64, 32, 4, float> cpu(9);
  const vae::VariationalAutoencoder<64, 32, 4, float, Gpu> gpu(9);
  const Mat<float> x = random_matrix<float>(64, 20, 0, 1);
  const auto dc = cpu.encode_distribution(x), dg = gpu.encode_distribution(x);
  CHECK(rel_diff(dg.mean, dc.mean) <= 1e-4);
  CHECK(rel_diff(dg.sigma, dc.sigma) <= 1e-4);
  vae::Rng rc(4), rg(4);
  CHECK(rel_diff(gpu.encode_sample(x, rg), cpu.encode_sample(x, rc)) <= 1e-4);
  CHECK(rel_diff(gpu.sample(6, rg), cpu.sample(6, rc)) <= 1e-4);
}

/// Five float Adam steps from the same weights on the same batches and noise:
/// losses, parameters and Adam's moments on the GPU track the CPU.
template <class CpuModel, class GpuModel>
void training_parity() {
  INFO(CpuModel::architecture().describe());
  constexpr Index b = 16;
  CpuModel cpu(17);
  GpuModel gpu(17);
  vae::Adam<float> opt_c;
  vae::Adam<float, Gpu> opt_g;
  vae::Rng rc(8), rg(8), data(31);
  const Eigen::VectorXf p0 = cpu.parameters_host();
  for (int step = 0; step < 5; ++step) {
    const Mat<float> x = random_matrix<float>(CpuModel::input_size, b, 0, 1, data);
    const auto lc = cpu.train_step(x, opt_c, rc), lg = gpu.train_step(x, opt_g, rg);
    CHECK(rel_diff(double(lg.total), double(lc.total)) <= 1e-4);
    CHECK(rel_diff(double(lg.kl), double(lc.kl)) <= 1e-4);
  }
  const Eigen::VectorXf pc = cpu.parameters_host(), pg = gpu.parameters_host();
  const double err = (pg - pc).norm() / pc.norm(), moved = (pc - p0).norm();
  MESSAGE(CpuModel::architecture().describe()
          << ": parameters after 5 Adam steps, GPU vs CPU: relative difference " << err
          << "; |GPU - CPU| / |CPU - start| " << (pg - pc).norm() / moved);
  CHECK(err <= 1e-4);
  // Meaningful only if training moved the parameters well beyond the difference.
  CHECK(moved / p0.norm() > 1e-3);
  CHECK((pg - pc).norm() <= 0.05 * moved);
  Eigen::VectorXf mc(opt_c.size()), vc(opt_c.size()), mg(opt_g.size()), vg(opt_g.size());
  opt_c.download_state(mc.data(), vc.data());
  opt_g.download_state(mg.data(), vg.data());
  CHECK((mg - mc).norm() / mc.norm() <= 1e-4);
  CHECK((vg - vc).norm() / vc.norm() <= 1e-4);
  CHECK(opt_g.steps() == 5);
}

TEST_CASE("a model shaped at run time, an activation per layer, agrees on the GPU and the CPU") {
  if (no_device("run-time model parity")) return;
  const vae::Objective<double> objective{R::BinaryCrossEntropy, K::Exact, 1.0};
  const std::vector<vae::Index> sizes{kIn, kHidden, kHidden / 2, kLatent};
  const std::vector<vae::ActivationKind> act{vae::ActivationKind::Elu, vae::ActivationKind::Tanh};
  auto cpu = vae::make_mlp_vae<double>(sizes, act, 21, objective);
  auto gpu = vae::make_mlp_vae<double, Gpu>(sizes, act, 21, objective);
  CHECK(cpu.architecture() == gpu.architecture());
  CHECK(cpu.parameters_host() == gpu.parameters_host());
  const Mat<double>& x = batch<double>();
  CHECK(rel_diff(gpu.encode(x), cpu.encode(x)) <= 1e-10);
  CHECK(rel_diff(gpu.reconstruct(x), cpu.reconstruct(x)) <= 1e-10);
  vae::Rng rc(3), rg(3);
  const auto pc = cpu.compute_gradients(x, rc), pg = gpu.compute_gradients(x, rg);
  CHECK(rel_diff(double(pg.total), double(pc.total)) <= 1e-10);
  CHECK(rel_diff(gpu.gradients_host(), cpu.gradients_host()) <= 1e-10);
}

TEST_CASE("a few float train steps on the GPU track the CPU") {
  if (no_device("CPU/GPU training parity")) return;
  training_parity<vae::VariationalAutoencoder<64, 32, 4, float>, vae::VariationalAutoencoder<64, 32, 4, float, Gpu>>();
  training_parity<vae::MlpVae<vae::Layers<64, 32, 16, 4>, vae::Tanh, float>,
                  vae::MlpVae<vae::Layers<64, 32, 16, 4>, vae::Tanh, float, Gpu>>();
  training_parity<vae::MlpAutoencoder<vae::Layers<64, 32, 16, 4>, SoftSign, float>,
                  vae::MlpAutoencoder<vae::Layers<64, 32, 16, 4>, SoftSign, float, Gpu>>();
}

TEST_CASE("GPU training is deterministic: two runs give the same bits") {
  if (no_device("GPU determinism")) return;
  auto run = [] {
    vae::MlpVae<vae::Layers<64, 32, 16, 4>, vae::Elu, float, Gpu> model(23);
    vae::Adam<float, Gpu> opt;
    vae::Rng rng(6), data(12);
    float last = 0;
    for (int step = 0; step < 4; ++step)
      last = model.train_step(random_matrix<float>(64, 32, 0, 1, data), opt, rng).total;
    return std::make_pair(last, Eigen::VectorXf(model.parameters_host()));
  };
  const auto a = run();
  const auto b = run();
  CHECK(a.first == b.first);
  CHECK(a.second == b.second);
}

TEST_CASE("concurrent const inference on one GPU model matches sequential results") {
  if (no_device("concurrent GPU inference")) return;
  const vae::VariationalAutoencoder<784, 128, 2, float, Gpu> model(5);
  const Mat<float> x = random_matrix<float>(784, 32, 0, 1);
  const Mat<float> mean = model.encode(x), x_hat = model.reconstruct(x);
  constexpr int kThreads = 6;
  std::vector<int> ok(kThreads, 0);
  std::vector<std::thread> pool;
  for (int t = 0; t < kThreads; ++t)
    pool.emplace_back([&, t] {
      bool good = true;
      for (int i = 0; i < 5; ++i) good = good && model.encode(x) == mean && model.reconstruct(x) == x_hat;
      ok[t] = good;
    });
  for (auto& th : pool) th.join();
  for (int t = 0; t < kThreads; ++t) CHECK(ok[t] == 1);
}

TEST_CASE("a Context with its own stream trains like the default one") {
  if (no_device("Cuda::Context::with_own_stream")) return;
  const Gpu::Context own = Gpu::Context::with_own_stream();
  CHECK(own.stream() != Gpu::Context{}.stream());
  vae::Autoencoder<kIn, kHidden, kLatent, double, Gpu> a(2), b(2, {}, own);
  vae::Adam<double, Gpu> oa, ob({}, own);
  for (int i = 0; i < 3; ++i) {
    a.train_step(batch<double>(), oa);
    b.train_step(batch<double>(), ob);
  }
  CHECK(rel_diff(b.parameters_host(), a.parameters_host()) <= 1e-12);
}

/// A model trained on the GPU, saved, loaded on the CPU and back on the GPU.
template <class GpuModel, class CpuModel>
void checkpoint_round_trip(const char* file) {
  INFO(GpuModel::architecture().describe());
  GpuModel gpu(12);
  vae::Adam<float, Gpu> opt_g;
  vae::Rng rng(1);
  for (int i = 0; i < 3; ++i) gpu.train_step(batch<float>(), opt_g, rng);
  const std::string path = (std::filesystem::temp_directory_path() / file).string();
  vae::io::save_checkpoint(path, gpu, &opt_g);

  CpuModel cpu(0);
  vae::Adam<float> opt_c;
  vae::io::load_checkpoint(path, cpu, &opt_c);
  CHECK(cpu.parameters_host() == gpu.parameters_host());
  CHECK(opt_c.steps() == 3);
  GpuModel back(0);
  vae::Adam<float, Gpu> opt_back;
  vae::io::load_checkpoint(path, back, &opt_back);
  CHECK(back.parameters_host() == gpu.parameters_host());
  Eigen::VectorXf m1(opt_g.size()), v1(opt_g.size()), m2(opt_back.size()), v2(opt_back.size());
  opt_g.download_state(m1.data(), v1.data());
  opt_back.download_state(m2.data(), v2.data());
  CHECK(m1 == m2);
  CHECK(v1 == v2);
  std::filesystem::remove(path);
}

TEST_CASE("a checkpoint written from the GPU loads on the CPU and back") {
  if (no_device("GPU checkpoints")) return;
  checkpoint_round_trip<vae::VariationalAutoencoder<kIn, kHidden, kLatent, float, Gpu>,
                        vae::VariationalAutoencoder<kIn, kHidden, kLatent, float>>("vae_test_cuda.ckpt");
  checkpoint_round_trip<vae::MlpVae<Deep, vae::Tanh, float, Gpu>, vae::MlpVae<Deep, vae::Tanh, float>>(
      "vae_test_cuda_deep.ckpt");
}

TEST_CASE("a convolutional VAE and autoencoder: GPU gradients match finite differences and the CPU's (double)") {
  if (no_device("convolutional gradient checks")) return;
  const auto relu = vae::ActivationKind::Relu;
  const auto enc = vae::NetworkBuilder({1, 8, 8}).conv2d(2, 3, 2, 1, relu).flatten().dense(6, vae::ActivationKind::Tanh).dense(4).layers();
  const auto dec = vae::NetworkBuilder({2}).dense(32, vae::ActivationKind::Tanh).reshape(2, 4, 4).conv_transpose2d(1, 3, 2, 1, 1).layers();
  const vae::Objective<double> objective{R::BinaryCrossEntropy, K::Exact, 1.0};
  vae::SequentialVae<double, Gpu> gpu(vae::SequentialVariationalEncoder<double, Gpu>(enc), vae::SequentialDecoder<double, Gpu>(dec), 11, objective);
  vae::SequentialVae<double> cpu(vae::SequentialVariationalEncoder<double>(enc), vae::SequentialDecoder<double>(dec), 11, objective);
  vae::Rng noise(5);
  const Mat<double> x = random_matrix<double>(64, 3, 0.0, 1.0, noise);
  const auto check = vae::test::model_gradient_check(gpu, x, vae::Rng(5));
  MESSAGE("GPU conv VAE: " << check.checked << " parameters, max relative error " << check.max_relative_error);
  CHECK(check.max_relative_error <= 1e-6);
  vae::Rng rc(3), rg(3);
  const auto pc = cpu.compute_gradients(x, rc), pg = gpu.compute_gradients(x, rg);
  CHECK(rel_diff(double(pg.total), double(pc.total)) <= 1e-10);
  CHECK(rel_diff(gpu.gradients_host(), cpu.gradients_host()) <= 1e-10);
  CHECK(rel_diff(gpu.reconstruct(x), cpu.reconstruct(x)) <= 1e-10);
}

TEST_CASE("a conditional convolutional VAE: GPU gradients match finite differences and the CPU's (double)") {
  if (no_device("conditional convolutional gradient checks")) return;
  const auto relu = vae::ActivationKind::Relu;
  const auto enc = vae::NetworkBuilder({1, 8, 8}).label_planes(3).conv2d(2, 3, 2, 1, relu).flatten().dense(4).layers();
  const auto dec = vae::NetworkBuilder({5}).dense(32, vae::ActivationKind::Tanh).reshape(2, 4, 4).conv_transpose2d(1, 3, 2, 1, 1).layers();
  const vae::Objective<double> objective{R::BinaryCrossEntropy, K::Exact, 1.0};
  vae::SequentialCvae<3, double, Gpu> gpu(vae::SequentialVariationalEncoder<double, Gpu>(enc),
                                          vae::SequentialDecoder<double, Gpu>(dec), 11, objective);
  vae::SequentialCvae<3, double> cpu(vae::SequentialVariationalEncoder<double>(enc), vae::SequentialDecoder<double>(dec), 11,
                                     objective);
  vae::Rng noise(5);
  const Mat<double> pixels = random_matrix<double>(64, 3, 0.0, 1.0, noise);
  const Mat<double> x = vae::with_labels<double>(pixels, std::vector<int>{2, 0, 1}, 3);
  const auto check = vae::test::model_gradient_check(gpu, x, vae::Rng(5));
  MESSAGE("GPU conditional conv VAE: " << check.checked << " parameters, max relative error " << check.max_relative_error);
  CHECK(check.max_relative_error <= 1e-6);
  vae::Rng rc(3), rg(3);
  const auto pc = cpu.compute_gradients(x, rc), pg = gpu.compute_gradients(x, rg);
  CHECK(rel_diff(double(pg.total), double(pc.total)) <= 1e-10);
  CHECK(rel_diff(gpu.gradients_host(), cpu.gradients_host()) <= 1e-10);
}

TEST_CASE("the Keras example's convolutional VAE trains on the GPU as on the CPU (float)") {
  if (no_device("convolutional training parity")) return;
  auto cpu = vae::make_conv_vae<float>(2, 4);
  auto gpu = vae::make_conv_vae<float, Gpu>(2, 4);
  CHECK(cpu.parameters_host() == gpu.parameters_host());
  vae::Rng data(8);
  const Mat<float> x = random_matrix<float>(784, 32, 0.0f, 1.0f, data);
  vae::Adam<float> oc;
  vae::Adam<float, Gpu> og(vae::AdamOptions{}, gpu.context());
  vae::Rng rc(1), rg(1);
  for (int step = 0; step < 3; ++step) {
    const auto lc = cpu.train_step(x, oc, rc), lg = gpu.train_step(x, og, rg);
    CHECK(rel_diff(double(lg.total), double(lc.total)) <= 1e-4);
  }
  CHECK(rel_diff(gpu.parameters_host(), cpu.parameters_host()) <= 1e-4);
}

}  // TEST_SUITE("device")

}  // namespace test_cuda
