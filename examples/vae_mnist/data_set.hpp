// What the pictures call the data: its name ("MNIST", "Fashion-MNIST") and
// the name of each class label, from --dataset-name or the data folder.
#pragma once

#include <cctype>
#include <string>
#include <vector>

namespace examples {

struct DataSetNames {
  std::string name = "MNIST";        ///< in the titles
  std::vector<std::string> classes;  ///< label k's name; empty: the label's number (MNIST's digits)
};

/// `s` in lower case with everything but letters and digits dropped.
inline std::string squash(const std::string& s) {
  std::string out;
  for (unsigned char c : s)
    if (std::isalnum(c)) out += static_cast<char>(std::tolower(c));
  return out;
}

/// A data set by name, in any case and spelling of the dash: MNIST and
/// Fashion-MNIST are known; any other name is shown as given, its classes
/// by number.
inline DataSetNames named_data_set(const std::string& name) {
  const std::string key = squash(name);
  if (key == "mnist") return {"MNIST", {}};
  if (key == "fashionmnist" || key == "fashion")
    return {"Fashion-MNIST",
            {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}};
  return {name, {}};
}

/// --dataset-name: a name, or "auto". Both data sets use the same four file
/// names, so "auto" goes by the folder: Fashion-MNIST when its path mentions
/// "fashion" (Debian's dataset-fashion-mnist installs into
/// /usr/share/datasets/fashion-mnist), MNIST otherwise.
inline DataSetNames data_set_names(const std::string& option, const std::string& folder) {
  if (option != "auto") return named_data_set(option);
  return named_data_set(squash(folder).find("fashion") != std::string::npos ? "Fashion-MNIST" : "MNIST");
}

}  // namespace examples
