#pragma once
// A conditional VAE (Sohn et al. 2015, in its common fully connected form):
// the VAE with a one-hot class label concatenated to the encoder's input and
// to the decoder's latent input, prior N(0, I). "Draw me a 7" is
// sample(n, 7, rng).
//
// Its batches carry the label inside: an input batch is the features stacked
// on the one-hot label (Features + Classes rows, label rows last), so
// training, evaluation, checkpoints and every batch source work as for the
// other models; with_labels() builds such a batch and LabeledBatcher streams
// them from a labelled data set. The methods taking labels separately
// (encode, decode, reconstruct, sample, log_likelihood) build the stack
// themselves. It trains on the ELBO or on the importance-weighted bound, and
// log_likelihood estimates log p(x | label) as the VAE's estimates log p(x).

#include <cstdint>
#include <string>
#include <vector>

#include "vae/layers/latent.hpp"
#include "vae/layers/layer_sizes.hpp"
#include "vae/models/decoder.hpp"
#include "vae/models/model.hpp"
#include "vae/models/variational_encoder.hpp"

namespace vae {

/// The one-hot matrix of `labels`: classes x labels.size(), column j has a 1
/// in row labels[j]. Throws ValueError naming the first label outside
/// [0, classes).
template <class S = float, class Label>
Matrix<S> one_hot(const std::vector<Label>& labels, Index classes) {
  if (classes < 1) throw ValueError("vae::one_hot: " + std::to_string(classes) + " classes, expected >= 1");
  Matrix<S> y = Matrix<S>::Zero(classes, static_cast<Index>(labels.size()));
  for (std::size_t j = 0; j < labels.size(); ++j) {
    const auto label = static_cast<long long>(labels[j]);
    if (label < 0 || label >= classes)
      throw ValueError("vae::one_hot: label " + std::to_string(label) + " at index " + std::to_string(j) +
                       " is outside [0, " + std::to_string(classes) + ")");
    y(static_cast<Index>(label), static_cast<Index>(j)) = S(1);
  }
  return y;
}

/// x (F x B) stacked on the one-hot rows of `labels` (B of them): the
/// (F + classes) x B batch a conditional model takes. Throws ShapeError when
/// the counts differ and ValueError for a label outside [0, classes).
template <class S, class Label>
Matrix<S> with_labels(const MatrixRef<S>& x, const std::vector<Label>& labels, Index classes) {
  if (static_cast<Index>(labels.size()) != x.cols())
    throw ShapeError("vae::with_labels: " + std::to_string(x.cols()) + " samples but " + std::to_string(labels.size()) +
                     " labels, expected one label per sample (column)");
  Matrix<S> out(x.rows() + classes, x.cols());
  out.bottomRows(classes) = one_hot<S>(labels, classes);
  out.topRows(x.rows()) = x;
  return out;
}

/// A conditional VAE built from a variational encoder taking Features +
/// Classes inputs and a decoder taking Latent + Classes. Mismatched parts fail
/// to compile. Trains on the ELBO (any reconstruction loss and KL form).
template <class Enc, class Dec, Index Classes>
class ConditionalVariationalAutoencoderOf : public detail::Model<Enc, Dec, GaussianLatent, Classes> {
  static_assert(Classes >= 1, "vae::ConditionalVariationalAutoencoderOf: Classes must be >= 1");
  static_assert(!detail::is_encoder<Enc>::value || Enc::is_variational,
                "vae::ConditionalVariationalAutoencoderOf<Encoder, Decoder, Classes>: the encoder must be a "
                "vae::VariationalEncoderOf (mean and log-sigma heads)");
  using Base = detail::Model<Enc, Dec, GaussianLatent, Classes>;
  using typename Base::S;

 public:
  using typename Base::Context;
  using Base::decode;
  using Base::encode;
  using Base::feature_size;
  using Base::latent_size;
  using Base::reconstruct;

  /// Weights drawn like PyTorch's nn.Linear default from `seed`; throws
  /// ValueError for an invalid objective. Both bounds train it: the ELBO and
  /// the importance-weighted bound (each draw of z decoded with its input's label).
  explicit ConditionalVariationalAutoencoderOf(std::uint64_t seed = 0, Objective<S> objective = {}, Context ctx = {})
      : Base(seed, objective, std::move(ctx)) {}
  /// The same with the networks given (shaped at run time: the encoder takes
  /// features + Classes rows, the decoder latent + Classes); throws
  /// ShapeError when their sizes do not fit together.
  ConditionalVariationalAutoencoderOf(Enc encoder, Dec decoder, std::uint64_t seed = 0, Objective<S> objective = {},
                                      Context ctx = {})
      : Base(std::move(encoder), std::move(decoder), seed, objective, std::move(ctx)) {}

  /// The mean of q(z | x, label) for features x (Features x B) and B labels.
  template <class Label>
  Matrix<S> encode(const MatrixRef<S>& x, const std::vector<Label>& labels) const {
    check_features(x, "::encode");
    return encode(with_labels<S>(x, labels, Classes));
  }

  /// Mean and sigma of q(z | x, label) for a batch x of features over
  /// one-hot labels (Features + Classes rows).
  LatentDistribution<S> encode_distribution(const MatrixRef<S>& x) const {
    return this->gaussian_distribution(x, "::encode_distribution");
  }

  /// Mean and sigma of q(z | x, label) for features x (Features x B) and B labels.
  template <class Label>
  LatentDistribution<S> encode_distribution(const MatrixRef<S>& x, const std::vector<Label>& labels) const {
    check_features(x, "::encode_distribution");
    return encode_distribution(with_labels<S>(x, labels, Classes));
  }

  /// Images decoded from codes z (Latent x B) given B labels: Features x B in [0, 1].
  template <class Label>
  Matrix<S> decode(const MatrixRef<S>& z, const std::vector<Label>& labels) const {
    detail::check_batch(z, this->num_latent(), Base::name(), "::decode", "latent batch");
    return decode(with_labels<S>(z, labels, Classes));
  }

  /// decode(encode(x, labels), labels): Features x B in [0, 1].
  template <class Label>
  Matrix<S> reconstruct(const MatrixRef<S>& x, const std::vector<Label>& labels) const {
    check_features(x, "::reconstruct");
    return reconstruct(with_labels<S>(x, labels, Classes));
  }

  /// log p(features | label) of each input of x (Features + Classes rows,
  /// the one-hot label last) estimated with k importance samples of
  /// q(z | x, label), the prior N(0, I) and the decoder given the label;
  /// the estimator of VariationalAutoencoderOf::log_likelihood.
  Vector<double> log_likelihood(const MatrixRef<S>& x, Index k, Rng& rng, Index max_columns = 16384) const {
    return this->estimate_log_likelihood(x, k, rng, max_columns);
  }

  /// log p(x | label) of features x (Features x B) and B labels, with k importance samples.
  template <class Label>
  Vector<double> log_likelihood(const MatrixRef<S>& x, const std::vector<Label>& labels, Index k, Rng& rng,
                                Index max_columns = 16384) const {
    check_features(x, "::log_likelihood");
    return log_likelihood(with_labels<S>(x, labels, Classes), k, rng, max_columns);
  }

  /// One image per label, each decoded from its own z ~ N(0, I).
  template <class Label>
  Matrix<S> sample(const std::vector<Label>& labels, Rng& rng) const {
    if (labels.empty()) throw ShapeError(std::string(Base::name()) + "::sample: no labels, expected at least one");
    Matrix<S> z(this->num_latent(), static_cast<Index>(labels.size()));
    rng.fill_normal(z.data(), z.size());
    return decode(z, labels);
  }

  /// n images of class `label`, each decoded from its own z ~ N(0, I).
  Matrix<S> sample(Index n, int label, Rng& rng) const {
    if (n <= 0)
      throw ShapeError(std::string(Base::name()) + "::sample: asked for " + std::to_string(n) + " samples, expected >= 1");
    return sample(std::vector<int>(static_cast<std::size_t>(n), label), rng);
  }

 private:
  void check_features(const MatrixRef<S>& x, const char* method) const {
    detail::check_batch(x, this->num_features(), Base::name(), method, "feature batch (labels given apart)");
  }
};

/// One hidden layer each way, ReLU: (In + Classes) -> Hidden -> (mu, log sigma)
/// in Latent, (Latent + Classes) -> Hidden -> In.
template <Index In, Index Hidden, Index Latent, Index Classes, class S = float, class B = Cpu>
using ConditionalVariationalAutoencoder =
    ConditionalVariationalAutoencoderOf<VariationalEncoderOf<Layers<In + Classes, Hidden, Latent>, Relu, S, B>,
                                        DecoderOf<Layers<Latent + Classes, Hidden, In>, Relu, S, B>, Classes>;

/// A conditional VAE of any depth whose decoder mirrors its encoder:
/// MlpCvae<Layers<784, 400, 20>, 10, Tanh> is (784 + 10)-400-(20, 20) and
/// (20 + 10)-400-784.
template <class L, Index Classes, class Act = Relu, class S = float, class B = Cpu>
using MlpCvae = ConditionalVariationalAutoencoderOf<VariationalEncoderOf<FirstLayerPlus<L, Classes>, Act, S, B>,
                                                    DecoderOf<FirstLayerPlus<ReversedLayers<L>, Classes>, Act, S, B>,
                                                    Classes>;

}  // namespace vae
