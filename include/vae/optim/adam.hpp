#pragma once
// Adam (Kingma & Ba) with PyTorch's update rule, over one flat parameter
// buffer. The settings (AdamOptions) are apart from the per-run state (the
// moment buffers and the step count), which checkpoints save and restore.

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "vae/backend/cpu.hpp"
#include "vae/core/elementwise.hpp"
#include "vae/core/error.hpp"

namespace vae {

namespace kernels {

/// One Adam update of element i of flat buffers (PyTorch's rule, L2 weight
/// decay added to the gradient, the gradient first scaled by grad_scale,
/// which gradient-norm clipping sets below 1):
///   g' = c g + wd p;  m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
///   p -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps),  bc_k = 1 - b_k^t.
template <class S>
struct AdamUpdate {
  S* p;
  const S* g;
  S* m;
  S* v;
  S step_size, beta1, beta2, eps, weight_decay, inv_sqrt_bc2, grad_scale;
  VAE_ELEMENTWISE(class T) void apply(Index i, Index) const {
    const T grad = grad_scale * el::load<T>(g + i) + weight_decay * el::load<T>(p + i);
    const T mk = beta1 * el::load<T>(m + i) + (S(1) - beta1) * grad;
    const T vk = beta2 * el::load<T>(v + i) + (S(1) - beta2) * (grad * grad);
    el::store(m + i, mk);
    el::store(v + i, vk);
    el::store(p + i, T(el::load<T>(p + i) - step_size * mk / (el::sqrt(vk) * inv_sqrt_bc2 + eps)));
  }
};

}  // namespace kernels

/// Adam's settings; PyTorch's defaults.
struct AdamOptions {
  /// Learning rate, > 0.
  double lr = 1e-3;
  /// Decay of the first moment, in [0, 1).
  double beta1 = 0.9;
  /// Decay of the second moment, in [0, 1).
  double beta2 = 0.999;
  /// Added to the denominator's sqrt(v_hat), > 0.
  double eps = 1e-8;
  /// L2 penalty added to the gradient (PyTorch's Adam `weight_decay`).
  double weight_decay = 0.0;
  /// When > 0, the gradient is scaled by clip_coefficient(max_grad_norm,
  /// its L2 norm) before the update (PyTorch's clip_grad_norm_ then step).
  double max_grad_norm = 0.0;
};

/// The factor gradient-norm clipping scales the gradient by, as PyTorch's
/// clip_grad_norm_ computes it: max_norm / (norm + 1e-6), used only when
/// below 1. The 1e-6 keeps a zero norm finite, and makes a gradient whose
/// norm equals the limit shrink very slightly, as it does in PyTorch.
inline double clip_coefficient(double max_norm, double norm) {
  const double c = max_norm / (norm + 1e-6);
  return c < 1.0 ? c : 1.0;
}

/// Throws ValueError naming the first field out of its range. The settings
/// are doubles but Adam computes in S: lr and eps must be positive normal
/// numbers of S (eps 1e-300 is 0 in float), and no setting may exceed S's
/// largest value (converting a larger double is undefined behaviour).
template <class S = double>
void validate(const AdamOptions& o) {
  const double tiny = static_cast<double>(std::numeric_limits<S>::min());
  const double huge = static_cast<double>(std::numeric_limits<S>::max());
  const std::string range = "[" + detail::number_text(tiny) + ", " + detail::number_text(huge) + "]";
  auto fail = [](const char* field, double value, const std::string& expected) {
    throw ValueError(std::string("vae::AdamOptions.") + field + " is " + detail::number_text(value) + ", expected " +
                     expected);
  };
  if (!(o.lr >= tiny && o.lr <= huge)) fail("lr", o.lr, "a value in " + range + " (> 0 and normal in the model's scalar)");
  if (!(o.beta1 >= 0 && o.beta1 < 1)) fail("beta1", o.beta1, "a value in [0, 1)");
  if (!(o.beta2 >= 0 && o.beta2 < 1)) fail("beta2", o.beta2, "a value in [0, 1)");
  if (!(o.eps >= tiny && o.eps <= huge)) fail("eps", o.eps, "a value in " + range + " (> 0 and normal in the model's scalar)");
  if (!(o.weight_decay >= 0 && o.weight_decay <= huge))
    fail("weight_decay", o.weight_decay, "a value in [0, " + detail::number_text(huge) + "]");
  if (!(o.max_grad_norm >= 0 && o.max_grad_norm <= huge))
    fail("max_grad_norm", o.max_grad_norm, "a value in [0, " + detail::number_text(huge) + "] (0 disables clipping)");
}

/// PyTorch's Adam over one flat parameter buffer, in one pass per element:
/// the settings (AdamOptions) and the per-run state (moments, step count) on
/// backend B. Its step() is what a model's train_step calls.
template <class S = float, class B = Cpu>
class Adam {
 public:
  /// The backend's primitives.
  using Ops = vae::Ops<B, S>;
  /// The backend's context the updates run on.
  using Context = typename B::Context;

  /// Throws ValueError for invalid options; the state is sized on the first step.
  explicit Adam(AdamOptions options = {}, Context ctx = {}) : options_(options), ctx_(std::move(ctx)) {
    validate<S>(options_);
  }

  /// One update of `params` from `grads` (same size n). The moment buffers
  /// are sized (zeroed) on the first call; afterwards n must not change.
  void step(View<S> params, ConstView<S> grads) {
    const Index n = params.size();
    if (grads.size() != n)
      throw ShapeError("vae::Adam::step: gradient has " + std::to_string(grads.size()) + " elements, parameters have " +
                       std::to_string(n));
    if (size_ == 0) resize(n);
    if (n != size_)
      throw ShapeError("vae::Adam::step: parameter buffer has " + std::to_string(n) + " elements, this optimizer's state has " +
                       std::to_string(size_));
    S scale = S(1);
    last_grad_norm_ = -1;
    if (options_.max_grad_norm > 0) {
      last_grad_norm_ = std::sqrt(static_cast<double>(Ops::squared_norm(ctx_, grads)));
      scale = S(clip_coefficient(options_.max_grad_norm, last_grad_norm_));
    }
    ++steps_;
    const double bc1 = 1.0 - std::pow(options_.beta1, static_cast<double>(steps_));
    const double bc2 = 1.0 - std::pow(options_.beta2, static_cast<double>(steps_));
    const kernels::AdamUpdate<S> update{params.data, grads.data, m_.data(), v_.data(),
                                        S(options_.lr / bc1), S(options_.beta1), S(options_.beta2),
                                        S(options_.eps), S(options_.weight_decay), S(1 / std::sqrt(bc2)), scale};
    Ops::for_each(ctx_, n, 1, update);
  }

  /// The current settings.
  const AdamOptions& options() const { return options_; }
  /// Changes the settings (the learning rate of a schedule, say); keeps the
  /// state. Throws ValueError for invalid options.
  void set_options(const AdamOptions& options) {
    validate<S>(options);
    options_ = options;
  }
  /// Number of steps taken (PyTorch's `state['step']`).
  long long steps() const { return steps_; }
  /// The gradient norm of the last step when clipping is on, -1 otherwise.
  double last_grad_norm() const { return last_grad_norm_; }
  /// Number of parameters the state is sized for (0 before the first step).
  Index size() const { return size_; }

  /// @{
  /// First and second moments (n each); empty before the first step.
  ConstView<S> first_moment() const { return make_view<S>(m_.data(), size_, 1); }
  ConstView<S> second_moment() const { return make_view<S>(v_.data(), size_, 1); }
  /// @}

  /// Copies the moments to host arrays of size() scalars each.
  void download_state(S* m, S* v) const {
    Ops::download(ctx_, first_moment(), m);
    Ops::download(ctx_, second_moment(), v);
  }

  /// Restores a saved state (host arrays of n scalars each), e.g. from a
  /// checkpoint.
  void restore(Index n, const S* m, const S* v, long long steps) {
    if (steps < 0) throw ValueError("vae::Adam::restore: step count is " + std::to_string(steps) + ", expected >= 0");
    resize(n);
    Ops::upload(ctx_, m, make_view(m_.data(), n, 1));
    Ops::upload(ctx_, v, make_view(v_.data(), n, 1));
    steps_ = steps;
  }

  /// Forgets the moments and the step count.
  void reset() {
    size_ = 0;
    steps_ = 0;
  }

 private:
  void resize(Index n) {
    m_.reserve(n);
    v_.reserve(n);
    size_ = n;
    Ops::set_zero(ctx_, make_view(m_.data(), n, 1));
    Ops::set_zero(ctx_, make_view(v_.data(), n, 1));
  }

  AdamOptions options_;
  Context ctx_;
  Buffer<B, S> m_, v_;
  Index size_ = 0;
  long long steps_ = 0;
  double last_grad_norm_ = -1;
};

}  // namespace vae
