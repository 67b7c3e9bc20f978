// vae: a variational autoencoder for any table of numbers, from the command
// line (docs/tabular.md walks through a real data set).
//
//   vae train --data train.csv --out run --label-column diagnosis --standardize
//   vae score --model run/model.ckpt --data new.csv --out scores.csv --label-column diagnosis
//   vae encode | reconstruct | sample | info ...
//
// Exit status 0 on success, 1 for any refusal or error (printed as
// "vae: error: ..."), before any output file is written.

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "commands.hpp"

namespace tool {
namespace {

/// The validation rows: a fraction of the table drawn with the run's seed.
void split(const vae::io::Table& t, double fraction, std::uint64_t seed, Eigen::MatrixXd& train,
           Eigen::MatrixXd& validation, std::vector<std::string>& train_labels) {
  const vae::Index n = t.values.cols();
  const vae::Index held = static_cast<vae::Index>(std::floor(fraction * double(n)));
  std::vector<vae::Index> order(static_cast<std::size_t>(n));
  for (vae::Index i = 0; i < n; ++i) order[std::size_t(i)] = i;
  vae::Rng rng(seed ^ 0x5eed5011175ull);
  if (held > 0) rng.shuffle(order.begin(), order.end());
  if (n - held < 1)
    throw UsageError("--validation-fraction " + std::to_string(fraction) + " leaves no training row of " +
                     std::to_string(n));
  validation.resize(t.values.rows(), held);
  train.resize(t.values.rows(), n - held);
  for (vae::Index i = 0; i < n; ++i) {
    const vae::Index r = order[std::size_t(i)];
    if (i < held) {
      validation.col(i) = t.values.col(r);
    } else {
      train.col(i - held) = t.values.col(r);
      if (!t.labels.empty()) train_labels.push_back(t.labels[std::size_t(r)]);
    }
  }
}

int train(const TrainOptions& o) {
  // Everything about the input first: nothing is written before it passes.
  std::vector<vae::Index> sizes;
  for (const std::string& s : vae::detail::split_commas(o.hidden)) {
    try {
      std::size_t used = 0;
      const long v = std::stol(s, &used);
      if (used != s.size() || v < 1 || v > 1 << 20) throw std::invalid_argument(s);
      sizes.push_back(v);
    } catch (const std::exception&) {
      throw UsageError("--hidden " + o.hidden + ": '" + s + "' is not a layer size from 1 to 2^20");
    }
  }
  std::vector<vae::ActivationKind> activations;
  for (const std::string& name : vae::detail::split_commas(o.activation)) {
    vae::ActivationKind a{};
    if (!vae::activation_from_name(name, a))
      throw UsageError("--activation " + o.activation + ": '" + name +
                       "' is not one of identity, relu, tanh, softplus, elu, sigmoid");
    activations.push_back(a);
  }
  if (activations.size() != 1 && activations.size() != sizes.size())
    throw UsageError("--activation lists " + std::to_string(activations.size()) + " activations for " +
                     std::to_string(sizes.size()) + " hidden layers: give one, or one per layer");
  const vae::Reconstruction likelihood = likelihoods().at(o.likelihood);
  if (o.standardize && vae::needs_unit_range(likelihood))
    throw UsageError("--standardize gives values outside [0, 1], where --likelihood " + o.likelihood +
                     " has no density: use --likelihood gaussian");
  if (o.sigma != 1.0 && likelihood != vae::Reconstruction::Gaussian)
    throw UsageError("--sigma sets the Gaussian's standard deviation: it takes --likelihood gaussian");
  if (o.objective == "elbo" && o.k_given && o.k != 1)
    throw UsageError("--k " + std::to_string(o.k) + " takes --objective iwae (the ELBO draws one sample)");
  if (fs::exists(o.out) && !fs::is_directory(o.out)) throw UsageError("--out " + o.out + " is a file, expected a folder");

  const vae::io::Table table = read_data(o.data, o.label_column);
  Eigen::MatrixXd train_values, validation_values;
  std::vector<std::string> train_labels;
  split(table, o.validation_fraction, o.seed, train_values, validation_values, train_labels);
  const vae::DataStatistics stats = vae::statistics_of(train_values, table.columns, o.standardize, o.sigma);
  if (!o.standardize) check_unit_range(table.values, table.columns, likelihood, o.data);
  const Eigen::MatrixXf x = vae::to_model<float>(stats, train_values);
  const Eigen::MatrixXf v = vae::to_model<float>(stats, validation_values);

  vae::Objective<float> objective;
  objective.reconstruction = likelihood;
  objective.beta = static_cast<float>(o.beta);
  if (o.objective == "iwae") {
    objective.bound = vae::Bound::ImportanceWeighted;
    objective.samples = o.k;
  }
  std::vector<vae::Index> net{table.values.rows()};
  net.insert(net.end(), sizes.begin(), sizes.end());
  net.push_back(o.latent);
  Model model = vae::make_mlp_vae<float>(net, activations, o.seed, objective);
  // The output starts at the training data's mean.
  vae::initialize_output_bias(model, x.cast<double>().rowwise().mean());
  vae::AdamOptions adam;
  adam.lr = o.lr;
  vae::Adam<float> optimizer(adam);

  fs::create_directories(o.out);
  const std::string dir = (fs::path(o.out) / "").string();
  if (!o.quiet)
    std::cerr << "vae: " << x.cols() << " training and " << v.cols() << " validation rows of " << x.rows()
              << " features from " << o.data << (o.standardize ? " (standardised)" : "") << "; "
              << model.architecture().describe() << ", " << o.likelihood << " likelihood, " << vae::num_threads()
              << " threads\n";
  vae::TrainOptions t;
  t.epochs = o.epochs;
  t.batch_size = o.batch;
  t.eval_batch_size = 4096;
  t.seed = o.seed;
  t.progress = o.quiet ? nullptr : &std::cerr;
  t.style = vae::progress_style_for_stderr();
  Eigen::MatrixXd metrics(7, 0);
  const auto history = vae::fit(model, optimizer, x, v.cols() > 0 ? &v : nullptr, t, [&](const vae::EpochStats& s) {
    metrics.conservativeResize(Eigen::NoChange, metrics.cols() + 1);
    metrics.col(metrics.cols() - 1) << s.epoch + 1, s.train.total, s.train.reconstruction, s.train.kl,
        s.has_test ? s.test.total : NAN, s.has_test ? s.test.reconstruction : NAN, s.has_test ? s.test.kl : NAN;
  });
  const vae::io::TrainingPosition position{o.epochs, o.seed};
  vae::io::save_checkpoint(dir + "model.ckpt", model, &optimizer, &position, &stats);
  std::vector<std::string> names{"epoch", "train_loss", "train_reconstruction", "train_kl"};
  if (v.cols() > 0) {
    names.insert(names.end(), {"validation_loss", "validation_reconstruction", "validation_kl"});
  } else {
    metrics.conservativeResize(4, Eigen::NoChange);
  }
  vae::io::write_csv(dir + "metrics.csv", metrics, names);
  if (o.latent == 2)
    draw_codes(dir + "latent.png", model.encode(x), train_labels,
               "Latent means of the training rows, " + fs::path(o.data).filename().string(), o.label_column);
  if (!o.quiet) std::cerr << "vae: wrote " << dir << "model.ckpt, metrics.csv" << (o.latent == 2 ? ", latent.png" : "") << "\n";
  return 0;
}

int apply(const std::string& command, const ApplyOptions& o, bool quiet) {
  check_output_file(o.out, "--out");
  if (!o.picture.empty() && fs::path(o.picture).extension() != ".png")
    throw UsageError("--picture " + o.picture + ": expected a file ending in .png");
  const Loaded l = load(o.model);
  if (command == "sample") {
    vae::Rng rng(o.seed);
    const Eigen::MatrixXd s = vae::from_model(l.stats, l.model.sample(o.n, rng));
    write_output(o.out, s, l.stats.columns, {}, "");
    return 0;
  }
  const vae::io::Table t = read_data(o.data, o.label_column);
  const Eigen::MatrixXf x = model_input(l, t, o.data);
  if (!o.picture.empty() && l.model.num_latent() != 2)
    throw UsageError("--picture draws 2-d codes; this model's latent space has " + std::to_string(l.model.num_latent()) +
                     " dimensions");
  if (command == "encode") {
    const Eigen::MatrixXf codes = l.model.encode(x);
    std::vector<std::string> names;
    for (vae::Index j = 0; j < codes.rows(); ++j) names.push_back("z" + std::to_string(j));
    write_output(o.out, codes.cast<double>(), names, t.labels, o.label_column);
    if (!o.picture.empty())
      draw_codes(o.picture, codes, t.labels, "Latent means, " + fs::path(o.data).filename().string(), o.label_column);
  } else if (command == "reconstruct") {
    write_output(o.out, vae::from_model(l.stats, l.model.reconstruct(x)), l.stats.columns, t.labels, o.label_column);
  } else {
    write_output(o.out, scores(l, x, o.k, o.seed, quiet), {"nll", "reconstruction_error"}, t.labels, o.label_column);
  }
  return 0;
}

int info(const std::string& path) {
  const vae::io::CheckpointFile file = vae::io::read_checkpoint_file(path);
  std::cout << "model:         " << file.info.shape() << " (" << vae::parameter_count_of(file.info.architecture)
            << " parameters, checkpoint format " << file.info.version << ")\n";
  if (!file.info.has_data || !file.info.architecture.variational || file.info.architecture.classes > 0 ||
      file.info.architecture.scalar_bytes != 4) {
    std::cout << "data:          none recorded (not written by `vae train`)\n";
    return 0;
  }
  const Loaded l = load(path);
  const vae::Objective<float>& ob = l.model.objective();
  std::cout << "likelihood:    " << likelihood_name(ob.reconstruction) << "\n"
            << "objective:     "
            << (ob.bound == vae::Bound::Elbo ? std::string("ELBO, KL ") + vae::name_of(ob.kl)
                                             : "importance-weighted, k = " + std::to_string(ob.samples))
            << ", beta " << ob.beta << "\n";
  if (l.info.has_position)
    std::cout << "trained:       " << l.position.next_epoch << " epochs, seed " << l.position.seed
              << (l.info.has_optimizer ? ", optimizer state kept" : "") << "\n";
  std::cout << "data:          " << l.stats.features() << " features, "
            << (l.stats.standardize ? "standardised by the training rows' mean and standard deviation"
                                    : "as given (statistics for reference)");
  if (l.stats.sigma != 1.0)
    std::cout << ", divided by sigma " << l.stats.sigma << " (the Gaussian's standard deviation"
              << (l.stats.standardize ? " in standardised units)" : ")");
  std::cout << "\n";
  std::size_t width = 7;
  for (const auto& c : l.stats.columns) width = std::max(width, c.size());
  std::cout << "  " << std::left << std::setw(int(width)) << "feature" << std::right << std::setw(14) << "mean"
            << std::setw(14) << "std" << "\n";
  for (vae::Index j = 0; j < l.stats.features(); ++j)
    std::cout << "  " << std::left << std::setw(int(width)) << l.stats.columns[std::size_t(j)] << std::right
              << std::setw(14) << std::setprecision(6) << l.stats.mean[std::size_t(j)] << std::setw(14)
              << l.stats.scale[std::size_t(j)] << "\n";
  return 0;
}

}  // namespace
}  // namespace tool

int main(int argc, char** argv) {
  CLI::App app{"vae: a variational autoencoder for any table of numbers (CSV or .npy)"};
  app.require_subcommand(1);
  tool::TrainOptions t;
  auto* train = app.add_subcommand("train", "train a VAE on a table; writes DIR/model.ckpt, DIR/metrics.csv and, "
                                            "for a 2-d latent space, DIR/latent.png");
  train->add_option("--data", t.data, "the table: CSV (a header line, numbers) or .npy")->required();
  train->add_option("--out", t.out, "the folder to write to (created if missing)")->required();
  train->add_option("--hidden", t.hidden, "hidden layer sizes of the encoder (the decoder mirrors them)")
      ->capture_default_str();
  train->add_option("--latent", t.latent, "latent dimensions")->check(CLI::Range(1, 4096))->capture_default_str();
  train->add_option("--activation", t.activation, "hidden activation, or one per hidden layer")->capture_default_str();
  train->add_option("--likelihood", t.likelihood,
                    "the output distribution: gaussian (variance sigma^2, any real values; use with --standardize), "
                    "gaussian-learned (a standard deviation learned per feature), gaussian-decoder (mean and "
                    "standard deviation from the decoder per feature and row; both at least 0.001), bernoulli or "
                    "continuous-bernoulli (values in [0, 1])")
      ->check(CLI::IsMember({"bernoulli", "continuous-bernoulli", "gaussian", "gaussian-learned", "gaussian-decoder"}))
      ->capture_default_str();
  train->add_option("--sigma", t.sigma,
                    "the Gaussian's standard deviation per feature, in standardised units with --standardize (the "
                    "data's otherwise): set it near the noise the model should not explain")
      ->check(CLI::Range(1e-6, 1e6))->capture_default_str();
  train->add_flag("--standardize", t.standardize,
                  "train on (x - mean) / std of each feature over the training rows; kept in the checkpoint and "
                  "applied (and undone) by the other commands");
  train->add_option("--label-column", t.label_column, "a CSV column of labels, not a feature (colours the picture)");
  train->add_option("--epochs", t.epochs)->check(CLI::Range(1, 1000000))->capture_default_str();
  train->add_option("--batch", t.batch)->check(CLI::Range(1, 1 << 20))->capture_default_str();
  train->add_option("--lr", t.lr, "Adam's learning rate")->check(CLI::Range(1e-8, 1.0))->capture_default_str();
  train->add_option("--beta", t.beta, "the KL's weight")->check(CLI::Range(0.0, 1e6))->capture_default_str();
  train->add_option("--objective", t.objective, "elbo, or iwae (importance-weighted with --k samples)")
      ->check(CLI::IsMember({"elbo", "iwae"}))->capture_default_str();
  train->add_option("--k", t.k, "samples per row of --objective iwae")
      ->check(CLI::Range(1, int(vae::io::kMaxBoundSamples)))->capture_default_str();
  train->add_option("--seed", t.seed, "weights, validation split, batches and noise")->capture_default_str();
  train->add_option("--validation-fraction", t.validation_fraction, "rows held out to evaluate each epoch")
      ->check(CLI::Range(0.0, 0.9))->capture_default_str();
  train->add_flag("--quiet", t.quiet, "no progress output");

  tool::ApplyOptions a;
  bool quiet = false;
  const auto model_options = [&](CLI::App* c, bool data) {
    c->add_option("--model", a.model, "a checkpoint written by `vae train`")->required();
    if (data) {
      c->add_option("--data", a.data, "the rows: a table with the model's feature columns")->required();
      c->add_option("--label-column", a.label_column, "a CSV column of labels, copied to the output's first column");
    }
    c->add_option("--out", a.out, "the output: .csv or .npy")->required();
    c->add_flag("--quiet", quiet, "no progress output");
  };
  auto* encode = app.add_subcommand("encode", "write each row's code (the mean of q(z|x))");
  model_options(encode, true);
  encode->add_option("--picture", a.picture, "also draw the codes (2-d latent spaces), coloured by label, as PNG");
  auto* reconstruct = app.add_subcommand("reconstruct", "write each row's reconstruction (the mean of p(x|z)), in the data's units");
  model_options(reconstruct, true);
  auto* score = app.add_subcommand("score", "write each row's negative log-likelihood (importance-sampled) and "
                                            "reconstruction error: anomaly scores");
  model_options(score, true);
  score->add_option("--k", a.k, "importance samples per row")->check(CLI::Range(1, 100000))->capture_default_str();
  score->add_option("--seed", a.seed)->capture_default_str();
  auto* sample = app.add_subcommand("sample", "write rows drawn from the model (decoded z ~ N(0, I)), in the data's units");
  model_options(sample, false);
  sample->add_option("--n", a.n, "rows to draw")->check(CLI::Range(1, 10000000))->capture_default_str();
  sample->add_option("--seed", a.seed)->capture_default_str();
  auto* info = app.add_subcommand("info", "print a model's network, likelihood, training and data statistics");
  info->add_option("--model", a.model, "a checkpoint")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help
  } catch (const CLI::ParseError& e) {
    std::cerr << "vae: error: " << e.what() << " (vae --help, vae COMMAND --help list the options)\n";
    return 1;
  }
  t.k_given = train->count("--k") > 0;
  try {
    if (train->parsed()) return tool::train(t);
    if (info->parsed()) return tool::info(a.model);
    for (auto* c : {encode, reconstruct, score, sample})
      if (c->parsed()) return tool::apply(c->get_name(), a, quiet);
  } catch (const std::exception& e) {
    std::cerr << "vae: error: " << e.what() << "\n";
    return 1;
  }
  return 1;
}
