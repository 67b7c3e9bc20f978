#pragma once
// A variational autoencoder: the autoencoder's skeleton with the Gaussian
// latent stage (layers/latent.hpp): x -> encoder -> (mu, log sigma) ->
// z = mu + sigma eps -> decoder -> x_hat, trained on reconstruction +
// beta * KL (summed over the batch).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "vae/layers/latent.hpp"
#include "vae/models/decoder.hpp"
#include "vae/models/model.hpp"
#include "vae/models/variational_encoder.hpp"

namespace vae {

/// A VAE built from a variational encoder and a decoder type. Mismatched
/// parts (latent or feature sizes, scalar, backend) fail to compile.
template <class Enc, class Dec>
class VariationalAutoencoderOf : public detail::Model<Enc, Dec, GaussianLatent> {
  static_assert(!detail::is_encoder<Enc>::value || Enc::is_variational,
                "vae::VariationalAutoencoderOf<Encoder, Decoder>: the encoder must be a vae::VariationalEncoder "
                "(mean and log-sigma heads); use vae::AutoencoderOf for a plain encoder");
  using Base = detail::Model<Enc, Dec, GaussianLatent>;
  using typename Base::Ops;
  using typename Base::S;
  using typename Base::Workspace;

 public:
  using typename Base::Context;
  using Base::input_size;
  using Base::latent_size;

  /// Weights drawn like PyTorch's nn.Linear default from `seed`. The
  /// objective's KL form and beta apply to every loss this model computes.
  explicit VariationalAutoencoderOf(std::uint64_t seed = 0, Objective<S> objective = {}, Context ctx = {})
      : Base(seed, objective, std::move(ctx)) {}
  /// The same with the networks given (a run-time network carries its
  /// sizes, models/dynamic.hpp); throws ShapeError when their sizes do not
  /// fit together.
  VariationalAutoencoderOf(Enc encoder, Dec decoder, std::uint64_t seed = 0, Objective<S> objective = {},
                           Context ctx = {})
      : Base(std::move(encoder), std::move(decoder), seed, objective, std::move(ctx)) {}

  /// Mean and sigma of q(z | x).
  LatentDistribution<S> encode_distribution(const MatrixRef<S>& x) const {
    return this->gaussian_distribution(x, "::encode_distribution");
  }

  /// One sample z = mu + sigma * eps of q(z | x), eps drawn from rng.
  Matrix<S> encode_sample(const MatrixRef<S>& x, Rng& rng) const {
    const CallScope<typename Base::Backend> call;
    detail::check_batch(x, this->num_inputs(), "vae::VariationalAutoencoder", "::encode_sample", "input batch");
    Workspace ws(*this);
    ws.reserve(x.cols());
    const View<S> heads = this->encoder_output(x, ws);
    return this->to_host(
        GaussianLatent::forward<typename Base::Backend>(this->ctx_, this->objective_.kl, heads, rng, ws.latent).z);
  }

  /// log p(x) of each sample of x (In x B) estimated with k importance
  /// samples z_s ~ q(z|x):
  ///   log p(x) ~ log (1/k) sum_s exp(log p(x|z_s) + log p(z_s) - log q(z_s|x)),
  /// with the prior N(0, I) and q's true density whatever the objective's KL
  /// form, log-mean-exp taken stably in double (the largest term factored
  /// out). log p(x|z) is the Bernoulli log-likelihood -BCE for binary
  /// cross-entropy and N(x; x_hat, I/2) for the squared error (the Gaussian
  /// whose negative log density is the squared error plus (D/2) log(pi);
  /// log_likelihood_offset). Runs in chunks of at most `max_columns` decoded
  /// samples (inputs x draws), so k = 5000 on 10,000 images needs the
  /// memory of one chunk; the noise drawn depends on max_columns. Its mean
  /// over draws is a lower bound that rises to log p(x) as k grows; k = 1
  /// is the ELBO with the exact KL, in expectation.
  Vector<double> log_likelihood(const MatrixRef<S>& x, Index k, Rng& rng, Index max_columns = 16384) const {
    return this->estimate_log_likelihood(x, k, rng, max_columns);
  }

  /// n images decoded from z ~ N(0, I): In x n in [0, 1].
  Matrix<S> sample(Index n, Rng& rng) const {
    if (n <= 0) throw ShapeError("vae::VariationalAutoencoder::sample: asked for " + std::to_string(n) + " samples, expected >= 1");
    Matrix<S> z(this->num_latent(), n);
    rng.fill_normal(z.data(), z.size());
    return this->decode(z);
  }
};

/// One hidden layer each way, ReLU: In -> Hidden -> (mu, log sigma) in Latent -> Hidden -> In.
template <Index In, Index Hidden, Index Latent, class S = float, class B = Cpu>
using VariationalAutoencoder =
    VariationalAutoencoderOf<VariationalEncoder<In, Hidden, Latent, S, B>, Decoder<Latent, Hidden, In, S, B>>;

/// A VAE of any depth whose decoder mirrors its encoder:
/// MlpVae<Layers<784, 200, 200, 50>, Tanh> is 784-200-200-(50, 50)-200-200-784.
template <class L, class Act = Relu, class S = float, class B = Cpu>
using MlpVae = VariationalAutoencoderOf<VariationalEncoderOf<L, Act, S, B>, DecoderOf<ReversedLayers<L>, Act, S, B>>;

}  // namespace vae
