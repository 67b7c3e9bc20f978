#pragma once
// What an autoencoder and a VAE share: one flat parameter buffer and one flat
// gradient buffer holding the encoder's and the decoder's layers, the input
// checks, decoding, and the train step (gradients, then one optimizer update).

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>

#include "vae/backend/cpu.hpp"
#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"
#include "vae/losses.hpp"

namespace vae::detail {

/// Throws ShapeError/ValueError unless `x` is a non-empty batch of `rows`
/// features per column with finite values (in [0, 1] when `unit_range`).
template <class S>
void check_batch(const MatrixRef<S>& x, Index rows, const char* where, const char* what, bool unit_range = false) {
  if (x.rows() != rows)
    throw ShapeError(std::string(where) + ": " + what + " has " + std::to_string(x.rows()) + " rows, expected " +
                     std::to_string(rows) + " (one column per sample)");
  if (x.cols() == 0) throw ShapeError(std::string(where) + ": " + what + " is empty (0 columns), expected at least 1 sample");
  if (!x.allFinite()) throw ValueError(std::string(where) + ": " + what + " contains NaN or infinite values");
  if (unit_range && (x.minCoeff() < S(0) || x.maxCoeff() > S(1)))
    throw ValueError(std::string(where) + ": " + what +
                     " has values outside [0, 1], which binary cross-entropy requires as targets");
}

template <class S>
void check_objective(const Objective<S>& o) {
  if (!(o.beta >= S(0) && std::isfinite(static_cast<double>(o.beta))))
    throw ValueError("vae::Objective.beta is " + std::to_string(static_cast<double>(o.beta)) +
                     ", expected a finite value >= 0");
}

/// Detects `opt.step(View<S>, ConstView<S>)`, the interface train_step needs.
template <class Opt, class S, class = void>
struct is_optimizer : std::false_type {};
template <class Opt, class S>
struct is_optimizer<Opt, S, std::void_t<decltype(std::declval<Opt&>().step(std::declval<View<S>>(), std::declval<ConstView<S>>()))>>
    : std::true_type {};

template <class Enc, class Dec>
class ModelBase {
  static_assert(std::is_same_v<typename Enc::Scalar, typename Dec::Scalar>,
                "vae: the encoder and the decoder must use the same scalar type");
  static_assert(std::is_same_v<typename Enc::Backend, typename Dec::Backend>,
                "vae: the encoder and the decoder must use the same backend");
  static_assert(Enc::latent_size == Dec::latent_size,
                "vae: the decoder's latent size (its first template argument) must equal the encoder's latent size");
  static_assert(Enc::input_size == Dec::output_size,
                "vae: the decoder must output as many features as the encoder takes as input");

 public:
  using Scalar = typename Enc::Scalar;
  using Backend = typename Enc::Backend;
  using Context = typename Backend::Context;
  using EncoderType = Enc;
  using DecoderType = Dec;
  static constexpr Index input_size = Enc::input_size;
  static constexpr Index hidden_size = Enc::hidden_size;
  static constexpr Index latent_size = Enc::latent_size;
  static constexpr Index parameter_count = Enc::parameter_count + Dec::parameter_count;
  static constexpr bool is_variational = Enc::is_variational;

 protected:
  using S = Scalar;
  using Ops = vae::Ops<Backend, S>;

  ModelBase(std::uint64_t seed, Objective<S> objective, Context ctx)
      : ctx_(std::move(ctx)), objective_(objective), params_(parameter_count), grads_(parameter_count) {
    check_objective(objective_);
    Vector<S> host(parameter_count);
    Rng rng(seed);
    Enc::initialize(rng, host.data());
    Dec::initialize(rng, host.data() + Enc::parameter_count);
    Ops::upload(ctx_, host.data(), parameters());
    Ops::set_zero(ctx_, gradients());
    bind();
  }
  ModelBase(const ModelBase& other)
      : ctx_(other.ctx_), objective_(other.objective_), params_(parameter_count), grads_(parameter_count) {
    Ops::copy(ctx_, other.parameters(), parameters());
    Ops::copy(ctx_, other.gradients(), gradients());
    bind();
  }
  ModelBase(ModelBase&& other) noexcept
      : ctx_(std::move(other.ctx_)), objective_(other.objective_), params_(std::move(other.params_)),
        grads_(std::move(other.grads_)) {
    bind();
  }
  ModelBase& operator=(const ModelBase& other) {
    if (this != &other) {
      objective_ = other.objective_;
      Ops::copy(ctx_, other.parameters(), parameters());
      Ops::copy(ctx_, other.gradients(), gradients());
    }
    return *this;
  }
  ModelBase& operator=(ModelBase&& other) noexcept {
    ctx_ = std::move(other.ctx_);
    objective_ = other.objective_;
    params_ = std::move(other.params_);
    grads_ = std::move(other.grads_);
    bind();
    return *this;
  }
  ~ModelBase() = default;

 public:
  /// All parameters, flat: the encoder's layers then the decoder's, each
  /// layer W (out x in, column-major) then b.
  View<S> parameters() { return make_view(params_.data(), parameter_count, 1); }
  ConstView<S> parameters() const { return make_view<S>(params_.data(), parameter_count, 1); }
  /// Gradients of the last compute_gradients/train_step, same layout.
  View<S> gradients() { return make_view(grads_.data(), parameter_count, 1); }
  ConstView<S> gradients() const { return make_view<S>(grads_.data(), parameter_count, 1); }

  /// Host copies of the parameters / gradients, and replacing the parameters.
  Vector<S> parameters_host() const { return to_host(parameters()); }
  Vector<S> gradients_host() const { return to_host(gradients()); }
  void set_parameters(const Vector<S>& host) {
    if (host.size() != parameter_count)
      throw ShapeError("vae::set_parameters: got " + std::to_string(host.size()) + " values, the model has " +
                       std::to_string(parameter_count) + " parameters");
    Ops::upload(ctx_, host.data(), parameters());
  }

  const Objective<S>& objective() const { return objective_; }
  void set_objective(const Objective<S>& objective) {
    check_objective(objective);
    objective_ = objective;
  }

  const Enc& encoder() const { return enc_; }
  const Dec& decoder() const { return dec_; }
  const Context& context() const { return ctx_; }

  /// x_hat = sigmoid(decoder(z)) for z (Latent x B); returns In x B in [0, 1].
  Matrix<S> decode(const MatrixRef<S>& z) const {
    check_batch(z, latent_size, "vae::decode", "latent batch");
    typename Dec::Workspace ws;
    ws.reserve(z.cols());
    Buffer<Backend, S> staged;
    staged.reserve(z.size());
    const View<S> logits = dec_.forward(ctx_, Ops::stage(ctx_, view_of(z), staged), ws);
    Ops::sigmoid(ctx_, logits, logits);
    return to_host(logits);
  }

 protected:
  template <class Opt>
  static void check_optimizer() {
    static_assert(is_optimizer<Opt, S>::value,
                  "vae: train_step's optimizer must provide step(vae::View<S> params, vae::ConstView<S> grads), "
                  "like vae::Adam<S, Backend>");
  }

  Matrix<S> to_host(ConstView<S> v) const {
    Matrix<S> out(v.rows, v.cols);
    Ops::download(ctx_, v, out.data());
    return out;
  }

  void check_input(const MatrixRef<S>& x, const char* where) const {
    check_batch(x, input_size, where, "input batch", objective_.reconstruction == Reconstruction::BinaryCrossEntropy);
  }

  Context ctx_;
  Objective<S> objective_;
  Buffer<Backend, S> params_, grads_;
  Enc enc_;
  Dec dec_;

 private:
  void bind() {
    enc_.bind(params_.data(), grads_.data());
    dec_.bind(params_.data() + Enc::parameter_count, grads_.data() + Enc::parameter_count);
  }
};

}  // namespace vae::detail
