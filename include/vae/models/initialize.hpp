#pragma once
// Other starting points than the models' own (PyTorch's nn.Linear default),
// for vae's own networks (EncoderOf, VariationalEncoderOf, DecoderOf):
//
//   initialize_glorot(model, seed)         Glorot & Bengio (2010): every W
//                                          uniform in +-sqrt(6 / (in + out)),
//                                          every b zero;
//   initialize_output_bias(model, mean)    the decoder's last bias at
//                                          logit(mean), so that the sigmoid
//                                          output starts at the data's mean.
//
// Together they are the start of Burda, Grosse and Salakhutdinov's code for
// "Importance Weighted Autoencoders" (docs/likelihood.md). A VAE encoder's
// mu and log sigma heads count as two layers in -> latent, as in that code
// and in the weights files (docs/weights.md).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"
#include "vae/core/types.hpp"
#include "vae/losses/reconstruction.hpp"
#include "vae/models/dynamic_mlp.hpp"

namespace vae {

namespace detail {

/// Glorot-uniform W and zero b for the network Net whose parameters start at
/// host; `heads`: its last layer is mu stacked over log sigma.
template <class Net, class S>
void glorot_network(const Net& net, Rng& rng, S* host, bool heads) {
  const std::vector<Index> sizes = dense_sizes(net);
  const std::size_t layers = sizes.size() - 1;
  for (std::size_t l = 0; l < layers; ++l) {
    const Index in = sizes[l], out = sizes[l + 1];
    const Index fan_out = heads && l + 1 == layers ? out / 2 : out;
    const double bound = std::sqrt(6.0 / static_cast<double>(in + fan_out));
    S* w = host + net.parameter_offset(l);
    for (Index i = 0; i < out * in; ++i) w[i] = rng.uniform<S>(S(-bound), S(bound));
    std::fill(w + out * in, w + out * in + out, S(0));
  }
}

template <class Model>
constexpr void require_mlp_networks() {
  static_assert(is_dense_network_v<typename Model::EncoderType> && is_dense_network_v<typename Model::DecoderType>,
                "vae::initialize_glorot / initialize_output_bias: the encoder and the decoder must be vae's own "
                "networks (EncoderOf, VariationalEncoderOf, DecoderOf, or the Dynamic ones); initialise a network "
                "of one's own with "
                "set_parameters");
}

}  // namespace detail

/// Replaces every parameter of `model`: each W (out x in) uniform in
/// +-sqrt(6 / (in + out)) drawn from Rng(seed), each b zero. The encoder of a
/// VAE counts its mu and log sigma heads as layers of `latent` outputs each.
template <class Model>
void initialize_glorot(Model& model, std::uint64_t seed) {
  detail::require_mlp_networks<Model>();
  Vector<typename Model::Scalar> host(model.num_parameters());
  Rng rng(seed);
  detail::glorot_network(model.encoder(), rng, host.data(), Model::is_variational);
  detail::glorot_network(model.decoder(), rng, host.data() + detail::net_parameters(model.encoder()), false);
  model.set_parameters(host);
}

/// Sets the bias of the decoder's last layer so that, before training moves
/// the weights, the decoded mean is near `mean` per output (for images, the
/// training set's mean pixel values), leaving every other parameter as it
/// is: logit(mean) for the sigmoid losses (mean clipped to [0.001, 0.999]),
/// the continuous Bernoulli's logit whose mean it is (same clip), the mean
/// itself for the gaussian losses (and, for the heteroscedastic Gaussian,
/// the scale's bias at sigma = 1). Throws ShapeError unless mean has the
/// model's output_size entries, ValueError for a NaN entry or, with a loss
/// whose mean lies in [0, 1] (all but the gaussian), an entry outside it.
template <class Model>
void initialize_output_bias(Model& model, const Vector<double>& mean) {
  detail::require_mlp_networks<Model>();
  using S = typename Model::Scalar;
  const Reconstruction loss = model.objective().reconstruction;
  const std::vector<Index> sizes = detail::dense_sizes(model.decoder());
  const std::size_t last = sizes.size() - 2;
  const Index rows = sizes[last + 1], outputs = rows / outputs_per_feature(loss);
  if (mean.size() != outputs)
    throw ShapeError("vae::initialize_output_bias: got a mean of " + std::to_string(mean.size()) +
                     " values, the decoder has " + std::to_string(outputs) + " outputs");
  // Every loss but the gaussian ones has its mean in (0, 1).
  const bool unit = loss != Reconstruction::Gaussian && loss != Reconstruction::HeteroscedasticGaussian &&
                    loss != Reconstruction::LearnedGaussian;
  for (Index i = 0; i < outputs; ++i)
    if (!(unit ? mean[i] >= 0.0 && mean[i] <= 1.0 : std::isfinite(mean[i])))
      throw ValueError("vae::initialize_output_bias: mean[" + std::to_string(i) + "] = " + std::to_string(mean[i]) +
                       (unit ? "; expected a value in [0, 1] (the " + std::string(name_of(loss)) + " loss)"
                             : std::string("; expected a finite value")));
  Vector<S> host = model.parameters_host();
  S* bias = host.data() + detail::net_parameters(model.encoder()) + model.decoder().parameter_offset(last) +
            rows * sizes[last];
  // A decoded scale (the heteroscedastic and learned Gaussians) starts at sigma = 1.
  for (Index i = outputs; i < rows; ++i) bias[i] = static_cast<S>(HeteroscedasticGaussianLoss::unit_scale());
  for (Index i = 0; i < outputs; ++i) {
    const double m = unit ? std::clamp(mean[i], 0.001, 0.999) : mean[i];
    double t = m;  // the gaussian loss's mean is its output
    if (loss == Reconstruction::ContinuousBernoulli) {
      t = ContinuousBernoulliLoss::logit_of_mean(m);
    } else if (unit) {
      t = std::log(m / (1.0 - m));
    }
    bias[i] = static_cast<S>(t);
  }
  model.set_parameters(host);
}

}  // namespace vae
