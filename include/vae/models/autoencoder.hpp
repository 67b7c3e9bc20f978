#pragma once
// A deterministic autoencoder: x -> encoder -> z -> decoder -> x_hat, trained
// on the reconstruction loss alone (summed over the batch, as in the blog).

#include <cstdint>

#include "vae/models/decoder.hpp"
#include "vae/models/encoder.hpp"
#include "vae/models/model_base.hpp"

namespace vae {

/// An autoencoder built from an encoder and a decoder type. Mismatched parts
/// (latent or feature sizes, scalar, backend) fail to compile.
template <class Enc, class Dec>
class AutoencoderOf : public detail::ModelBase<Enc, Dec> {
  static_assert(!Enc::is_variational,
                "vae::AutoencoderOf<Encoder, Decoder>: the encoder is a VariationalEncoder; "
                "use vae::VariationalAutoencoderOf for it");
  using Base = detail::ModelBase<Enc, Dec>;
  using typename Base::Ops;
  using typename Base::S;

 public:
  using typename Base::Context;
  using Base::input_size;
  using Base::latent_size;

  /// Weights drawn like PyTorch's nn.Linear default from `seed`.
  explicit AutoencoderOf(std::uint64_t seed = 0, Objective<S> objective = {}, Context ctx = {})
      : Base(seed, objective, std::move(ctx)) {}

  /// z = encoder(x) for x (In x B); returns Latent x B.
  Matrix<S> encode(const MatrixRef<S>& x) const {
    detail::check_batch(x, input_size, "vae::Autoencoder::encode", "input batch");
    Workspace ws;
    ws.reserve(x.cols());
    return this->to_host(this->enc_.forward(this->ctx_, Ops::stage(this->ctx_, view_of(x), ws.input), ws.enc));
  }

  /// x_hat = decoder(encoder(x)), In x B in [0, 1].
  Matrix<S> reconstruct(const MatrixRef<S>& x) const {
    detail::check_batch(x, input_size, "vae::Autoencoder::reconstruct", "input batch");
    Workspace ws;
    ws.reserve(x.cols());
    const View<S> logits = forward(Ops::stage(this->ctx_, view_of(x), ws.input), ws);
    Ops::sigmoid(this->ctx_, logits, logits);
    return this->to_host(logits);
  }

  /// Loss per sample on x, without touching the gradients.
  LossParts<S> evaluate(const MatrixRef<S>& x) const {
    this->check_input(x, "vae::Autoencoder::evaluate");
    Workspace ws;
    ws.reserve(x.cols());
    return loss(Ops::stage(this->ctx_, view_of(x), ws.input), ws);
  }
  /// Same; the generator is unused (an autoencoder draws no noise). Lets
  /// generic code treat both kinds of model alike.
  LossParts<S> evaluate(const MatrixRef<S>& x, Rng&) const { return evaluate(x); }

  /// Forward and backward on x: fills gradients() with d(batch sum)/d params
  /// and returns the loss per sample. No allocation once the largest batch
  /// has been seen.
  LossParts<S> compute_gradients(const MatrixRef<S>& x) {
    this->check_input(x, "vae::Autoencoder::compute_gradients");
    train_ws_.reserve(x.cols());
    const ConstView<S> input = Ops::stage(this->ctx_, view_of(x), train_ws_.input);
    const LossParts<S> parts = loss(input, train_ws_);
    const Index batch = x.cols();
    const View<S> dz = make_view(train_ws_.latent_grad.data(), latent_size, batch);
    this->dec_.backward(this->ctx_, train_ws_.enc.out_view(batch), train_ws_.dec, train_ws_.dec.out_view(batch), dz);
    this->enc_.backward(this->ctx_, input, train_ws_.enc, dz, View<S>{});
    return parts;
  }
  LossParts<S> compute_gradients(const MatrixRef<S>& x, Rng&) { return compute_gradients(x); }

  /// compute_gradients, then one optimizer step over all parameters.
  template <class Opt>
  LossParts<S> train_step(const MatrixRef<S>& x, Opt& optimizer) {
    Base::template check_optimizer<Opt>();
    const LossParts<S> parts = compute_gradients(x);
    optimizer.step(this->parameters(), this->gradients());
    return parts;
  }
  template <class Opt>
  LossParts<S> train_step(const MatrixRef<S>& x, Opt& optimizer, Rng&) {
    return train_step(x, optimizer);
  }

 private:
  struct Workspace {
    typename Enc::Workspace enc;
    typename Dec::Workspace dec;
    Buffer<typename Base::Backend, S> input, latent_grad, column_loss;
    void reserve(Index batch) {
      enc.reserve(batch);
      dec.reserve(batch);
      latent_grad.reserve(latent_size * batch);
      column_loss.reserve(batch);
    }
  };

  /// Encoder then decoder: returns the logits (In x B) in ws.dec.
  View<S> forward(ConstView<S> x, Workspace& ws) const {
    const View<S> z = this->enc_.forward(this->ctx_, x, ws.enc);
    return this->dec_.forward(this->ctx_, z, ws.dec);
  }

  /// Forward plus loss; leaves d loss / d logits in place of the logits.
  LossParts<S> loss(ConstView<S> x, Workspace& ws) const {
    const View<S> logits = forward(x, ws);
    const S sum = Ops::reconstruction(this->ctx_, this->objective_.reconstruction, logits, x,
                                      make_view(ws.column_loss.data(), 1, x.cols));
    const S per_sample = sum / static_cast<S>(x.cols);
    return {per_sample, S(0), per_sample};
  }

  Workspace train_ws_;
};

/// The blog's autoencoder: In -> Hidden -> Latent -> Hidden -> In.
template <Index In, Index Hidden, Index Latent, class S = float, class B = Cpu>
using Autoencoder = AutoencoderOf<Encoder<In, Hidden, Latent, S, B>, Decoder<Latent, Hidden, In, S, B>>;

}  // namespace vae
