#pragma once
// The one model skeleton: encoder -> latent stage -> decoder -> reconstruction
// loss, over one flat parameter buffer and one flat gradient buffer holding
// the encoder's layers then the decoder's. AutoencoderOf uses the
// deterministic stage, VariationalAutoencoderOf the Gaussian one; everything
// else (checks, encode, decode, evaluate, gradients, train step) is here once.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "vae/backend/cpu.hpp"
#include "vae/core/error.hpp"
#include "vae/core/rng.hpp"
#include "vae/layers/latent.hpp"
#include "vae/losses/importance.hpp"
#include "vae/losses/objective.hpp"
#include "vae/losses/reconstruction.hpp"
#include "vae/models/architecture.hpp"
#include "vae/models/dynamic_mlp.hpp"
#include "vae/models/requirements.hpp"

namespace vae::detail {

/// Throws ShapeError/ValueError unless `x` is a non-empty batch of `rows`
/// features per column with finite values (in [0, 1] when `unit_range_loss`,
/// the name of a loss that needs it, is given). `where` is `who` + `method`
/// ("vae::Autoencoder" "::encode"); the strings are joined only for a
/// message, so a valid batch costs no allocation.
template <class S>
void check_batch(const MatrixRef<S>& x, Index rows, const char* who, const char* method, const char* what,
                 const char* unit_range_loss = nullptr) {
  const auto where = [&] { return std::string(who) + method; };
  if (x.rows() != rows)
    throw ShapeError(where() + ": " + what + " has " + std::to_string(x.rows()) + " rows, expected " +
                     std::to_string(rows) + " (one column per sample)");
  if (x.cols() == 0) throw ShapeError(where() + ": " + what + " is empty (0 columns), expected at least 1 sample");
  if (!x.allFinite()) throw ValueError(where() + ": " + what + " contains NaN or infinite values");
  if (unit_range_loss && (x.minCoeff() < S(0) || x.maxCoeff() > S(1)))
    throw ValueError(where() + ": " + what + " has values outside [0, 1], which the " + unit_range_loss +
                     " loss requires as targets (the gaussian loss takes any values)");
}

/// The batch sum of the reconstruction loss `kind` of logits against x (both
/// In x B); overwrites the logits with dL/dlogits and writes each sample's
/// loss to column_loss (1 x B).
template <class B, class S>
S reconstruction_loss(const typename B::Context& ctx, Reconstruction kind, View<S> logits, ConstView<S> x,
                      View<S> column_loss) {
  with_reconstruction(kind, [&](auto loss) {
    Ops<B, S>::column_sums(ctx, x.rows, logits.cols, kernels::ReconstructionLoss<decltype(loss), S>{logits, x},
                           column_loss);
  });
  return Ops<B, S>::sum(ctx, column_loss);
}

/// True for a network that lists its label_planes layers (SequentialNet).
template <class N, class = void>
struct has_label_plane_layers : std::false_type {};
template <class N>
struct has_label_plane_layers<N, std::void_t<decltype(std::declval<const N&>().label_plane_layers())>> : std::true_type {};
template <class N>
inline constexpr bool has_label_plane_layers_v = has_label_plane_layers<N>::value;

/// The skeleton of every model: encoder -> latent stage -> decoder ->
/// reconstruction loss, over one flat parameter buffer and one flat gradient
/// buffer. AutoencoderOf, VariationalAutoencoderOf and
/// ConditionalVariationalAutoencoderOf derive from it, and its public methods
/// are theirs. Mismatched parts fail to compile.
///
/// With Classes > 0 the model is conditional: an input batch is the features
/// stacked on a one-hot label (Features + Classes rows, the label's rows
/// last), the encoder sees all of it, and the decoder sees z stacked on the
/// same one-hot rows and reconstructs the features alone.
template <class Enc, class Dec, class Latent, Index Classes = 0>
class Model {
  static_assert(is_encoder<Enc>::value,
                "vae: the encoder type does not meet the encoder requirements (Scalar, Backend, Workspace with "
                "reserve and out_view, input_size, latent_size, output_size, parameter_count, is_variational, initialize, bind, forward, "
                "backward; see vae/models/requirements.hpp)");
  static_assert(is_decoder<Dec>::value,
                "vae: the decoder type does not meet the decoder requirements (Scalar, Backend, Workspace with "
                "reserve and out_view, latent_size, output_size, parameter_count, initialize, bind, forward, backward; see "
                "vae/models/requirements.hpp)");
  static_assert(std::is_same_v<typename Enc::Scalar, typename Dec::Scalar>,
                "vae: the encoder and the decoder must use the same scalar type");
  static_assert(std::is_same_v<typename Enc::Backend, typename Dec::Backend>,
                "vae: the encoder and the decoder must use the same backend");
  static_assert(Classes >= 0, "vae: the number of classes of a conditional model must be >= 0");
  /// True when either network's sizes are values (Dynamic): then the sizes
  /// are checked when the model is built, else here.
  static constexpr bool sized_at_run_time = Enc::parameter_count == Dynamic || Dec::parameter_count == Dynamic;
  static_assert(sized_at_run_time || Enc::latent_size + Classes == Dec::latent_size,
                "vae: the decoder's latent size (its first layer size) must equal the encoder's latent size "
                "(plus the classes of a conditional model)");
  static_assert(sized_at_run_time || Enc::input_size == Dec::output_size + Classes,
                "vae: the decoder must output as many features as the encoder takes as input "
                "(less the classes of a conditional model)");

 public:
  /// The scalar type of the encoder and the decoder.
  using Scalar = typename Enc::Scalar;
  /// The backend tag of the encoder and the decoder.
  using Backend = typename Enc::Backend;
  /// The backend's context (a CUDA stream and cuBLAS handle; empty on the CPU).
  using Context = typename Backend::Context;
  /// The encoder.
  using EncoderType = Enc;
  /// The decoder.
  using DecoderType = Dec;
  /// DeterministicLatent or GaussianLatent.
  using LatentStage = Latent;
  /// Rows of an input batch: a sample's features (and a conditional
  /// model's one-hot label after them); Dynamic for a model shaped at run
  /// time (num_inputs() gives the value for every model).
  static constexpr Index input_size = sized_at_run_time ? Dynamic : Enc::input_size;
  /// Features of a sample: rows of a reconstruction (or Dynamic; num_features()).
  static constexpr Index feature_size = sized_at_run_time ? Dynamic : Dec::output_size;
  /// Classes of a conditional model's labels; 0 for an unconditional one.
  static constexpr Index classes = Classes;
  /// Size of the code z, a conditional decoder also seeing the one-hot label
  /// (or Dynamic; num_latent()).
  static constexpr Index latent_size = sized_at_run_time ? Dynamic : Enc::latent_size;
  /// Rows the decoder takes: latent_size + classes (or Dynamic; num_decoder_inputs()).
  static constexpr Index decoder_input_size = sized_at_run_time ? Dynamic : Dec::latent_size;
  /// Length of the flat parameter (and gradient) buffer (or Dynamic; num_parameters()).
  static constexpr Index parameter_count =
      sized_at_run_time ? Dynamic : Enc::parameter_count + Dec::parameter_count;
  /// True for a VAE.
  static constexpr bool is_variational = Latent::is_variational;
  /// The most decoded samples (columns) evaluate holds at once for the
  /// importance-weighted bound, whatever the batch and k.
  static constexpr Index kMaxDecodedColumns = 16384;

 protected:
  /// Short for Scalar.
  using S = Scalar;
  /// The backend's primitives.
  using Ops = vae::Ops<Backend, S>;

  /// Activations of one batch (encoder, stage, decoder) and the staged input;
  /// Workspace(model) gives one for the model's sizes.
  struct Workspace {
    /// Buffers for `model`'s networks, no memory until reserve.
    explicit Workspace(const Model& model)
        : enc(make_workspace(model.enc_)), dec(make_workspace(model.dec_)), latent_rows(model.num_latent()),
          decoder_rows(model.num_decoder_inputs()) {}
    /// The encoder's outputs.
    typename Enc::Workspace enc;
    /// The latent stage's buffers.
    typename Latent::template Workspace<S, Backend> latent;
    /// The decoder's outputs.
    typename Dec::Workspace dec;
    /// @{
    /// The staged input (In x B), dL/dz (Latent x B), each sample's loss (1 x B).
    Buffer<Backend, S> input, latent_grad, column_loss;
    /// @}
    /// @{
    /// The importance-weighted bound's normalised weights (B x k) and each input's loss (B x 1).
    Buffer<Backend, S> weights, bound;
    /// @}
    /// A conditional decoder's input, z over the one-hot label (Dec::latent_size x B).
    Buffer<Backend, S> decoder_input;
    /// @{
    /// The model's latent size and the decoder's input rows.
    Index latent_rows, decoder_rows;
    /// @}
    /// Grows every buffer to hold `batch` inputs with `samples` draws of z each
    /// (k of the importance-weighted bound: the decoder sees batch x samples columns).
    void reserve(Index batch, Index samples = 1) {
      const Index columns = batch * samples;
      enc.reserve(batch);
      latent.reserve(latent_rows, columns);
      dec.reserve(columns);
      latent_grad.reserve(decoder_rows * columns);  // the decoder's whole input (requirements.hpp)
      column_loss.reserve(columns);
      weights.reserve(columns);
      bound.reserve(batch);
      if (Classes > 0) decoder_input.reserve(decoder_rows * columns);
    }
  };

  /// Initial weights from Rng(seed), like PyTorch's nn.Linear default; throws
  /// ValueError for an invalid objective.
  Model(std::uint64_t seed, Objective<S> objective, Context ctx) : Model(Enc{}, Dec{}, seed, objective, std::move(ctx)) {}
  /// The same with the networks given (a run-time network carries its
  /// sizes); throws ShapeError when their sizes do not fit together.
  Model(Enc enc, Dec dec, std::uint64_t seed, Objective<S> objective, Context ctx)
      : ctx_(std::move(ctx)), objective_(objective), enc_(std::move(enc)), dec_(std::move(dec)),
        params_(checked_parameter_count()), grads_(num_parameters()), train_ws_(*this) {
    check_objective(objective_);
    check_decoder_outputs(objective_.reconstruction);
    Vector<S> host(num_parameters());
    Rng rng(seed);
    enc_.initialize(rng, host.data());
    dec_.initialize(rng, host.data() + net_parameters(enc_));
    Ops::upload(ctx_, host.data(), parameters());
    Ops::set_zero(ctx_, gradients());
    bind();
    zero_scale_weights(parameters());
  }
  /// A copy of the networks, parameters, gradients and objective, with its own workspace.
  Model(const Model& other)
      : ctx_(other.ctx_), objective_(other.objective_), enc_(other.enc_), dec_(other.dec_),
        params_(other.num_parameters()), grads_(other.num_parameters()), train_ws_(*this) {
    Ops::copy(ctx_, other.parameters(), parameters());
    Ops::copy(ctx_, other.gradients(), gradients());
    bind();
  }
  /// Takes the other's buffers (its layers are bound to them anew, and the
  /// other's to what it is left with).
  Model(Model&& other) noexcept
      : ctx_(std::move(other.ctx_)), objective_(other.objective_), enc_(std::move(other.enc_)),
        dec_(std::move(other.dec_)), params_(std::move(other.params_)), grads_(std::move(other.grads_)),
        train_ws_(std::move(other.train_ws_)) {
    bind();
    other.bind();
  }
  /// Copies the networks, objective, parameters and gradients; keeps this
  /// context (a moved-from model gets buffers again).
  Model& operator=(const Model& other) {
    if (this != &other) {
      enc_ = other.enc_;
      dec_ = other.dec_;
      train_ws_ = Workspace(*this);
      params_.reserve(num_parameters());
      grads_.reserve(num_parameters());
      bind();
      objective_ = other.objective_;
      Ops::copy(ctx_, other.parameters(), parameters());
      Ops::copy(ctx_, other.gradients(), gradients());
    }
    return *this;
  }
  /// Takes the other's context, objective and buffers. A moved buffer may
  /// leave this one's old storage behind in `other` (Eigen swaps), so both
  /// models' layers are bound anew, each into its own buffers.
  Model& operator=(Model&& other) noexcept {
    ctx_ = std::move(other.ctx_);
    objective_ = other.objective_;
    std::swap(enc_, other.enc_);
    std::swap(dec_, other.dec_);
    std::swap(train_ws_, other.train_ws_);
    params_ = std::move(other.params_);
    grads_ = std::move(other.grads_);
    bind();
    other.bind();
    return *this;
  }
  ~Model() = default;

 public:
  // The sizes as values, for fixed and run-time models alike.
  /// Rows of an input batch (input_size's value).
  Index num_inputs() const { return net_input_size(enc_); }
  /// Features of a sample and of a reconstruction (feature_size's value):
  /// the encoder's inputs less a conditional model's label rows. The
  /// decoder outputs as many rows, or twice as many for a loss of two
  /// outputs per feature (outputs_per_feature, HeteroscedasticGaussian).
  Index num_features() const { return net_input_size(enc_) - Classes; }
  /// Size of the code z (latent_size's value).
  Index num_latent() const { return net_latent_size(enc_); }
  /// Rows the decoder takes: the code and a conditional model's one-hot label.
  Index num_decoder_inputs() const { return net_latent_size(dec_); }
  /// Length of the flat parameter (and gradient) buffer.
  Index num_parameters() const { return net_parameters(enc_) + net_parameters(dec_); }

  /// All parameters, flat: the encoder's layers then the decoder's, each
  /// layer W (out x in, column-major) then b.
  View<S> parameters() { return make_view(params_.data(), num_parameters(), 1); }
  /// The parameters, read-only.
  ConstView<S> parameters() const { return make_view<S>(params_.data(), num_parameters(), 1); }
  /// Gradients of the last compute_gradients/train_step, same layout.
  View<S> gradients() { return make_view(grads_.data(), num_parameters(), 1); }
  /// The gradients, read-only.
  ConstView<S> gradients() const { return make_view<S>(grads_.data(), num_parameters(), 1); }

  /// Host copy of the parameters.
  Vector<S> parameters_host() const { return to_host(parameters()); }
  /// Host copy of the gradients.
  Vector<S> gradients_host() const { return to_host(gradients()); }
  /// Replaces every parameter with `host` (parameter_count values, the layout
  /// of parameters()); throws ShapeError for another length.
  void set_parameters(const Vector<S>& host) {
    if (host.size() != num_parameters())
      throw ShapeError("vae::set_parameters: got " + std::to_string(host.size()) + " values, the model has " +
                       std::to_string(num_parameters()) + " parameters");
    Ops::upload(ctx_, host.data(), parameters());
    zero_scale_weights(parameters());
  }

  /// What the losses compute.
  const Objective<S>& objective() const { return objective_; }
  /// Changes what the losses compute; throws ValueError for an invalid
  /// objective, ShapeError for a loss the decoder's width does not fit. To
  /// the learned Gaussian: the weights of the decoder's scale rows are set
  /// to 0 (each feature's scale is its bias).
  void set_objective(const Objective<S>& objective) {
    check_objective(objective);
    check_decoder_outputs(objective.reconstruction);
    objective_ = objective;
    zero_scale_weights(parameters());
  }

  /// Every layer size, the activations, the kind and the scalar (a static
  /// function of a fixed-size model; a member of one shaped at run time).
  template <bool D = sized_at_run_time, std::enable_if_t<!D, int> = 0>
  static Architecture architecture() {
    Architecture a;
    a.variational = is_variational;
    a.scalar_bytes = sizeof(S);
    a.encoder = layer_sizes_of<Enc>(Enc::output_size != Enc::latent_size);
    if (!has_layer_sizes<Enc>::value) a.encoder.front() = static_cast<std::uint64_t>(input_size);
    a.decoder = layer_sizes_of<Dec>(false);
    if (!has_layer_sizes<Dec>::value) a.decoder.front() = static_cast<std::uint64_t>(latent_size);
    a.encoder_activation = activation_of<Enc>();
    a.decoder_activation = activation_of<Dec>();
    a.classes = static_cast<std::uint64_t>(Classes);
    if constexpr (has_layer_specs<Enc>::value) a.encoder_layers = Enc{}.layer_specs();
    if constexpr (has_layer_specs<Dec>::value) a.decoder_layers = Dec{}.layer_specs();
    return a.with_layers();
  }
  /// Every layer size, the activations, the kind and the scalar.
  template <bool D = sized_at_run_time, std::enable_if_t<D, int> = 0>
  Architecture architecture() const {
    Architecture a;
    a.variational = is_variational;
    a.scalar_bytes = sizeof(S);
    a.encoder = run_time_sizes(enc_, Enc::output_size != Enc::latent_size);
    a.decoder = run_time_sizes(dec_, false);
    a.encoder_activation = run_time_activation(enc_);
    a.decoder_activation = run_time_activation(dec_);
    a.classes = static_cast<std::uint64_t>(Classes);
    if constexpr (has_layer_specs<Enc>::value) a.encoder_layers = enc_.layer_specs();
    if constexpr (has_layer_specs<Dec>::value) a.decoder_layers = dec_.layer_specs();
    return a.with_layers();
  }

  /// The encoder (bound to its part of the parameters).
  const Enc& encoder() const { return enc_; }
  /// The decoder (bound to its part of the parameters).
  const Dec& decoder() const { return dec_; }
  /// The backend context every computation runs on.
  const Context& context() const { return ctx_; }

  // The methods below for any Eigen matrix or expression: one whose row
  // count is fixed at compile time and differs from the model's fails to
  // compile (check_rows), instead of throwing ShapeError when it runs.
  /// encode for any Eigen matrix or expression (its fixed rows checked when it compiles).
  template <class Derived>
  Matrix<S> encode(const Eigen::MatrixBase<Derived>& x) const {
    check_rows<Derived, input_size>();
    return encode(MatrixRef<S>(x.derived()));
  }
  /// decode for any Eigen matrix or expression (its fixed rows checked when it compiles).
  template <class Derived>
  Matrix<S> decode(const Eigen::MatrixBase<Derived>& z) const {
    check_rows<Derived, decoder_input_size>();
    return decode(MatrixRef<S>(z.derived()));
  }
  /// reconstruct for any Eigen matrix or expression (its fixed rows checked when it compiles).
  template <class Derived>
  Matrix<S> reconstruct(const Eigen::MatrixBase<Derived>& x) const {
    check_rows<Derived, input_size>();
    return reconstruct(MatrixRef<S>(x.derived()));
  }
  /// evaluate for any Eigen matrix or expression (its fixed rows checked when it compiles).
  template <class Derived>
  LossParts<S> evaluate(const Eigen::MatrixBase<Derived>& x, Rng& rng) const {
    check_rows<Derived, input_size>();
    return evaluate(MatrixRef<S>(x.derived()), rng);
  }
  /// compute_gradients for any Eigen matrix or expression (its fixed rows checked when it compiles).
  template <class Derived>
  LossParts<S> compute_gradients(const Eigen::MatrixBase<Derived>& x, Rng& rng) {
    check_rows<Derived, input_size>();
    return compute_gradients(MatrixRef<S>(x.derived()), rng);
  }
  /// train_step for any Eigen matrix or expression (its fixed rows checked when it compiles).
  template <class Derived, class Opt>
  LossParts<S> train_step(const Eigen::MatrixBase<Derived>& x, Opt& optimizer, Rng& rng) {
    check_rows<Derived, input_size>();
    return train_step(MatrixRef<S>(x.derived()), optimizer, rng);
  }

  /// The latent code of x (input_size x B): Latent x B (a VAE's is the mean of q(z|x)).
  Matrix<S> encode(const MatrixRef<S>& x) const {
    const CallScope<Backend> call;
    check_batch(x, num_inputs(), name(), "::encode", "input batch");
    Workspace ws(*this);
    ws.reserve(x.cols());
    return to_host(Latent::point(ConstView<S>(encoder_output(x, ws))));
  }

  /// x_hat, the mean of p(x|z), for z (decoder_input_size x B: the code,
  /// and a conditional model's one-hot label after it); returns
  /// feature_size x B: sigmoid(decoder(z)) in [0, 1] for the Bernoulli and
  /// squared-error losses, the continuous Bernoulli's mean (in [0, 1]), the
  /// decoder's output itself for the gaussian loss.
  Matrix<S> decode(const MatrixRef<S>& z) const {
    const CallScope<Backend> call;
    check_batch(z, num_decoder_inputs(), name(), "::decode", "latent batch");
    typename Dec::Workspace ws = make_workspace(dec_);
    ws.reserve(z.cols());
    Buffer<Backend, S> staged;
    return to_host(decode_logits(Ops::stage(ctx_, view_of(z), staged), ws).row_block(0, num_features()));
  }

  /// decode(encode(x)): feature_size x B, the mean of p(x|z) as decode gives it.
  Matrix<S> reconstruct(const MatrixRef<S>& x) const {
    const CallScope<Backend> call;
    check_batch(x, num_inputs(), name(), "::reconstruct", "input batch");
    Workspace ws(*this);
    ws.reserve(x.cols());
    const ConstView<S> input = Ops::stage(ctx_, view_of(x), ws.input);
    const ConstView<S> code = Latent::point(ConstView<S>(enc_.forward(ctx_, input, ws.enc)));
    return to_host(decode_logits(decoder_input(code, input, ws), ws.dec).row_block(0, num_features()));
  }

  /// Loss per sample on x, without touching the gradients; a VAE draws one
  /// noise sample per input from rng (an autoencoder ignores it).
  LossParts<S> evaluate(const MatrixRef<S>& x, Rng& rng) const {
    const CallScope<Backend> call;
    check_input(x, "::evaluate");
    if constexpr (is_variational) {
      if (samples_per_input() * x.cols() > kMaxDecodedColumns) return chunked_importance_loss(x, rng);
    }
    Workspace ws(*this);
    ws.reserve(x.cols(), samples_per_input());
    return loss(Ops::stage(ctx_, view_of(x), ws.input), ws, rng);
  }

  /// Forward and backward on x: fills gradients() with d(batch sum)/d params
  /// and returns the loss per sample. No allocation once the largest batch
  /// has been seen.
  LossParts<S> compute_gradients(const MatrixRef<S>& x, Rng& rng) {
    const CallScope<Backend> call;
    check_input(x, "::compute_gradients");
    Workspace& ws = train_ws_;
    ws.reserve(x.cols(), samples_per_input());
    const Index batch = x.cols();
    const ConstView<S> input = Ops::stage(ctx_, view_of(x), ws.input);
    View<S> z;
    const LossParts<S> parts = loss(input, ws, rng, &z);
    const View<S> code = ws.enc.out_view(batch);
    if constexpr (is_variational) {
      if (objective_.bound == Bound::ImportanceWeighted) {
        enc_.backward(ctx_, input, ws.enc, importance_backward(ConstView<S>(code), z, ws), View<S>{});
        zero_scale_weights(gradients());
        return parts;
      }
    }
    const View<S> dz = make_view(ws.latent_grad.data(), num_latent(), batch);
    dec_.backward(ctx_, z, ws.dec, ws.dec.out_view(batch), dz);
    zero_scale_weights(gradients());
    const View<S> dcode =
        Latent::template backward<Backend>(ctx_, objective_.kl, objective_.beta, ConstView<S>(code), ws.latent, dz);
    enc_.backward(ctx_, input, ws.enc, dcode, View<S>{});
    return parts;
  }

  /// compute_gradients, then one optimizer step over all parameters.
  template <class Opt>
  LossParts<S> train_step(const MatrixRef<S>& x, Opt& optimizer, Rng& rng) {
    static_assert(is_optimizer<Opt, S>::value,
                  "vae: train_step's optimizer must provide step(vae::View<S> params, vae::ConstView<S> grads) "
                  "for the model's scalar type S, like vae::Adam<S, Backend>");
    if constexpr (is_optimizer<Opt, S>::value) {
      const CallScope<Backend> call;  // the optimizer's step too
      const LossParts<S> parts = compute_gradients(x, rng);
      optimizer.step(parameters(), gradients());
      return parts;
    } else {
      return {};
    }
  }

 protected:
  /// Fails to compile for an Eigen type whose rows are fixed at compile
  /// time to another number than Rows (Rows Dynamic: any).
  template <class Derived, Index Rows>
  static constexpr void check_rows() {
    static_assert(Derived::RowsAtCompileTime == Eigen::Dynamic || Rows == Dynamic ||
                      Index(Derived::RowsAtCompileTime) == Rows,
                  "vae: this Eigen matrix has a fixed number of rows that is not the model's: a batch has one column "
                  "per sample and input_size rows (decoder_input_size rows for decode)");
  }

  /// "vae::VariationalAutoencoder", "vae::Autoencoder" or
  /// "vae::ConditionalVariationalAutoencoder", for messages.
  static const char* name() {
    return Classes > 0 ? "vae::ConditionalVariationalAutoencoder"
                       : is_variational ? "vae::VariationalAutoencoder" : "vae::Autoencoder";
  }

  /// The decoder's input for the codes `z` (Latent x k B: k draws of each
  /// input, column s B + j for input j) of the input batch x (B columns): z
  /// itself, or for a conditional model z stacked on the one-hot rows of
  /// each column's input, built in ws.decoder_input.
  template <class V>
  V decoder_input(V z, ConstView<S> x, Workspace& ws) const {
    if constexpr (Classes == 0) {
      (void)x;
      (void)ws;
      return z;
    } else {
      const Index latent = num_latent();
      const View<S> in = make_view(ws.decoder_input.data(), num_decoder_inputs(), z.cols);
      Ops::for_each(ctx_, latent, z.cols, kernels::Activation<Identity, S>{z, in.row_block(0, latent)});
      Ops::for_each(ctx_, Classes, z.cols,
                    kernels::TileColumns<S>{x.row_block(num_features(), Classes), in.row_block(latent, Classes)});
      return in;
    }
  }

  /// A host copy of backend memory.
  Matrix<S> to_host(ConstView<S> v) const {
    Matrix<S> out(v.rows, v.cols);
    Ops::download(ctx_, v, out.data());
    return out;
  }

  /// check_batch for an input batch, with values in [0, 1] where the loss
  /// needs them (binary cross-entropy, the continuous Bernoulli).
  void check_input(const MatrixRef<S>& x, const char* where) const {
    check_batch(x, num_inputs(), name(), where, "input batch",
                needs_unit_range(objective_.reconstruction) ? name_of(objective_.reconstruction) : nullptr);
  }

  /// mu and sigma of q(z | x) for a host batch x (the Gaussian latent's
  /// models); `method` names the caller in errors.
  LatentDistribution<S> gaussian_distribution(const MatrixRef<S>& x, const char* method) const {
    const CallScope<Backend> call;
    check_batch(x, num_inputs(), name(), method, "input batch");
    Workspace ws(*this);
    ws.reserve(x.cols());
    const View<S> heads = encoder_output(x, ws);
    const View<S> sigma = make_view(ws.latent.z.data(), num_latent(), x.cols());
    GaussianLatent::sigma<Backend>(ctx_, ConstView<S>(heads), sigma);
    return {to_host(GaussianLatent::point(ConstView<S>(heads))), to_host(sigma)};
  }

  /// The encoder's output for a host batch x, staged into ws.input.
  View<S> encoder_output(const MatrixRef<S>& x, Workspace& ws) const {
    return enc_.forward(ctx_, Ops::stage(ctx_, view_of(x), ws.input), ws.enc);
  }

  /// The mean of p(x|z) (the loss's mean of the decoder's outputs: sigmoid
  /// for the Bernoulli and squared error) in ws's output.
  View<S> decode_logits(ConstView<S> z, typename Dec::Workspace& ws) const {
    const View<S> logits = dec_.forward(ctx_, z, ws);
    with_reconstruction(objective_.reconstruction, [&](auto loss) {
      Ops::for_each(ctx_, num_features(), logits.cols, kernels::OutputMean<decltype(loss), S>{logits});
    });
    return logits;
  }

  /// Forward plus loss; leaves d loss / d logits in place of the logits and,
  /// when z_out is given, the decoder's input there.
  LossParts<S> loss(ConstView<S> x, Workspace& ws, Rng& rng, View<S>* z_out = nullptr) const {
    const View<S> code = enc_.forward(ctx_, x, ws.enc);
    if constexpr (is_variational) {
      if (objective_.bound == Bound::ImportanceWeighted) return importance_loss(ConstView<S>(code), x, ws, rng, z_out);
    }
    const LatentSample<S> z = Latent::template forward<Backend>(ctx_, objective_.kl, code, rng, ws.latent);
    const View<S> dec_in = decoder_input(z.z, x, ws);
    if (z_out) *z_out = dec_in;
    const View<S> logits = dec_.forward(ctx_, dec_in, ws.dec);
    const S rec = reconstruction_loss<Backend>(ctx_, objective_.reconstruction, logits, x.row_block(0, num_features()),
                                               make_view(ws.column_loss.data(), 1, x.cols));
    const S n = static_cast<S>(x.cols);
    return {rec / n, z.loss_sum / n, (rec + objective_.beta * z.loss_sum) / n};
  }

  /// Draws of z per input that the objective asks for (1 but for the
  /// importance-weighted bound of a VAE).
  Index samples_per_input() const {
    return is_variational && objective_.bound == Bound::ImportanceWeighted ? objective_.samples : 1;
  }

  /// `draws` samples z of q(z|x) per input (heads: 2Z x B, x: In x B), in
  /// columns c = s B + j (losses/importance.hpp). Leaves in ws: eps and z
  /// (Z x draws B), dl/dlogits in the decoder's output, each column's
  /// reconstruction loss in column_loss and log p(z) - log q(z|x) in
  /// latent.column_kl (1 x draws B each). Returns the decoder's input (z,
  /// or a conditional model's z over each column's one-hot label).
  /// The noise is one run of rng; a shared one (Rng::share, data-parallel
  /// ranks each with B columns of a batch) takes one run per draw s, so that
  /// each rank's draws are its own columns of the draws one process takes for
  /// the whole batch (the same normals, since Z B is a multiple of 4).
  View<S> importance_terms(ConstView<S> heads, ConstView<S> x, Index draws, Rng& rng, Workspace& ws) const {
    const Index batch = x.cols, columns = draws * batch, zrows = num_latent();
    const View<S> eps = make_view(ws.latent.eps.data(), zrows, columns);
    const View<S> z = make_view(ws.latent.z.data(), zrows, columns);
    if (rng.shared()) {
      for (Index s = 0; s < draws; ++s) Ops::fill_normal(ctx_, rng, eps.col_block(s * batch, batch));
    } else {
      Ops::fill_normal(ctx_, rng, eps);
    }
    Ops::column_sums(ctx_, zrows, columns, kernels::ImportanceSample<S>{heads, eps, z},
                     make_view(ws.latent.column_kl.data(), 1, columns));
    const View<S> dec_in = decoder_input(z, x, ws);
    const View<S> logits = dec_.forward(ctx_, ConstView<S>(dec_in), ws.dec);
    with_reconstruction(objective_.reconstruction, [&](auto rec) {
      Ops::column_sums(ctx_, num_features(), columns,
                       kernels::TiledReconstructionLoss<decltype(rec), S>{logits, x.row_block(0, num_features())},
                       make_view(ws.column_loss.data(), 1, columns));
    });
    return dec_in;
  }

  /// The importance-weighted bound's loss per input, from the encoder's heads
  /// (2Z x B); leaves the normalised weights in ws.weights and the decoder's
  /// input in *z_out.
  /// Parts per input: reconstruction and kl (log q - log p) are means over
  /// the k samples, total is -L_k.
  LossParts<S> importance_loss(ConstView<S> heads, ConstView<S> x, Workspace& ws, Rng& rng, View<S>* z_out) const {
    const Index batch = x.cols, k = objective_.samples, columns = k * batch;
    const View<S> dec_in = importance_terms(heads, x, k, rng, ws);
    const View<S> rec = make_view(ws.column_loss.data(), batch, k);
    const View<S> lat = make_view(ws.latent.column_kl.data(), batch, k);
    const View<S> bound = make_view(ws.bound.data(), batch, 1);
    Ops::for_each(ctx_, batch, 1,
                  kernels::ImportanceWeights<S>{rec, lat, objective_.beta, make_view(ws.weights.data(), batch, k), bound});
    if (z_out) *z_out = dec_in;
    const S n = static_cast<S>(batch), draws = static_cast<S>(columns);
    return {Ops::sum(ctx_, rec) / draws, -Ops::sum(ctx_, lat) / draws, Ops::sum(ctx_, bound) / n};
  }

  /// The importance-weighted bound's loss per input of x, as importance_loss
  /// gives it, in passes of at most kMaxDecodedColumns decoded samples (k B
  /// columns at once would need k times a batch's memory): the parts are
  /// summed in double and L_k of each input is a running log-sum-exp.
  LossParts<S> chunked_importance_loss(const MatrixRef<S>& x, Rng& rng) const {
    const Index k = objective_.samples;
    double rec_sum = 0, lat_sum = 0, bound_sum = 0;
    importance_passes(
        x, k, rng, kMaxDecodedColumns, 0.0, double(objective_.beta),
        [&](const S* rec, const S* lat, Index columns) {
          for (Index c = 0; c < columns; ++c) {
            rec_sum += double(rec[c]);
            lat_sum += double(lat[c]);
          }
        },
        [&](Index, Index b, const double* log_sum) {
          for (Index j = 0; j < b; ++j) bound_sum -= log_sum[j] - std::log(static_cast<double>(k));
        });
    const double inputs = double(x.cols()), columns = inputs * double(k);
    return {S(rec_sum / columns), S(-lat_sum / columns), S(bound_sum / inputs)};
  }

  /// log p(x) of each input of x (In x B; a conditional model's with its
  /// one-hot rows, giving log p(features | label)) estimated with k
  /// importance samples of q(z|x); the public log_likelihood of the
  /// variational models (VariationalAutoencoderOf::log_likelihood documents
  /// the estimator). Chunks of at most max_columns decoded samples.
  Vector<double> estimate_log_likelihood(const MatrixRef<S>& x, Index k, Rng& rng, Index max_columns) const {
    static_assert(is_variational, "vae: log_likelihood needs a variational model");
    const CallScope<Backend> call;
    check_input(x, "::log_likelihood");
    if (k < 1 || max_columns < 1)
      throw ValueError(std::string(name()) + "::log_likelihood: k is " + std::to_string(k) + " and max_columns " +
                       std::to_string(max_columns) + ", expected both >= 1");
    Vector<double> out(x.cols());
    importance_passes(
        x, k, rng, max_columns, log_likelihood_offset(objective_.reconstruction, num_features()), 1.0,
        [](const S*, const S*, Index) {},
        [&](Index first, Index b, const double* log_sum) {
          for (Index j = 0; j < b; ++j) out[first + j] = log_sum[j] - std::log(static_cast<double>(k));
        });
    return out;
  }

  /// Draws k samples of q(z|x) for every input of x, in chunks of inputs and
  /// passes of samples of at most max_columns decoded samples at once. After
  /// each pass, on_pass(rec, lat, columns) sees its terms on the host
  /// (reconstruction loss and log p(z) - log q(z|x) of each column); after
  /// each chunk of b inputs from `first`, on_chunk(first, b, log_sum) gets
  /// log sum_s w_s of each, with log w = offset + beta lat - rec.
  template <class OnPass, class OnChunk>
  void importance_passes(const MatrixRef<S>& x, Index k, Rng& rng, Index max_columns, double offset, double beta,
                         OnPass&& on_pass, OnChunk&& on_chunk) const {
    const Index n = x.cols();
    const Index per = std::max<Index>(1, std::min(n, max_columns / k));    // inputs per chunk
    const Index draws = std::min(k, std::max<Index>(1, max_columns / per));  // samples per pass
    Workspace ws(*this);
    ws.reserve(per, draws);
    std::vector<S> rec(static_cast<std::size_t>(per * draws)), lat(rec.size());
    std::vector<double> top(static_cast<std::size_t>(per)), total(top.size());
    for (Index first = 0; first < n; first += per) {
      const Index b = std::min(per, n - first);
      const MatrixRef<S> part = x.middleCols(first, b);
      const ConstView<S> xb = Ops::stage(ctx_, view_of(part), ws.input);
      const View<S> heads = enc_.forward(ctx_, xb, ws.enc);
      std::fill(top.begin(), top.end(), -std::numeric_limits<double>::infinity());
      std::fill(total.begin(), total.end(), 0.0);
      for (Index s0 = 0; s0 < k; s0 += draws) {
        const Index d = std::min(draws, k - s0);
        importance_terms(ConstView<S>(heads), xb, d, rng, ws);
        Ops::download(ctx_, make_view<S>(ws.column_loss.data(), 1, d * b), rec.data());
        Ops::download(ctx_, make_view<S>(ws.latent.column_kl.data(), 1, d * b), lat.data());
        on_pass(rec.data(), lat.data(), d * b);
        accumulate_log_sum_exp(rec.data(), lat.data(), b, d, offset, beta, top.data(), total.data());
      }
      for (Index j = 0; j < b; ++j) top[std::size_t(j)] += std::log(total[std::size_t(j)]);
      on_chunk(first, b, top.data());
    }
  }

  /// Adds the d samples of each of b inputs (columns c = s b + j of rec and
  /// lat, the reconstruction loss and log p(z) - log q(z|x)) to running
  /// log-sum-exps of log w_s = offset + beta lat - rec: sum_s exp(log w_s) =
  /// total[j] exp(top[j]).
  static void accumulate_log_sum_exp(const S* rec, const S* lat, Index b, Index d, double offset, double beta,
                                     double* top, double* total) {
    for (Index j = 0; j < b; ++j) {
      const auto log_weight = [&](Index s) { return offset + beta * double(lat[s * b + j]) - double(rec[s * b + j]); };
      double m = top[j];
      for (Index s = 0; s < d; ++s) m = std::max(m, log_weight(s));
      double sum = total[j] * std::exp(top[j] - m);  // 0 on the first pass (exp(-inf))
      for (Index s = 0; s < d; ++s) sum += std::exp(log_weight(s) - m);
      top[j] = m;
      total[j] = sum;
    }
  }

  /// Backward of importance_loss from the heads (2Z x B) and the decoder's
  /// input (its first Z rows the samples z, Z x k B): weights each sample's
  /// dL/dlogits by w~, runs the decoder backward over the k B columns and
  /// returns dL/dheads (2Z x B).
  View<S> importance_backward(ConstView<S> heads, View<S> dec_in, Workspace& ws) {
    const Index batch = heads.cols, k = objective_.samples, columns = k * batch, zrows = num_latent();
    const ConstView<S> weights = make_view<S>(ws.weights.data(), batch, k);
    const View<S> dlogits = ws.dec.out_view(columns);
    Ops::for_each(ctx_, dlogits.rows, columns, kernels::WeightColumns<S>{dlogits, weights});
    const View<S> dz = make_view(ws.latent_grad.data(), zrows, columns);
    dec_.backward(ctx_, dec_in, ws.dec, dlogits, dz);
    const View<S> dheads = make_view(ws.latent.dheads.data(), 2 * zrows, batch);
    Ops::for_each(ctx_, zrows, batch,
                  kernels::ImportanceSampleGrad<S>{objective_.beta, heads, make_view<S>(ws.latent.eps.data(), zrows, columns),
                                                   dec_in.row_block(0, zrows), dz, weights, dheads});
    return dheads;
  }

  /// The backend context.
  Context ctx_;
  /// What the losses compute.
  Objective<S> objective_;
  /// The encoder, bound to the buffers' first values (its parameter count).
  Enc enc_;
  /// The decoder, bound to the rest.
  Dec dec_;
  /// @var grads_
  /// The flat gradient buffer, laid out as params_.

  /// The flat parameter buffer (num_parameters() values, see parameters()).
  Buffer<Backend, S> params_, grads_;
  /// The workspace of compute_gradients and train_step (inference builds its own).
  Workspace train_ws_;

 private:
  // A moved-from model's buffers are empty (null): its networks bind to null,
  // never to an offset from it.
  void bind() {
    const Index split = net_parameters(enc_);
    const auto at = [split](S* p) { return p ? p + split : p; };
    enc_.bind(params_.data(), grads_.data());
    dec_.bind(at(params_.data()), at(grads_.data()));
  }

  /// For the learned Gaussian (scale_per_feature), sets the part of `flat`
  /// (the parameters or the gradients) that holds the weights of the
  /// decoder's scale rows to 0: rows [features, 2 features) of its last
  /// layer's W (out x in, column-major).
  void zero_scale_weights(View<S> flat) {
    (void)flat;
    if constexpr (Dec::parameter_count == Dynamic && is_dense_network_v<Dec>) {  // a fixed decoder has one output per feature
      if (!scale_per_feature(objective_.reconstruction) || flat.data == nullptr) return;
      const auto& sizes = dec_.sizes();  // no copy: this runs every step
      const std::size_t last = sizes.size() - 2;
      const Index in = sizes[last], out = sizes[last + 1], features = num_features();
      S* w = flat.data + net_parameters(enc_) + dec_.parameter_offset(last);
      Ops::set_zero(ctx_, View<S>{w + features, features, in, out});
    }
  }

  /// Throws ShapeError unless the decoder outputs `loss`'s outputs per
  /// feature for each feature the encoder takes.
  void check_decoder_outputs(Reconstruction loss) const {
    const Index per = outputs_per_feature(loss), out = net_output_size(dec_);
    if (scale_per_feature(loss) && !is_dense_network_v<Dec>)
      throw ShapeError(std::string(name()) + ": the " + name_of(loss) +
                       " loss keeps the weights of the decoder's scale rows at 0, which needs vae's dense decoder "
                       "(DecoderOf or DynamicDecoder); with a decoder of one's own use the heteroscedastic-gaussian "
                       "loss");
    if (out == per * num_features()) return;
    throw ShapeError(std::string(name()) + ": the decoder outputs " + std::to_string(out) + " rows, the encoder takes " +
                     std::to_string(num_inputs()) +
                     (Classes > 0 ? " less " + std::to_string(Classes) + " label rows" : std::string()) + "; the " +
                     name_of(loss) + " loss needs " +
                     (per == 1 ? std::string("as many") : std::to_string(per) + " per feature (" +
                                                              std::to_string(per * num_features()) + ")"));
  }

  /// num_parameters(), after checking that a run-time model's networks fit
  /// together as the static_asserts check a fixed one's.
  Index checked_parameter_count() const {
    if constexpr (sized_at_run_time) {
      const auto fail = [&](const std::string& what) {
        throw ShapeError(std::string(name()) + ": " + what);
      };
      if (num_latent() + Classes != num_decoder_inputs())
        fail("the decoder takes " + std::to_string(num_decoder_inputs()) + " inputs, the encoder's code has " +
             std::to_string(num_latent()) + (Classes > 0 ? " and the labels " + std::to_string(Classes) : std::string()) +
             "; they must match");
      if (num_inputs() < Classes + 1) fail("the encoder takes " + std::to_string(num_inputs()) + " inputs, fewer than the labels' " + std::to_string(Classes) + " rows and one feature");
      if (Enc::is_variational && net_output_size(enc_) != 2 * num_latent())
        fail("a variational encoder must output 2 x its latent size");
      check_label_planes(fail);
    }
    return num_parameters();
  }

  /// A network of layers may spread a conditional model's label rows over
  /// planes (label_planes): only as its first layer, which takes the labels'
  /// rows after the features or the code, and with the model's classes.
  template <class Fail>
  void check_label_planes(const Fail& fail) const {
    const auto check = [&](const auto& net, const char* which) {
      if constexpr (has_label_plane_layers_v<std::decay_t<decltype(net)>>) {
        for (const auto& [layer, classes] : net.label_plane_layers()) {
          const std::string what = std::string("the ") + which + "'s layer " + std::to_string(layer) +
                                   " spreads " + std::to_string(classes) + " label rows over planes";
          if (Classes == 0) fail(what + ", but this model takes no labels (a conditional one does: vae::SequentialCvae)");
          if (layer != 0) fail(what + "; only a network's first layer can, which takes the labels' rows");
          if (classes != Classes)
            fail(what + "; this model's labels have " + std::to_string(Classes) + " classes");
        }
      }
    };
    check(enc_, "encoder");
    check(dec_, "decoder");
  }

  /// A run-time network's sizes as an Architecture records them.
  template <class N>
  static std::vector<std::uint64_t> run_time_sizes(const N& n, bool) {
    if constexpr (N::parameter_count == Dynamic) {
      std::vector<std::uint64_t> out;
      for (const Index s : n.user_sizes()) out.push_back(static_cast<std::uint64_t>(s));
      return out;
    } else {
      return layer_sizes_of<N>(N::output_size != N::latent_size && std::is_same_v<N, Enc>);
    }
  }
  template <class N>
  static std::string run_time_activation(const N& n) {
    if constexpr (N::parameter_count == Dynamic) return n.activation_text();
    else return activation_of<N>();
  }
};

}  // namespace vae::detail
