// Adam against values worked out by hand from PyTorch's update rule:
//   m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,
//   p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps).
#include <doctest/doctest.h>

#include <cmath>

#include <vae/vae.hpp>

namespace test_adam {

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
  // Checked against the scalar Adam computes in: eps 1e-300 is 0 in float,
  // lr 1e39 is beyond it (and converting it would be undefined behaviour).
  CHECK_THROWS_WITH_AS(vae::Adam<float>({1e-3, 0.9, 0.999, 1e-300}),
                       "vae::AdamOptions.eps is 1e-300, expected a value in [1.17549435e-38, 3.40282347e+38] (> 0 "
                       "and normal in the model's scalar)",
                       vae::ValueError);
  CHECK_THROWS_WITH_AS(vae::Adam<float>({1e39}), doctest::Contains("vae::AdamOptions.lr is 1e+39"), vae::ValueError);
  CHECK_THROWS_WITH_AS(vae::Adam<float>({1e-3, 0.9, 0.999, 1e-8, 1e300}),
                       doctest::Contains("vae::AdamOptions.weight_decay is 1e+300"), vae::ValueError);
  CHECK_NOTHROW(vae::Adam<double>({1e-3, 0.9, 0.999, 1e-300}));
  vae::Adam<float> opt;
  Eigen::VectorXf p(4), g(4), p5(5), g5(5);
  p.setZero();
  g.setOnes();
  opt.step(vae::make_view(p.data(), 4, 1), vae::make_view<float>(g.data(), 4, 1));
  CHECK_THROWS_AS(opt.step(vae::make_view(p5.data(), 5, 1), vae::make_view<float>(g5.data(), 5, 1)), vae::ShapeError);
  CHECK_THROWS_AS(opt.step(vae::make_view(p.data(), 4, 1), vae::make_view<float>(g5.data(), 5, 1)), vae::ShapeError);
}

TEST_CASE("gradient-norm clipping scales by max_norm / (norm + 1e-6), as PyTorch's clip_grad_norm_") {
  // Clipped: g = (3, 4) has norm 5, so Adam sees c g with c = 1 / (5 + 1e-6)
  // = 0.19999996000000799...; then g = (0.3, 0.4) has norm 0.5, c would be
  // 1 / 0.500001 > 1, and it passes unchanged.
  vae::AdamOptions clip;
  clip.lr = 0.1;
  clip.max_grad_norm = 1.0;
  vae::Adam<double> clipped(clip), reference({0.1});
  Eigen::Vector2d p1(1, -1), p2(1, -1);
  const double c = 1.0 / (5.0 + 1e-6);
  const Eigen::Vector2d g1(3, 4), g2(0.3, 0.4), g1_scaled = c * g1;
  clipped.step(vae::make_view(p1.data(), 2, 1), vae::make_view<double>(g1.data(), 2, 1));
  CHECK(clipped.last_grad_norm() == doctest::Approx(5.0).epsilon(1e-15));
  // m = (1 - b1) c g, v = (1 - b2) c^2 g^2, worked out to 40 digits.
  CHECK(clipped.first_moment().data[0] == doctest::Approx(0.0599999880000023999995).epsilon(1e-14));
  CHECK(clipped.first_moment().data[1] == doctest::Approx(0.0799999840000031999994).epsilon(1e-14));
  CHECK(clipped.second_moment().data[0] == doctest::Approx(0.000359999856000043199988).epsilon(1e-14));
  CHECK(clipped.second_moment().data[1] == doctest::Approx(0.000639999744000076799980).epsilon(1e-14));
  clipped.step(vae::make_view(p1.data(), 2, 1), vae::make_view<double>(g2.data(), 2, 1));
  CHECK(clipped.last_grad_norm() == doctest::Approx(0.5).epsilon(1e-15));
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

TEST_CASE("a gradient whose norm equals the limit is scaled by 1 / (1 + 1e-6), as in PyTorch") {
  // g = (0.6, 0.8): norm 1 = max_norm; PyTorch scales by 0.999999000001, so
  // m = 0.1 * 0.999999000001 * g = (0.05999994000006, 0.07999992000008).
  vae::AdamOptions clip;
  clip.max_grad_norm = 1.0;
  vae::Adam<double> opt(clip);
  Eigen::Vector2d p(0, 0);
  const Eigen::Vector2d g(0.6, 0.8);
  opt.step(vae::make_view(p.data(), 2, 1), vae::make_view<double>(g.data(), 2, 1));
  CHECK(opt.last_grad_norm() == doctest::Approx(1.0).epsilon(1e-15));
  CHECK(opt.first_moment().data[0] == doctest::Approx(0.05999994000005999994).epsilon(1e-14));
  CHECK(opt.first_moment().data[1] == doctest::Approx(0.07999992000007999992).epsilon(1e-14));
  // The coefficient itself: below 1 only above max_norm - 1e-6, never above 1.
  CHECK(vae::clip_coefficient(1.0, 5.0) == doctest::Approx(0.19999996000000799999).epsilon(1e-15));
  CHECK(vae::clip_coefficient(1.0, 0.5) == 1.0);
  CHECK(vae::clip_coefficient(1.0, 0.0) == 1.0);
  CHECK(vae::clip_coefficient(2.0, 2.0) == doctest::Approx(0.99999950000025).epsilon(1e-15));
}

TEST_CASE("Burda et al.'s schedule: stage i runs 3^i epochs at 1e-3 * 10^(-i/7), 3280 epochs in all") {
  // Stage starts: 0, 1, 4, 13, 40, 121, 364, 1093; stage 7 runs to epoch 3279.
  const int starts[] = {0, 1, 4, 13, 40, 121, 364, 1093};
  for (int i = 0; i < 8; ++i) {
    CAPTURE(i);
    const double rate = 1e-3 * std::pow(10.0, -i / 7.0);
    CHECK(vae::iwae_schedule_lr(starts[i]) == doctest::Approx(rate).epsilon(1e-12));
    if (i > 0) CHECK(vae::iwae_schedule_lr(starts[i] - 1) > vae::iwae_schedule_lr(starts[i]));
    const int end = i < 7 ? starts[i + 1] : vae::kIwaeScheduleEpochs;
    CHECK(end - starts[i] == static_cast<int>(std::lround(std::pow(3.0, i))));
    CHECK(vae::iwae_schedule_lr(end - 1) == vae::iwae_schedule_lr(starts[i]));
  }
  CHECK(vae::iwae_schedule_lr(0) == 1e-3);
  CHECK(vae::iwae_schedule_lr(vae::kIwaeScheduleEpochs - 1) == doctest::Approx(1e-4).epsilon(1e-12));
  CHECK(vae::iwae_schedule_lr(100000) == doctest::Approx(1e-4).epsilon(1e-12));
}

}  // namespace test_adam
