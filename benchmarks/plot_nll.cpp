// The test NLL of benchmarks/iwae_table.sh runs against training epochs, as
// one PNG: each run's nll.csv (epoch,nll,nll_samples,seconds_so_far) a colour,
// epochs on a log3 axis (the schedule's stages end at 3^i - 1 ... 3280).
// Usage: plot_nll OUT.png LABEL=RUN/nll.csv [LABEL=RUN/nll.csv ...]
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <vae/viz.hpp>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: plot_nll OUT.png LABEL=RUN/nll.csv [LABEL=RUN/nll.csv ...]\n";
    return 2;
  }
  try {
    std::vector<double> xs, ys, labels;
    vae::viz::PlotOptions o;
    o.title = "test NLL (nats) against training epochs, 784-200-200-50 tanh";
    o.x_label = "log3(epochs): stage ends 1, 4, 13, 40, 121, 364, 1093, 3280";
    o.y_label = "test NLL, nats";
    o.legend_title = "objective";
    o.point_radius = 4;
    o.x_range = vae::viz::Range{-0.2, 7.6};  // epoch 1 to the schedule's 3280 (log3 = 7.37)
    for (int a = 2; a < argc; ++a) {
      const std::string spec = argv[a];
      const auto eq = spec.rfind('=');  // a label may hold '=' ("k=5")
      if (eq == std::string::npos) throw vae::ValueError("'" + spec + "': expected LABEL=PATH/nll.csv");
      const std::string path = spec.substr(eq + 1);
      std::ifstream in(path);
      if (!in) throw vae::IoError(path + ": cannot open");
      o.class_names.push_back(spec.substr(0, eq));
      std::string line;
      std::getline(in, line);  // header
      for (int row = 2; std::getline(in, line); ++row) {
        std::istringstream fields(line);
        double epoch = 0, nll = 0;
        char comma = 0;
        if (!(fields >> epoch >> comma >> nll) || comma != ',' || epoch < 1 || !std::isfinite(nll))
          throw vae::FormatError(path + ": line " + std::to_string(row) + " is '" + line +
                                 "', expected epoch,nll,nll_samples,seconds");
        xs.push_back(std::log(epoch) / std::log(3.0));
        ys.push_back(nll);
        labels.push_back(a - 2);
      }
    }
    if (xs.empty()) throw vae::ValueError("no data rows in the files given");
    vae::viz::write_png(argv[1], vae::viz::scatter_plot(xs, ys, labels, o));
    std::cerr << "wrote " << argv[1] << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "plot_nll: error: " << e.what() << "\n";
    return 1;
  }
}
