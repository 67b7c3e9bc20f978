// libFuzzer target: the CSV and .npy readers must turn any bytes into a Table
// whose shape matches its names and labels, or a vae::Error; never a crash, a
// hang, another exception, or a non-finite value.
#include <cstdint>
#include <string>

#include <vae/data/table.hpp>

#include "input_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // The first byte picks the reader (an .npy file starts with 0x93), so one
  // corpus covers both; a CSV starting with 'l' has its column "l" as labels.
  const bool npy = size > 0 && data[0] == 0x93;
  const std::string path = vae::fuzz::write_input("table", data, size);
  if (path.empty()) return 0;
  try {
    const vae::io::Table t = npy ? vae::io::read_npy(path) : vae::io::read_csv(path, {size > 0 && data[0] == 'l' ? "l" : ""});
    if (t.values.rows() != static_cast<vae::Index>(t.columns.size()) || t.values.cols() == 0) __builtin_trap();
    if (!t.labels.empty() && static_cast<vae::Index>(t.labels.size()) != t.values.cols()) __builtin_trap();
    if (!t.values.allFinite()) __builtin_trap();
  } catch (const vae::Error&) {
  }
  return 0;
}
