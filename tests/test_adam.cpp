// Adam against values worked out by hand from PyTorch's update rule:
//   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
//   p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <vae/vae.hpp>

namespace {

double step_once(vae::Adam<double>& opt, double& p, double g) {
  opt.step(vae::make_view(&p, 1, 1), vae::make_view<double>(&g, 1, 1));
  return p;
}

}  // namespace

TEST_CASE("two Adam steps by hand") {
  // lr 0.1, p = 1, g = 0.5 then -0.25.
  // t = 1: m = 0.05, v = 0.00025, denom = sqrt(0.00025)/sqrt(0.001) + 1e-8 = 0.5 + 1e-8,
  //        p = 1 - (0.1 / 0.1) * 0.05 / (0.5 + 1e-8) = 0.900000002.
  // t = 2: m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225,
  //        p = 0.900000002 - (0.1 / 0.19) * 0.02 / (sqrt(0.00031225)/sqrt(0.001999) + 1e-8)
  //          = 0.8733662987078463.
  vae::Adam<double> opt({0.1});
  double p = 1.0;
  CHECK(step_once(opt, p, 0.5) == doctest::Approx(0.900000002).epsilon(1e-15));
  CHECK(opt.first_moment().data[0] == doctest::Approx(0.05).epsilon(1e-15));
  CHECK(opt.second_moment().data[0] == doctest::Approx(0.00025).epsilon(1e-15));
  CHECK(step_once(opt, p, -0.25) == doctest::Approx(0.8733662987078463).epsilon(1e-15));
  CHECK(opt.first_moment().data[0] == doctest::Approx(0.02).epsilon(1e-14));
  CHECK(opt.second_moment().data[0] == doctest::Approx(0.00031225).epsilon(1e-14));
  CHECK(opt.steps() == 2);
}

TEST_CASE("Adam weight decay adds wd * p to the gradient") {
  // p = 2, g = 0.1, wd = 0.5: g' = 1.1; first step moves p by lr * g'/(|g'| + eps):
  // 2 - 0.01 * 1.1 / (1.1 + 1e-8) = 1.990000000090909.
  vae::Adam<double> opt({0.01, 0.9, 0.999, 1e-8, 0.5});
  double p = 2.0;
  CHECK(step_once(opt, p, 0.1) == doctest::Approx(1.990000000090909).epsilon(1e-15));
}

TEST_CASE("Adam over a long buffer equals the scalar rule element by element") {
  const vae::Index n = 100003;  // not a multiple of the chunk size, and large enough to run threaded
  Eigen::VectorXf p = Eigen::VectorXf::Random(n), g = Eigen::VectorXf::Random(n);
  Eigen::VectorXd expected = p.cast<double>();
  vae::Adam<float> opt({0.003});
  for (int t = 1; t <= 3; ++t) {
    opt.step(vae::make_view(p.data(), n, 1), vae::make_view<float>(g.data(), n, 1));
  }
  // Scalar reference in double.
  Eigen::VectorXd m = Eigen::VectorXd::Zero(n), v = Eigen::VectorXd::Zero(n);
  for (int t = 1; t <= 3; ++t) {
    const Eigen::ArrayXd gd = g.cast<double>().array();
    m = 0.9 * m.array() + 0.1 * gd;
    v = 0.999 * v.array() + 0.001 * gd.square();
    const double bc1 = 1 - std::pow(0.9, t), bc2 = 1 - std::pow(0.999, t);
    expected.array() -= (0.003 / bc1) * m.array() / (v.array().sqrt() / std::sqrt(bc2) + 1e-8);
  }
  CHECK((p.cast<double>() - expected).cwiseAbs().maxCoeff() < 1e-6);
}

TEST_CASE("Adam rejects bad settings and mismatched buffers, naming the field") {
  CHECK_THROWS_WITH_AS(vae::Adam<float>({-1.0}), doctest::Contains("lr"), vae::ValueError);
  CHECK_THROWS_WITH_AS(vae::Adam<float>({1e-3, 1.0}), doctest::Contains("beta1"), vae::ValueError);
  CHECK_THROWS_WITH_AS(vae::Adam<float>({1e-3, 0.9, 0.999, 0.0}), doctest::Contains("eps"), vae::ValueError);
  vae::Adam<float> opt;
  Eigen::VectorXf p(4), g(4), p5(5), g5(5);
  p.setZero();
  g.setOnes();
  opt.step(vae::make_view(p.data(), 4, 1), vae::make_view<float>(g.data(), 4, 1));
  CHECK_THROWS_AS(opt.step(vae::make_view(p5.data(), 5, 1), vae::make_view<float>(g5.data(), 5, 1)), vae::ShapeError);
  CHECK_THROWS_AS(opt.step(vae::make_view(p.data(), 4, 1), vae::make_view<float>(g5.data(), 5, 1)), vae::ShapeError);
}

TEST_CASE("gradient-norm clipping scales the gradient to the limit, and only above it") {
  // Clipped: g = (3, 4) has norm 5 > 1, so Adam sees (0.6, 0.8); then
  // g = (0.3, 0.4) has norm 0.5 and passes unchanged.
  vae::AdamOptions clip;
  clip.lr = 0.1;
  clip.max_grad_norm = 1.0;
  vae::Adam<double> clipped(clip), reference({0.1});
  Eigen::Vector2d p1(1, -1), p2(1, -1);
  const Eigen::Vector2d g1(3, 4), g2(0.3, 0.4), g1_scaled(0.6, 0.8);
  clipped.step(vae::make_view(p1.data(), 2, 1), vae::make_view<double>(g1.data(), 2, 1));
  CHECK(clipped.last_grad_norm() == doctest::Approx(5.0));
  clipped.step(vae::make_view(p1.data(), 2, 1), vae::make_view<double>(g2.data(), 2, 1));
  CHECK(clipped.last_grad_norm() == doctest::Approx(0.5));
  reference.step(vae::make_view(p2.data(), 2, 1), vae::make_view<double>(g1_scaled.data(), 2, 1));
  reference.step(vae::make_view(p2.data(), 2, 1), vae::make_view<double>(g2.data(), 2, 1));
  CHECK((p1 - p2).cwiseAbs().maxCoeff() < 1e-15);
  // Without clipping the same gradients give a different result.
  vae::Adam<double> plain({0.1});
  Eigen::Vector2d p3(1, -1);
  plain.step(vae::make_view(p3.data(), 2, 1), vae::make_view<double>(g1.data(), 2, 1));
  plain.step(vae::make_view(p3.data(), 2, 1), vae::make_view<double>(g2.data(), 2, 1));
  CHECK((p3 - p1).cwiseAbs().maxCoeff() > 1e-3);
  CHECK_THROWS_WITH_AS(vae::Adam<double>(vae::AdamOptions{1e-3, 0.9, 0.999, 1e-8, 0.0, -1.0}),
                       doctest::Contains("max_grad_norm"), vae::ValueError);
}
