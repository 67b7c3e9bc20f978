#pragma once
// The vae command-line tool's subcommands: a VAE trained on any table of
// numbers (CSV or .npy) and used on new rows. Every check on the input runs
// before any output file or folder is touched; every output is written
// atomically.

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <vae/vae.hpp>
#include <vae/viz.hpp>

namespace tool {

namespace fs = std::filesystem;
using Model = vae::DynamicVae<float>;

/// A refusal of what the user asked for: printed, exit status 1.
struct UsageError : vae::ValueError {
  using vae::ValueError::ValueError;
};

/// The --likelihood names and the output distributions they select.
inline const std::map<std::string, vae::Reconstruction>& likelihoods() {
  static const std::map<std::string, vae::Reconstruction> m{
      {"bernoulli", vae::Reconstruction::BinaryCrossEntropy},
      {"continuous-bernoulli", vae::Reconstruction::ContinuousBernoulli},
      {"gaussian", vae::Reconstruction::Gaussian},
      {"gaussian-decoder", vae::Reconstruction::HeteroscedasticGaussian},
      {"gaussian-learned", vae::Reconstruction::LearnedGaussian}};
  return m;
}

/// The --likelihood name of a model's output distribution.
inline std::string likelihood_name(vae::Reconstruction r) {
  for (const auto& [name, kind] : likelihoods())
    if (kind == r) return name;
  return std::string(vae::name_of(r)) + " (not one of the tool's --likelihood choices)";
}

struct TrainOptions {
  std::string data, out, hidden = "64,32", activation = "relu", likelihood = "gaussian", label_column;
  std::string objective = "elbo";
  vae::Index latent = 2, batch = 64, k = 5;
  int epochs = 100;
  double lr = 1e-3, beta = 1.0, validation_fraction = 0.1, sigma = 1.0;
  std::uint64_t seed = 0;
  bool standardize = false, quiet = false, k_given = false;
};

struct ApplyOptions {
  std::string model, data, out, label_column, picture;
  vae::Index k = 100, n = 10;
  std::uint64_t seed = 0;
};

/// The table at `path`, read with its label column.
inline vae::io::Table read_data(const std::string& path, const std::string& label_column) {
  vae::io::CsvOptions csv;
  csv.label_column = label_column;
  vae::io::Table t = vae::io::read_table(path, csv);
  if (t.values.cols() == 0) throw UsageError(path + ": no rows of data");
  if (t.values.rows() == 0) throw UsageError(path + ": no feature columns (only the label column)");
  return t;
}

/// Refuses an output path whose format the tool does not write, or whose
/// folder does not exist, before any work.
inline void check_output_file(const std::string& path, const char* option) {
  const fs::path p(path);
  const std::string ext = p.extension().string();
  if (ext != ".csv" && ext != ".npy")
    throw UsageError(std::string(option) + " " + path + ": expected a file ending in .csv or .npy");
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  if (!fs::is_directory(dir)) throw UsageError(std::string(option) + " " + path + ": the folder " + dir.string() + " does not exist");
  if (fs::is_directory(p)) throw UsageError(std::string(option) + " " + path + " is a folder, expected a file");
}

/// Writes `values` (features x samples) as CSV (with the labels, when any,
/// as a first column) or .npy, by the extension.
inline void write_output(const std::string& path, const Eigen::MatrixXd& values, const std::vector<std::string>& columns,
                         const std::vector<std::string>& labels, const std::string& label_column) {
  if (fs::path(path).extension() == ".npy")
    vae::io::write_npy(path, values);
  else
    vae::io::write_csv(path, values, columns, labels, label_column.empty() ? "label" : label_column);
}

/// Refuses values outside [0, 1] for the Bernoulli likelihoods, naming the
/// first one (its row counted from 1, as in the file, and its column).
inline void check_unit_range(const Eigen::MatrixXd& x, const std::vector<std::string>& columns, vae::Reconstruction r,
                             const std::string& path) {
  if (!vae::needs_unit_range(r)) return;
  for (vae::Index i = 0; i < x.cols(); ++i)
    for (vae::Index j = 0; j < x.rows(); ++j)
      if (x(j, i) < 0 || x(j, i) > 1)
        throw UsageError(path + ": row " + std::to_string(i + 1) + ", column '" + columns[std::size_t(j)] + "' is " +
                         std::to_string(x(j, i)) + "; --likelihood " + likelihood_name(r) +
                         " is a distribution on [0, 1] (use --likelihood gaussian, with --standardize for data on "
                         "other scales)");
}

/// The distinct labels in order of first appearance, and each sample's index among them.
inline std::vector<int> label_indices(const std::vector<std::string>& labels, std::vector<std::string>& names) {
  std::vector<int> out;
  for (const std::string& l : labels) {
    const auto it = std::find(names.begin(), names.end(), l);
    out.push_back(static_cast<int>(it - names.begin()));
    if (it == names.end()) names.push_back(l);
  }
  return out;
}

/// The codes' scatter plot, coloured by label when there are labels.
inline void draw_codes(const std::string& path, const Eigen::MatrixXf& codes, const std::vector<std::string>& labels,
                       const std::string& title, const std::string& legend) {
  vae::viz::PlotOptions o;
  o.title = title;
  o.x_label = "z[0]";
  o.y_label = "z[1]";
  o.point_radius = codes.cols() > 2000 ? 2.0 : 3.0;
  std::vector<double> xs, ys;
  for (vae::Index i = 0; i < codes.cols(); ++i) {
    xs.push_back(codes(0, i));
    ys.push_back(codes(1, i));
  }
  std::vector<int> index(xs.size(), 0);
  if (!labels.empty()) {
    index = label_indices(labels, o.class_names);
    o.legend_title = legend;
  } else {
    o.class_names = {"sample"};
  }
  vae::viz::write_png(path, vae::viz::scatter_plot(xs, ys, index, o));
}

/// A VAE file the tool can use: the model, its statistics and its header.
struct Loaded {
  vae::io::CheckpointInfo info;
  vae::DataStatistics stats;
  vae::io::TrainingPosition position;
  Model model;
};

inline Loaded load(const std::string& path) {
  const vae::io::CheckpointFile file = vae::io::read_checkpoint_file(path);
  if (!file.info.has_data)
    throw UsageError(path + ": holds " + file.info.shape() +
                     " without the statistics of its training data (its feature names, means and scales); the vae "
                     "tool uses the checkpoints `vae train` writes");
  vae::DataStatistics stats;
  vae::io::TrainingPosition position;
  Model model = vae::io::load_checkpoint_model<Model>(file, nullptr, file.info.has_position ? &position : nullptr, {},
                                                      &stats);
  return Loaded{file.info, std::move(stats), position, std::move(model)};
}

/// The rows of `path` as the loaded model takes them, checked against the
/// features it was trained on (their number and names).
inline Eigen::MatrixXf model_input(const Loaded& l, const vae::io::Table& t, const std::string& path) {
  if (t.columns.size() != l.stats.columns.size())
    throw UsageError(path + ": " + std::to_string(t.columns.size()) + " feature columns, the model was trained on " +
                     std::to_string(l.stats.columns.size()) + " (`vae info` lists them)");
  for (std::size_t j = 0; j < t.columns.size(); ++j)
    if (t.columns[j] != l.stats.columns[j])
      throw UsageError(path + ": feature column " + std::to_string(j + 1) + " is '" + t.columns[j] +
                       "', the model's is '" + l.stats.columns[j] + "' (`vae info` lists them)");
  const vae::Reconstruction r = l.model.objective().reconstruction;
  if (!l.stats.standardize) check_unit_range(t.values, t.columns, r, path);
  return vae::to_model<float>(l.stats, t.values);
}

/// Importance-sampled negative log-likelihood (in the data's units: the
/// standardisation's log-determinant added) and squared reconstruction
/// error (in the model's units) of each column of x, in chunks with a
/// progress bar.
inline Eigen::MatrixXd scores(const Loaded& l, const Eigen::MatrixXf& x, vae::Index k, std::uint64_t seed,
                              bool quiet) {
  const vae::Index chunk = std::max<vae::Index>(1, 65536 / k);
  const vae::Index chunks = (x.cols() + chunk - 1) / chunk;
  vae::ProgressReporter progress(quiet ? nullptr : &std::cerr, vae::progress_style_for_stderr(), 1, chunks);
  progress.start_epoch(0);
  Eigen::MatrixXd out(2, x.cols());
  vae::Rng rng(seed);
  for (vae::Index c = 0; c < chunks; ++c) {
    const vae::Index first = c * chunk, n = std::min(chunk, x.cols() - first);
    const Eigen::MatrixXf xb = x.middleCols(first, n);
    const Eigen::VectorXd ll = l.model.log_likelihood(xb, k, rng);
    const Eigen::MatrixXf rec = l.model.reconstruct(xb);
    out.row(0).segment(first, n) = (-ll.array() + l.stats.log_scale_sum()).matrix().transpose();
    out.row(1).segment(first, n) = (rec - xb).cast<double>().colwise().squaredNorm();
    progress.batch_done(c, n, out.row(0).segment(first, n).mean());
  }
  progress.end_epoch("scored " + std::to_string(x.cols()) + " rows with k = " + std::to_string(k) +
                     ", mean NLL " + std::to_string(out.row(0).mean()));
  return out;
}

}  // namespace tool
