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

/// The encoder's Gaussian for a batch: each Latent x B.
template <class S>
struct LatentDistribution {
  /// mu (Latent x B).
  Matrix<S> mean;
  /// sigma = exp(log sigma), log sigma clamped to [-20, 20] (Latent x B).
  Matrix<S> sigma;
};

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

  /// Mean and sigma of q(z | x).
  LatentDistribution<S> encode_distribution(const MatrixRef<S>& x) const {
    const CallScope<typename Base::Backend> call;
    detail::check_batch(x, input_size, "vae::VariationalAutoencoder", "::encode_distribution", "input batch");
    Workspace ws;
    ws.reserve(x.cols());
    const View<S> heads = this->encoder_output(x, ws);
    const View<S> sigma = make_view(ws.latent.z.data(), latent_size, x.cols());
    GaussianLatent::sigma<typename Base::Backend>(this->ctx_, ConstView<S>(heads), sigma);
    return {this->to_host(GaussianLatent::point(ConstView<S>(heads))), this->to_host(sigma)};
  }

  /// One sample z = mu + sigma * eps of q(z | x), eps drawn from rng.
  Matrix<S> encode_sample(const MatrixRef<S>& x, Rng& rng) const {
    const CallScope<typename Base::Backend> call;
    detail::check_batch(x, input_size, "vae::VariationalAutoencoder", "::encode_sample", "input batch");
    Workspace ws;
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
    const CallScope<typename Base::Backend> call;
    this->check_input(x, "::log_likelihood");
    if (k < 1 || max_columns < 1)
      throw ValueError("vae::VariationalAutoencoder::log_likelihood: k is " + std::to_string(k) + " and max_columns " +
                       std::to_string(max_columns) + ", expected both >= 1");
    const Index n = x.cols();
    const Index per = std::max<Index>(1, std::min(n, max_columns / k));    // inputs per chunk
    const Index draws = std::min(k, std::max<Index>(1, max_columns / per));  // samples per pass
    Workspace ws;
    ws.reserve(per, draws);
    const double offset = log_likelihood_offset(this->objective_.reconstruction, input_size);
    std::vector<S> rec(static_cast<std::size_t>(per * draws)), lat(rec.size());
    std::vector<double> top(static_cast<std::size_t>(per)), total(top.size());
    Vector<double> out(n);
    for (Index first = 0; first < n; first += per) {
      const Index b = std::min(per, n - first);
      const MatrixRef<S> part = x.middleCols(first, b);
      const ConstView<S> xb = Ops::stage(this->ctx_, view_of(part), ws.input);
      const View<S> heads = this->enc_.forward(this->ctx_, xb, ws.enc);
      std::fill(top.begin(), top.end(), -std::numeric_limits<double>::infinity());
      std::fill(total.begin(), total.end(), 0.0);
      for (Index s0 = 0; s0 < k; s0 += draws) {
        const Index d = std::min(draws, k - s0);
        this->importance_terms(ConstView<S>(heads), xb, d, rng, ws);
        Ops::download(this->ctx_, make_view<S>(ws.column_loss.data(), 1, d * b), rec.data());
        Ops::download(this->ctx_, make_view<S>(ws.latent.column_kl.data(), 1, d * b), lat.data());
        accumulate_log_sum_exp(rec.data(), lat.data(), b, d, offset, top.data(), total.data());
      }
      for (Index j = 0; j < b; ++j)
        out[first + j] = top[std::size_t(j)] + std::log(total[std::size_t(j)]) - std::log(static_cast<double>(k));
    }
    return out;
  }

  /// n images decoded from z ~ N(0, I): In x n in [0, 1].
  Matrix<S> sample(Index n, Rng& rng) const {
    if (n <= 0) throw ShapeError("vae::VariationalAutoencoder::sample: asked for " + std::to_string(n) + " samples, expected >= 1");
    Matrix<S> z(latent_size, n);
    rng.fill_normal(z.data(), z.size());
    return this->decode(z);
  }

 private:
  /// Adds the d samples of each of b inputs (columns c = s b + j of rec and
  /// lat, the reconstruction loss and log p(z) - log q(z|x)) to running
  /// log-sum-exps: sum_s exp(log w_s) = total[j] exp(top[j]).
  static void accumulate_log_sum_exp(const S* rec, const S* lat, Index b, Index d, double offset, double* top,
                                     double* total) {
    for (Index j = 0; j < b; ++j) {
      const auto log_weight = [&](Index s) { return offset + double(lat[s * b + j]) - double(rec[s * b + j]); };
      double m = top[j];
      for (Index s = 0; s < d; ++s) m = std::max(m, log_weight(s));
      double sum = total[j] * std::exp(top[j] - m);  // 0 on the first pass (exp(-inf))
      for (Index s = 0; s < d; ++s) sum += std::exp(log_weight(s) - m);
      top[j] = m;
      total[j] = sum;
    }
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
