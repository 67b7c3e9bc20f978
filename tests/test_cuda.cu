// The CUDA backend. Two suites:
//   host   - runs everywhere: the kernels' element functors run on the host
//            against Ops<Cpu>, and without a GPU every entry point reports
//            DeviceError instead of crashing;
//   device - needs a GPU: Ops<Cuda> against Ops<Cpu> primitive by primitive,
//            buffers, whole-model gradient checks in double, CPU/GPU parity of
//            inference, gradients and training, determinism and concurrent
//            inference. Without a device each case prints
//            "no CUDA device: skipping ..." and returns; ctest then reports the
//            device suite as skipped (tests/CMakeLists.txt).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
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

namespace {

using vae::Index;
template <class S>
using Mat = vae::Matrix<S>;
using Gpu = vae::Cuda;

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

template <class S>
Mat<S> random_matrix(Index rows, Index cols, S lo = S(-1), S hi = S(1)) {
  const Mat<S> u = (Mat<S>::Random(rows, cols).array() + S(1)) / S(2);
  return (lo + (hi - lo) * u.array()).matrix();
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
};

template <class F>
void on_host(Index n, const F& f) {
  for (Index k = 0; k < n; ++k) f(k);
}

constexpr Index kIn = 12, kHidden = 6, kLatent = 3, kBatch = 5;

template <class S>
const Mat<S>& batch() {
  static const Mat<S> x = random_matrix<S>(kIn, kBatch, S(0), S(1));
  return x;
}

}  // namespace

// ---------------------------------------------------------------------------
TEST_SUITE("host") {

TEST_CASE("the kernels' element functors match Ops<Cpu> when run on the host") {
  namespace gpu = vae::detail::gpu;
  using Cpu = vae::Ops<vae::Cpu, double>;
  const vae::Cpu::Context c;
  constexpr double kTol = 1e-12;
  const Index rows = 7, cols = 4;

  SUBCASE("add_bias with and without ReLU, relu_backward, sigmoid, exp_clamped, scale") {
    for (bool relu : {false, true}) {
      Strided<double> y(random_matrix<double>(rows, cols), 2), ref(y.value(), 0);
      Mat<double> b = random_matrix<double>(rows, 1);
      on_host(rows * cols, gpu::AddBias<double>{y.view(), vae::view_of<double>(b), relu});
      Cpu::add_bias(c, ref.view(), vae::view_of<double>(b), relu);
      CHECK(rel_diff(y.value(), ref.value()) <= kTol);
      CHECK((y.storage.bottomRows(2).array() == 7).all());
    }
    const Mat<double> h = random_matrix<double>(rows, cols);
    Strided<double> dh(random_matrix<double>(rows, cols), 1), dref(dh.value(), 0);
    on_host(rows * cols, gpu::ReluBackward<double>{dh.view(), vae::view_of<double>(h)});
    Cpu::relu_backward(c, dref.view(), vae::view_of<double>(h));
    CHECK(dh.value() == dref.value());

    Strided<double> s(random_matrix<double>(rows, cols, -5, 5), 3), sref(s.value(), 0);
    on_host(rows * cols, gpu::Sigmoid<double>{s.view(), s.view()});
    Cpu::sigmoid(c, sref.view(), sref.view());
    CHECK(rel_diff(s.value(), sref.value()) <= kTol);

    const Mat<double> ls = random_matrix<double>(rows, cols, -30, 30);
    Mat<double> sigma(rows, cols), sigma_ref(rows, cols);
    on_host(rows * cols, gpu::ExpClamped<double>{vae::view_of<double>(ls), vae::make_view(sigma.data(), rows, cols)});
    Cpu::exp_clamped(c, vae::view_of<double>(ls), vae::make_view(sigma_ref.data(), rows, cols));
    CHECK(rel_diff(sigma, sigma_ref) <= kTol);

    Strided<double> v(random_matrix<double>(rows, cols), 2);
    const Mat<double> before = v.value();
    on_host(rows * cols, gpu::Scale<double>{v.view(), -2.5});
    CHECK(rel_diff(v.value(), Mat<double>(-2.5 * before)) <= kTol);
  }

  SUBCASE("bias_grad sums each row over the columns") {
    const Mat<double> dy = random_matrix<double>(rows, cols);
    Mat<double> db(rows, 1), db_ref(rows, 1);
    on_host(rows, gpu::BiasGrad<double>{vae::view_of<double>(dy), vae::make_view(db.data(), rows, 1)});
    Cpu::bias_grad(c, vae::view_of<double>(dy), vae::make_view(db_ref.data(), rows, 1));
    CHECK(rel_diff(db, db_ref) <= kTol);
  }

  SUBCASE("reconstruction: per-element loss and gradient, both kinds") {
    for (auto kind : {vae::Reconstruction::SquaredError, vae::Reconstruction::BinaryCrossEntropy}) {
      const Mat<double> x = random_matrix<double>(rows, cols, 0, 1);
      Mat<double> logits = random_matrix<double>(rows, cols, -4, 4), logits_ref = logits;
      Mat<double> col(1, cols), col_ref(1, cols);
      const gpu::ReconstructionElement<double> f{kind, vae::make_view(logits.data(), rows, cols),
                                                 vae::view_of<double>(x)};
      for (Index j = 0; j < cols; ++j) {
        col(0, j) = 0;
        for (Index i = 0; i < rows; ++i) col(0, j) += f(i, j);
      }
      const double total = Cpu::reconstruction(c, kind, vae::make_view(logits_ref.data(), rows, cols),
                                               vae::view_of<double>(x), vae::make_view(col_ref.data(), 1, cols));
      CHECK(rel_diff(logits, logits_ref) <= kTol);
      CHECK(rel_diff(col, col_ref) <= kTol);
      CHECK(rel_diff(col.sum(), total) <= kTol);
    }
  }

  SUBCASE("adam_step with weight decay and a gradient scale") {
    const Index n = 50;
    for (double scale : {1.0, 0.5}) {
      Mat<double> p = random_matrix<double>(n, 1), g = random_matrix<double>(n, 1);
      Mat<double> m = random_matrix<double>(n, 1) * 0.1, v = random_matrix<double>(n, 1, 0, 0.01);
      Mat<double> p2 = p, m2 = m, v2 = v;
      const double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01, bc1 = 1 - b1 * b1, bc2 = 1 - b2 * b2;
      on_host(n, gpu::AdamElement<double>{p.data(), g.data(), m.data(), v.data(), lr / bc1, b1, b2, eps, wd,
                                          1 / std::sqrt(bc2), scale});
      Cpu::adam_step(c, vae::make_view(p2.data(), n, 1), vae::view_of<double>(g), vae::make_view(m2.data(), n, 1),
                     vae::make_view(v2.data(), n, 1), lr, b1, b2, eps, wd, bc1, bc2, scale);
      CHECK(rel_diff(p, p2) <= kTol);
      CHECK(rel_diff(m, m2) <= kTol);
      CHECK(rel_diff(v, v2) <= kTol);
    }
  }

  SUBCASE("fill_normal draws exactly Rng::fill_normal's numbers") {
    vae::Rng a(42, 3), b(42, 3);
    Mat<double> out(rows, cols), ref(rows, cols);
    const std::uint64_t first = a.reserve_normals(out.size());
    on_host(out.size(), gpu::FillNormal<double>{vae::make_view(out.data(), rows, cols), a.seed(), first});
    b.fill_normal(ref.data(), ref.size());
    CHECK(out == ref);
    CHECK(a.counter() == b.counter());
  }

  SUBCASE("gaussian_sample and gaussian_backward, both KL forms, with clamped log sigmas") {
    for (auto form : {vae::KlForm::Exact, vae::KlForm::Blog}) {
      Mat<double> heads = random_matrix<double>(2 * kLatent, cols, -2, 2);
      heads(kLatent, 0) = -25;  // below the clamp range
      heads(kLatent + 1, 2) = 23;  // above it
      const Mat<double> eps = random_matrix<double>(kLatent, cols), dz = random_matrix<double>(kLatent, cols);
      Mat<double> z(kLatent, cols), z_ref(kLatent, cols), dh(2 * kLatent, cols), dh_ref(2 * kLatent, cols);
      double kl = 0;
      const gpu::GaussianSample<double> f{form, vae::view_of<double>(heads), vae::view_of<double>(eps),
                                          vae::make_view(z.data(), kLatent, cols)};
      for (Index k = 0; k < z.size(); ++k) kl += f(k);
      const double kl_ref = Cpu::gaussian_sample(c, form, vae::view_of<double>(heads), vae::view_of<double>(eps),
                                                 vae::make_view(z_ref.data(), kLatent, cols));
      CHECK(rel_diff(z, z_ref) <= kTol);
      CHECK(rel_diff(kl, kl_ref) <= kTol);
      on_host(dz.size(), gpu::GaussianBackward<double>{form, 0.7, vae::view_of<double>(heads),
                                                       vae::view_of<double>(eps), vae::view_of<double>(dz),
                                                       vae::make_view(dh.data(), 2 * kLatent, cols)});
      Cpu::gaussian_backward(c, form, 0.7, vae::view_of<double>(heads), vae::view_of<double>(eps),
                             vae::view_of<double>(dz), vae::make_view(dh_ref.data(), 2 * kLatent, cols));
      CHECK(rel_diff(dh, dh_ref) <= kTol);
      CHECK(dh(kLatent, 0) == 0);
      CHECK(dh(kLatent + 1, 2) == 0);
    }
  }

  SUBCASE("sum, squared norm and the non-finite count") {
    Strided<double> v(random_matrix<double>(rows, cols), 2);
    double total = 0, squares = 0, bad = 0;
    on_host(rows * cols, [&](Index k) {
      total += gpu::ValueOf<double>{v.view()}(k);
      squares += gpu::SquareOf<double>{v.view()}(k);
      bad += gpu::NonFinite<double>{v.view()}(k);
    });
    CHECK(rel_diff(total, Cpu::sum(v.view())) <= kTol);
    CHECK(rel_diff(squares, Cpu::squared_norm(c, v.view())) <= kTol);
    CHECK(bad == 0);
    v.storage(1, 2) = std::nan("");
    v.storage(3, 0) = -INFINITY;
    v.storage(rows, 1) = INFINITY;  // in the padding: not part of the view
    bad = 0;
    on_host(rows * cols, [&](Index k) { bad += gpu::NonFinite<double>{v.view()}(k); });
    CHECK(bad == 2);
  }
}

TEST_CASE("without a device, every entry point reports DeviceError") {
  if (vae::cuda_device_count() > 0) {
    MESSAGE("a CUDA device is present: the no-device checks do not apply");
    return;
  }
  CHECK_THROWS_WITH_AS(Gpu::Context{}, doctest::Contains("CUDA device"), vae::DeviceError);
  CHECK_THROWS_WITH_AS(Gpu::Context::with_own_stream(), doctest::Contains("CUDA device"), vae::DeviceError);
  CHECK_THROWS_WITH_AS((vae::Buffer<Gpu, float>(16)), doctest::Contains("cudaMalloc"), vae::DeviceError);
  CHECK_THROWS_AS((vae::VariationalAutoencoder<kIn, kHidden, kLatent, float, Gpu>(1)), vae::DeviceError);
  CHECK_THROWS_AS((vae::Adam<float, Gpu>()), vae::DeviceError);
  // Empty buffers need no device.
  vae::Buffer<Gpu, float> empty;
  CHECK(empty.size() == 0);
  vae::Buffer<Gpu, float> copy = empty;
  CHECK(copy.data() == nullptr);
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
  const vae::Cpu::Context c;
  const Gpu::Context g;
  const double tol = std::is_same_v<S, float> ? 2e-5 : 1e-12;
  const Index rows = 37, cols = 9;

  SUBCASE("gemm, all four transposes, strided operands") {
    const Index m = 13, n = 11, k = 7;
    for (auto ta : {vae::Trans::No, vae::Trans::Yes})
      for (auto tb : {vae::Trans::No, vae::Trans::Yes}) {
        const Mat<S> a = ta == vae::Trans::No ? random_matrix<S>(m, k) : random_matrix<S>(k, m);
        const Mat<S> b = tb == vae::Trans::No ? random_matrix<S>(k, n) : random_matrix<S>(n, k);
        const Mat<S> c0 = random_matrix<S>(m, n);
        Strided<S> cpu_c(c0, 0);
        DeviceStrided<S> da(g, a, 2), db(g, b, 1), dc(g, c0, 3);
        Cpu::gemm(c, ta, tb, S(0.5), vae::view_of<S>(a), vae::view_of<S>(b), S(2), cpu_c.view());
        Ops::gemm(g, ta, tb, S(0.5), da.view(), db.view(), S(2), dc.view());
        CHECK(rel_diff(dc.value(g), cpu_c.value()) <= tol);
        CHECK((dc.padding(g).array() == S(7)).all());
      }
  }

  SUBCASE("gemm with TF32 allowed stays close") {
    Gpu::Context tf32 = g;
    tf32.set_allow_tf32(true);
    CHECK_FALSE(g.allow_tf32());
    const Mat<S> a = random_matrix<S>(64, 128), b = random_matrix<S>(128, 32);
    Mat<S> ref = a * b, out(64, 32);
    DeviceStrided<S> da(g, a, 0), db(g, b, 0), dc(g, out, 0);
    Ops::gemm(tf32, vae::Trans::No, vae::Trans::No, S(1), da.view(), db.view(), S(0), dc.view());
    CHECK(rel_diff(dc.value(g), ref) <= 1e-2);
    Ops::gemm(g, vae::Trans::No, vae::Trans::No, S(1), da.view(), db.view(), S(0), dc.view());
    CHECK(rel_diff(dc.value(g), ref) <= tol * 10);
  }

  SUBCASE("add_bias, relu_backward, sigmoid, bias_grad, scale, exp_clamped") {
    const Mat<S> y0 = random_matrix<S>(rows, cols), bias = random_matrix<S>(rows, 1);
    for (bool relu : {false, true}) {
      Strided<S> cy(y0, 0);
      DeviceStrided<S> dy(g, y0, 2), db(g, bias, 0);
      Cpu::add_bias(c, cy.view(), vae::view_of<S>(bias), relu);
      Ops::add_bias(g, dy.view(), db.view(), relu);
      CHECK(rel_diff(dy.value(g), cy.value()) <= tol);
      CHECK((dy.padding(g).array() == S(7)).all());
    }
    const Mat<S> h = random_matrix<S>(rows, cols), d0 = random_matrix<S>(rows, cols);
    Strided<S> cd(d0, 0);
    DeviceStrided<S> dd(g, d0, 1), dh(g, h, 2);
    Cpu::relu_backward(c, cd.view(), vae::view_of<S>(h));
    Ops::relu_backward(g, dd.view(), dh.view());
    CHECK(dd.value(g) == cd.value());

    Strided<S> cs(random_matrix<S>(rows, cols, -6, 6), 0);
    DeviceStrided<S> ds(g, cs.value(), 1);
    Cpu::sigmoid(c, cs.view(), cs.view());
    Ops::sigmoid(g, ds.view(), ds.view());
    CHECK(rel_diff(ds.value(g), cs.value()) <= tol);

    // dd and cd hold relu_backward's output.
    Mat<S> cb(rows, 1);
    DeviceStrided<S> gb(g, Mat<S>::Zero(rows, 1), 0);
    Ops::bias_grad(g, dd.view(), gb.view());
    Cpu::bias_grad(c, cd.view(), vae::make_view(cb.data(), rows, 1));
    CHECK(rel_diff(gb.value(g), cb) <= tol);

    DeviceStrided<S> sc(g, d0, 2);
    Ops::scale(g, sc.view(), S(-3));
    CHECK(rel_diff(sc.value(g), Mat<S>(S(-3) * d0)) <= tol);

    const Mat<S> ls = random_matrix<S>(rows, cols, -30, 30);
    Mat<S> sigma(rows, cols);
    DeviceStrided<S> dls(g, ls, 1), dsig(g, ls, 0);
    Cpu::exp_clamped(c, vae::view_of<S>(ls), vae::make_view(sigma.data(), rows, cols));
    Ops::exp_clamped(g, dls.view(), dsig.view());
    CHECK(rel_diff(dsig.value(g), sigma) <= tol);
  }

  SUBCASE("reconstruction, both kinds: loss per column, sum, gradient in place") {
    for (auto kind : {vae::Reconstruction::SquaredError, vae::Reconstruction::BinaryCrossEntropy}) {
      const Mat<S> x = random_matrix<S>(rows, cols, 0, 1), logits = random_matrix<S>(rows, cols, -5, 5);
      Mat<S> cl = logits, ccol(1, cols);
      DeviceStrided<S> dl(g, logits, 3), dx(g, x, 1), dcol(g, Mat<S>::Zero(1, cols), 0);
      const S cpu = Cpu::reconstruction(c, kind, vae::make_view(cl.data(), rows, cols), vae::view_of<S>(x),
                                        vae::make_view(ccol.data(), 1, cols));
      const S gpu = Ops::reconstruction(g, kind, dl.view(), dx.view(), dcol.view());
      CHECK(rel_diff(double(gpu), double(cpu)) <= tol);
      CHECK(rel_diff(dcol.value(g), ccol) <= tol);
      CHECK(rel_diff(dl.value(g), cl) <= tol);
      // Deterministic: the same call again gives the same bits.
      DeviceStrided<S> dl2(g, logits, 3);
      CHECK(Ops::reconstruction(g, kind, dl2.view(), dx.view(), dcol.view()) == gpu);
    }
  }

  SUBCASE("fill_normal, gaussian_sample and gaussian_backward") {
    vae::Rng rc(11, 5), rg(11, 5);
    Mat<S> eps = Mat<S>::Zero(kLatent, cols);
    DeviceStrided<S> deps(g, eps, 0);
    Cpu::fill_normal(c, rc, vae::make_view(eps.data(), kLatent, cols));
    Ops::fill_normal(g, rg, deps.view());
    CHECK(rc.counter() == rg.counter());
    CHECK(rel_diff(deps.value(g), eps) <= tol);

    for (auto form : {vae::KlForm::Exact, vae::KlForm::Blog}) {
      Mat<S> heads = random_matrix<S>(2 * kLatent, cols, -2, 2);
      heads(kLatent, 1) = S(-24);
      const Mat<S> dz = random_matrix<S>(kLatent, cols);
      Mat<S> z = Mat<S>::Zero(kLatent, cols), dh = Mat<S>::Zero(2 * kLatent, cols);
      DeviceStrided<S> dheads(g, heads, 1), ddz(g, dz, 0), dzv(g, z, 0), ddh(g, dh, 2);
      const S kl = Cpu::gaussian_sample(c, form, vae::view_of<S>(heads), vae::view_of<S>(eps),
                                        vae::make_view(z.data(), kLatent, cols));
      const S gkl = Ops::gaussian_sample(g, form, dheads.view(), deps.view(), dzv.view());
      CHECK(rel_diff(double(gkl), double(kl)) <= tol);
      CHECK(rel_diff(dzv.value(g), z) <= tol);
      Cpu::gaussian_backward(c, form, S(0.5), vae::view_of<S>(heads), vae::view_of<S>(eps), vae::view_of<S>(dz),
                             vae::make_view(dh.data(), 2 * kLatent, cols));
      Ops::gaussian_backward(g, form, S(0.5), dheads.view(), deps.view(), ddz.view(), ddh.view());
      CHECK(rel_diff(ddh.value(g), dh) <= tol);
    }
  }

  SUBCASE("adam_step") {
    const Index n = 100000;  // several blocks
    Mat<S> p = random_matrix<S>(n, 1), grad = random_matrix<S>(n, 1);
    Mat<S> m = Mat<S>::Zero(n, 1), v = Mat<S>::Zero(n, 1);
    DeviceStrided<S> dp(g, p, 0), dg(g, grad, 0), dm(g, m, 0), dv(g, v, 0);
    for (int t = 1; t <= 3; ++t) {
      const S bc1 = S(1 - std::pow(0.9, t)), bc2 = S(1 - std::pow(0.999, t));
      Cpu::adam_step(c, vae::make_view(p.data(), n, 1), vae::view_of<S>(grad), vae::make_view(m.data(), n, 1),
                     vae::make_view(v.data(), n, 1), S(1e-3), S(0.9), S(0.999), S(1e-8), S(0.01), bc1, bc2, S(0.8));
      Ops::adam_step(g, dp.view(), dg.view(), dm.view(), dv.view(), S(1e-3), S(0.9), S(0.999), S(1e-8), S(0.01), bc1,
                     bc2, S(0.8));
    }
    CHECK(rel_diff(dp.value(g), p) <= tol);
    CHECK(rel_diff(dm.value(g), m) <= tol);
    CHECK(rel_diff(dv.value(g), v) <= tol);
  }

  SUBCASE("sum, squared_norm, all_finite, copy, set_zero, stage") {
    const Mat<S> a = random_matrix<S>(rows, 3000);  // many reduction blocks
    DeviceStrided<S> da(g, a, 2);
    CHECK(rel_diff(double(Ops::sum(g, da.view())), double(a.template cast<double>().sum())) <= tol);
    CHECK(Ops::sum(g, da.view()) == Ops::sum(g, da.view()));
    CHECK(rel_diff(double(Ops::squared_norm(g, da.view())), a.template cast<double>().squaredNorm()) <= tol);
    CHECK(Ops::all_finite(g, da.view()));
    Mat<S> bad = a;
    bad(5, 2000) = std::numeric_limits<S>::infinity();
    DeviceStrided<S> dbad(g, bad, 1);
    CHECK_FALSE(Ops::all_finite(g, dbad.view()));

    DeviceStrided<S> dst(g, Mat<S>::Zero(rows, 3000), 1);
    Ops::copy(g, da.view(), dst.view());
    CHECK(dst.value(g) == a);
    CHECK((dst.padding(g).array() == S(7)).all());
    Ops::set_zero(g, dst.view());
    CHECK(dst.value(g).isZero(0));
    CHECK((dst.padding(g).array() == S(7)).all());

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

/// Gradient check of a whole model on the GPU, as tests/test_models.cpp does
/// on the CPU.
template <class Model>
void device_gradient_check(vae::Objective<double> objective, const char* name) {
  Model model(11, objective);
  const vae::Rng noise(5);
  vae::Rng rng = noise;
  const auto parts = model.compute_gradients(batch<double>(), rng);
  const Eigen::VectorXd analytic = model.gradients_host();
  CHECK(analytic.allFinite());
  Model probe = model;
  const auto check = vae::test::check_gradient(
      [&](const Eigen::VectorXd& p) {
        probe.set_parameters(p);
        vae::Rng r = noise;
        return probe.evaluate(batch<double>(), r).total * kBatch;
      },
      model.parameters_host(), analytic);
  MESSAGE(std::string(name) << ": " << check.checked << " parameters, max relative error " << check.max_relative_error
                << ", loss " << parts.total);
  CHECK(check.checked == Model::parameter_count);
  CHECK(check.max_relative_error <= 1e-6);
}

TEST_CASE("whole-model gradients on the GPU match finite differences (double)") {
  if (no_device("GPU gradient checks")) return;
  using R = vae::Reconstruction;
  using K = vae::KlForm;
  using Ae = vae::Autoencoder<kIn, kHidden, kLatent, double, Gpu>;
  using Vae = vae::VariationalAutoencoder<kIn, kHidden, kLatent, double, Gpu>;
  device_gradient_check<Ae>({R::SquaredError}, "GPU autoencoder, squared error");
  device_gradient_check<Ae>({R::BinaryCrossEntropy}, "GPU autoencoder, BCE");
  device_gradient_check<Vae>({R::SquaredError, K::Blog, 1.0}, "GPU VAE, squared error + blog KL");
  device_gradient_check<Vae>({R::BinaryCrossEntropy, K::Exact, 4.0}, "GPU VAE, BCE + 4 x exact KL");
}

/// Same seed (so the same initial weights) and the same Rng state (so the same
/// noise) on both backends: outputs and gradients agree to `tol`.
template <class CpuModel, class GpuModel>
void model_parity(vae::Objective<typename CpuModel::Scalar> objective, double tol) {
  using S = typename CpuModel::Scalar;
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
  MESSAGE("gradient difference GPU vs CPU, relative to the largest: " << grad_err);
  CHECK(grad_err <= tol);
}

TEST_CASE("CPU and GPU models agree: inference, losses, gradients") {
  if (no_device("CPU/GPU model parity")) return;
  using R = vae::Reconstruction;
  using K = vae::KlForm;
  model_parity<vae::Autoencoder<kIn, kHidden, kLatent, double>, vae::Autoencoder<kIn, kHidden, kLatent, double, Gpu>>(
      {R::BinaryCrossEntropy}, 1e-10);
  model_parity<vae::VariationalAutoencoder<kIn, kHidden, kLatent, double>,
               vae::VariationalAutoencoder<kIn, kHidden, kLatent, double, Gpu>>({R::SquaredError, K::Exact, 1.0},
                                                                                1e-10);
  model_parity<vae::Autoencoder<kIn, kHidden, kLatent, float>, vae::Autoencoder<kIn, kHidden, kLatent, float, Gpu>>(
      {R::SquaredError}, 1e-4);
  model_parity<vae::VariationalAutoencoder<kIn, kHidden, kLatent, float>,
               vae::VariationalAutoencoder<kIn, kHidden, kLatent, float, Gpu>>({R::BinaryCrossEntropy, K::Blog, 2.0},
                                                                               1e-4);

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

TEST_CASE("a few float train steps on the GPU track the CPU") {
  if (no_device("CPU/GPU training parity")) return;
  constexpr Index in = 64, hidden = 32, latent = 4, b = 16;
  vae::VariationalAutoencoder<in, hidden, latent, float> cpu(17);
  vae::VariationalAutoencoder<in, hidden, latent, float, Gpu> gpu(17);
  vae::Adam<float> opt_c;
  vae::Adam<float, Gpu> opt_g;
  vae::Rng rc(8), rg(8);
  const Eigen::VectorXf p0 = cpu.parameters_host();
  for (int step = 0; step < 5; ++step) {
    const Mat<float> x = random_matrix<float>(in, b, 0, 1);
    const auto lc = cpu.train_step(x, opt_c, rc), lg = gpu.train_step(x, opt_g, rg);
    CHECK(rel_diff(double(lg.total), double(lc.total)) <= 1e-4);
  }
  const Eigen::VectorXf pc = cpu.parameters_host(), pg = gpu.parameters_host();
  const double err = (pg - pc).norm() / pc.norm(), moved = (pc - p0).norm();
  MESSAGE("parameters after 5 Adam steps, GPU vs CPU: relative difference " << err << "; |GPU - CPU| / |CPU - start| "
                                                                              << (pg - pc).norm() / moved);
  CHECK(err <= 1e-4);
  // Meaningful only if training moved the parameters well beyond the difference.
  CHECK(moved / p0.norm() > 1e-3);
  CHECK((pg - pc).norm() <= 0.05 * moved);
  Eigen::VectorXf mc(opt_c.size()), vc(opt_c.size()), mg(opt_g.size()), vg(opt_g.size());
  opt_c.download_state(mc.data(), vc.data());
  opt_g.download_state(mg.data(), vg.data());
  CHECK((mg - mc).norm() / mc.norm() <= 1e-4);
  CHECK(opt_g.steps() == 5);
}

TEST_CASE("GPU training is deterministic: two runs give the same bits") {
  if (no_device("GPU determinism")) return;
  auto run = [] {
    vae::VariationalAutoencoder<64, 32, 4, float, Gpu> model(23);
    vae::Adam<float, Gpu> opt;
    vae::Rng rng(6);
    float last = 0;
    for (int step = 0; step < 4; ++step) last = model.train_step(random_matrix<float>(64, 32, 0, 1), opt, rng).total;
    return std::make_pair(last, Eigen::VectorXf(model.parameters_host()));
  };
  std::srand(1);
  const auto a = run();
  std::srand(1);
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

TEST_CASE("a checkpoint written from the GPU loads on the CPU and back") {
  if (no_device("GPU checkpoints")) return;
  using GpuVae = vae::VariationalAutoencoder<kIn, kHidden, kLatent, float, Gpu>;
  using CpuVae = vae::VariationalAutoencoder<kIn, kHidden, kLatent, float>;
  GpuVae gpu(12);
  vae::Adam<float, Gpu> opt_g;
  vae::Rng rng(1);
  for (int i = 0; i < 3; ++i) gpu.train_step(batch<float>(), opt_g, rng);
  const std::string path = (std::filesystem::temp_directory_path() / "vae_test_cuda.ckpt").string();
  vae::io::save_checkpoint(path, gpu, &opt_g);

  CpuVae cpu(0);
  vae::Adam<float> opt_c;
  vae::io::load_checkpoint(path, cpu, &opt_c);
  CHECK(cpu.parameters_host() == gpu.parameters_host());
  CHECK(opt_c.steps() == 3);
  GpuVae back(0);
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

}  // TEST_SUITE("device")
