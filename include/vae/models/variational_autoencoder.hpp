#pragma once
// A variational autoencoder: x -> encoder -> (mu, log sigma) -> z = mu +
// sigma * eps, eps ~ N(0, I) -> decoder -> x_hat, trained on
// reconstruction + beta * KL (summed over the batch, as in the blog).

#include <cstdint>

#include "vae/models/decoder.hpp"
#include "vae/models/model_base.hpp"
#include "vae/models/variational_encoder.hpp"

namespace vae {

/// The encoder's Gaussian for a batch: each Latent x B.
template <class S>
struct LatentDistribution {
  Matrix<S> mean;
  Matrix<S> sigma;
};

/// A VAE built from a variational encoder and a decoder type. Mismatched
/// parts (latent or feature sizes, scalar, backend) fail to compile.
template <class Enc, class Dec>
class VariationalAutoencoderOf : public detail::ModelBase<Enc, Dec> {
  static_assert(Enc::is_variational,
                "vae::VariationalAutoencoderOf<Encoder, Decoder>: the encoder must be a vae::VariationalEncoder "
                "(mean and log-sigma heads); use vae::AutoencoderOf for a plain encoder");
  using Base = detail::ModelBase<Enc, Dec>;
  using typename Base::Ops;
  using typename Base::S;

 public:
  using typename Base::Context;
  using Base::input_size;
  using Base::latent_size;

  /// Weights drawn like PyTorch's nn.Linear default from `seed`. The
  /// objective's KL form and beta apply to every loss this model computes.
  explicit VariationalAutoencoderOf(std::uint64_t seed = 0, Objective<S> objective = {}, Context ctx = {})
      : Base(seed, objective, std::move(ctx)) {}

  /// The mean of q(z | x) for x (In x B): Latent x B. The usual embedding.
  Matrix<S> encode(const MatrixRef<S>& x) const { return encode_distribution(x).mean; }

  /// Mean and sigma of q(z | x).
  LatentDistribution<S> encode_distribution(const MatrixRef<S>& x) const {
    detail::check_batch(x, input_size, "vae::VariationalAutoencoder::encode", "input batch");
    Workspace ws;
    ws.reserve(x.cols());
    const View<S> heads = this->enc_.forward(this->ctx_, Ops::stage(this->ctx_, view_of(x), ws.input), ws.enc);
    const View<S> sigma = make_view(ws.z.data(), latent_size, x.cols());
    Ops::exp_clamped(this->ctx_, heads.row_block(latent_size, latent_size), sigma);
    return {this->to_host(heads.row_block(0, latent_size)), this->to_host(sigma)};
  }

  /// One sample z = mu + sigma * eps of q(z | x), eps drawn from rng.
  Matrix<S> encode_sample(const MatrixRef<S>& x, Rng& rng) const {
    detail::check_batch(x, input_size, "vae::VariationalAutoencoder::encode_sample", "input batch");
    Workspace ws;
    ws.reserve(x.cols());
    return this->to_host(sample_latent(Ops::stage(this->ctx_, view_of(x), ws.input), ws, rng).z);
  }

  /// decoder(mean of q(z | x)): In x B in [0, 1].
  Matrix<S> reconstruct(const MatrixRef<S>& x) const { return this->decode(encode(x)); }

  /// n images decoded from z ~ N(0, I): In x n in [0, 1].
  Matrix<S> sample(Index n, Rng& rng) const {
    if (n <= 0) throw ShapeError("vae::VariationalAutoencoder::sample: asked for " + std::to_string(n) + " samples, expected >= 1");
    Matrix<S> z(latent_size, n);
    rng.fill_normal(z.data(), z.size());
    return this->decode(z);
  }

  /// Loss per sample on x with one noise draw per sample from rng, without
  /// touching the gradients.
  LossParts<S> evaluate(const MatrixRef<S>& x, Rng& rng) const {
    this->check_input(x, "vae::VariationalAutoencoder::evaluate");
    Workspace ws;
    ws.reserve(x.cols());
    return loss(Ops::stage(this->ctx_, view_of(x), ws.input), ws, rng);
  }

  /// Forward and backward on x: fills gradients() with d(batch sum)/d params
  /// and returns the loss per sample. No allocation once the largest batch
  /// has been seen.
  LossParts<S> compute_gradients(const MatrixRef<S>& x, Rng& rng) {
    this->check_input(x, "vae::VariationalAutoencoder::compute_gradients");
    Workspace& ws = train_ws_;
    ws.reserve(x.cols());
    const Index batch = x.cols();
    const ConstView<S> input = Ops::stage(this->ctx_, view_of(x), ws.input);
    const LossParts<S> parts = loss(input, ws, rng);
    const View<S> dz = make_view(ws.latent_grad.data(), latent_size, batch);
    const View<S> dheads = make_view(ws.heads_grad.data(), 2 * latent_size, batch);
    this->dec_.backward(this->ctx_, make_view(ws.z.data(), latent_size, batch), ws.dec, ws.dec.out_view(batch), dz);
    Ops::gaussian_backward(this->ctx_, this->objective_.kl, this->objective_.beta, ws.enc.out_view(batch),
                           make_view(ws.eps.data(), latent_size, batch), dz, dheads);
    this->enc_.backward(this->ctx_, input, ws.enc, dheads, View<S>{});
    return parts;
  }

  /// compute_gradients, then one optimizer step over all parameters.
  template <class Opt>
  LossParts<S> train_step(const MatrixRef<S>& x, Opt& optimizer, Rng& rng) {
    Base::template check_optimizer<Opt>();
    const LossParts<S> parts = compute_gradients(x, rng);
    optimizer.step(this->parameters(), this->gradients());
    return parts;
  }

 private:
  struct Workspace {
    typename Enc::Workspace enc;
    typename Dec::Workspace dec;
    Buffer<typename Base::Backend, S> input, eps, z, latent_grad, heads_grad, column_loss;
    void reserve(Index batch) {
      enc.reserve(batch);
      dec.reserve(batch);
      for (auto* b : {&eps, &z, &latent_grad}) b->reserve(latent_size * batch);
      heads_grad.reserve(2 * latent_size * batch);
      column_loss.reserve(batch);
    }
  };

  struct Sampled {
    View<S> z;
    S kl_sum;
  };

  /// Encoder, noise and reparameterised sample, in ws.
  Sampled sample_latent(ConstView<S> x, Workspace& ws, Rng& rng) const {
    const Index batch = x.cols;
    const View<S> heads = this->enc_.forward(this->ctx_, x, ws.enc);
    const View<S> eps = make_view(ws.eps.data(), latent_size, batch);
    const View<S> z = make_view(ws.z.data(), latent_size, batch);
    Ops::fill_normal(this->ctx_, rng, eps);
    const S kl = Ops::gaussian_sample(this->ctx_, this->objective_.kl, heads, eps, z);
    return {z, kl};
  }

  /// Forward plus loss; leaves d loss / d logits in place of the logits.
  LossParts<S> loss(ConstView<S> x, Workspace& ws, Rng& rng) const {
    const Sampled s = sample_latent(x, ws, rng);
    const View<S> logits = this->dec_.forward(this->ctx_, s.z, ws.dec);
    const S rec = Ops::reconstruction(this->ctx_, this->objective_.reconstruction, logits, x,
                                      make_view(ws.column_loss.data(), 1, x.cols));
    const S n = static_cast<S>(x.cols);
    return {rec / n, s.kl_sum / n, (rec + this->objective_.beta * s.kl_sum) / n};
  }

  Workspace train_ws_;
};

/// The blog's VAE: In -> Hidden -> (mu, log sigma) in Latent -> Hidden -> In.
template <Index In, Index Hidden, Index Latent, class S = float, class B = Cpu>
using VariationalAutoencoder =
    VariationalAutoencoderOf<VariationalEncoder<In, Hidden, Latent, S, B>, Decoder<Latent, Hidden, In, S, B>>;

}  // namespace vae
