#pragma once
// Tables of numbers in and out: CSV files (a header, numeric columns, an
// optional label column) and NumPy .npy files (float32, float64, uint8; C
// order), read into a Table whose values hold one column per sample, as the
// models take them; and matrices written back as CSV or .npy (codes,
// reconstructions, scores), atomically (serialization/atomic_file.hpp).
//
// Every refusal is an error naming the file and what is wrong: a row with
// the wrong number of cells, a missing or non-numeric cell (its line and
// column), an .npy header this reader does not take (its dtype, order or
// shape), a file shorter than its header says.
//
//   vae::io::Table t = vae::io::read_csv("data.csv", {"diagnosis"});
//   // t.values: 30 x 569, t.columns: the 30 feature names, t.labels: 569 cells
//   vae::io::write_npy("codes.npy", model.encode(t.values.cast<float>()));

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include "vae/core/error.hpp"
#include "vae/core/types.hpp"
#include "vae/serialization/atomic_file.hpp"
#include "vae/serialization/input_file.hpp"

namespace vae::io {

/// A table of numbers: `values` holds one column per sample (row of the
/// file) and one row per feature.
struct Table {
  /// features x samples.
  Matrix<double> values;
  /// The features' names: the CSV header's, or "0", "1", ... for .npy.
  std::vector<std::string> columns;
  /// The label column's cells, one per sample, when one was chosen.
  std::vector<std::string> labels;
};

/// How read_csv reads a file.
struct CsvOptions {
  /// The column whose cells are labels (kept as text in Table::labels), not
  /// features; empty for none. It must be in the header.
  std::string label_column;
  /// The cell separator.
  char delimiter = ',';
};

namespace detail {

/// The cells of one CSV line (RFC 4180 quoting: "a, b" is one cell, "" a
/// quote inside a quoted cell). Throws FormatError for an unclosed quote.
inline std::vector<std::string> csv_cells(const std::string& line, char delimiter, const std::string& path,
                                          std::size_t line_number) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cells.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cells.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == delimiter) {
      cells.emplace_back();
    } else {
      cells.back() += c;
    }
  }
  if (quoted)
    throw FormatError(path + ": line " + std::to_string(line_number) + " has a quote that is not closed");
  return cells;
}

/// s without spaces and tabs at its ends.
inline std::string trimmed(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

/// The finite number a whole cell spells (from_chars: no locale); throws
/// ValueError naming the line and column otherwise.
inline double csv_number(const std::string& cell, const std::string& path, std::size_t line_number,
                         const std::string& column) {
  const std::string text = trimmed(cell);
  const auto where = [&] { return path + ": line " + std::to_string(line_number) + ", column '" + column + "'"; };
  if (text.empty()) throw ValueError(where() + " is empty; every feature cell needs a number (no missing values)");
  const char* first = text.data();
  if (*first == '+') ++first;  // from_chars takes no '+'
  double v = 0;
  const auto [end, ec] = std::from_chars(first, text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size())
    throw ValueError(where() + " is '" + text.substr(0, 40) + "', not a number");
  if (!std::isfinite(v)) throw ValueError(where() + " is '" + text.substr(0, 40) + "', not a finite number");
  return v;
}

/// The largest table file read: 16 GiB.
inline constexpr std::uint64_t kMaxTableBytes = std::uint64_t(1) << 34;

/// The whole file at `path` as bytes (InputFile: IoError naming the path for
/// a file that cannot be read or a folder; a device such as /dev/zero stops
/// at kMaxTableBytes and is refused).
inline std::string read_all(const std::string& path, const char* kind) {
  InputFile in(path, kind);
  std::vector<unsigned char> bytes;
  const std::uint64_t limit = in.size() == InputFile::kUnknownSize ? kMaxTableBytes + 1 : in.size();
  if (in.read_up_to(limit, bytes) > kMaxTableBytes)
    throw FormatError(path + ": more than " + std::to_string(kMaxTableBytes) + " bytes; too large for a table");
  return std::string(bytes.begin(), bytes.end());
}

/// A CSV cell for `text`: as it is, or quoted (a quote doubled) when it
/// holds the separator, a quote or a line end, so that read_csv reads it back.
inline std::string csv_cell(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (const char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace detail

/// Reads a CSV file with a header line: every column but
/// `options.label_column` must hold a finite number in every row. Blank
/// lines are skipped; "\r\n" line ends are taken. Throws IoError (unreadable),
/// FormatError (no header, a row with another number of cells than the
/// header, a label column not in the header, no rows) or ValueError (a
/// missing or non-numeric cell: its line and column named).
inline Table read_csv(const std::string& path, const CsvOptions& options = {}) {
  const std::string text = detail::read_all(path, "CSV file");
  std::istringstream lines(text);
  std::string line;
  std::size_t line_number = 0;
  std::vector<std::string> header;
  std::vector<std::vector<double>> rows;
  Table table;
  long label_index = -1;
  while (std::getline(lines, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (detail::trimmed(line).empty()) continue;
    std::vector<std::string> cells = detail::csv_cells(line, options.delimiter, path, line_number);
    if (header.empty()) {
      for (auto& c : cells) c = detail::trimmed(c);
      header = cells;
      for (std::size_t j = 0; j < header.size(); ++j) {
        if (!options.label_column.empty() && header[j] == options.label_column) {
          label_index = static_cast<long>(j);
        } else {
          table.columns.push_back(header[j]);
        }
      }
      if (!options.label_column.empty() && label_index < 0)
        throw FormatError(path + ": the label column '" + options.label_column + "' is not in the header (" +
                          std::to_string(header.size()) + " columns, the first '" + header[0] + "')");
      if (table.columns.empty()) throw FormatError(path + ": the header names no feature column");
      continue;
    }
    if (cells.size() != header.size())
      throw FormatError(path + ": line " + std::to_string(line_number) + " has " + std::to_string(cells.size()) +
                        " cells, the header " + std::to_string(header.size()));
    std::vector<double> row;
    row.reserve(table.columns.size());
    for (std::size_t j = 0; j < cells.size(); ++j) {
      if (static_cast<long>(j) == label_index) {
        table.labels.push_back(detail::trimmed(cells[j]));
      } else {
        row.push_back(detail::csv_number(cells[j], path, line_number, header[j]));
      }
    }
    rows.push_back(std::move(row));
  }
  if (header.empty()) throw FormatError(path + ": empty file; expected a header line and rows of numbers");
  if (rows.empty()) throw FormatError(path + ": a header and no rows; expected at least one row of numbers");
  table.values.resize(static_cast<Index>(table.columns.size()), static_cast<Index>(rows.size()));
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < rows[i].size(); ++j) table.values(static_cast<Index>(j), static_cast<Index>(i)) = rows[i][j];
  return table;
}

namespace detail {

/// The value of `key` in an .npy header dict ("'descr': '<f4', ..."), as
/// written: a quoted string without its quotes, or the text up to the next
/// ',' or '}' outside parentheses.
inline std::string npy_field(const std::string& header, const std::string& key, const std::string& path) {
  const std::string quoted = "'" + key + "'";
  const auto at = header.find(quoted);
  if (at == std::string::npos) throw FormatError(path + ": the .npy header has no '" + key + "': " + header);
  auto i = header.find(':', at + quoted.size());
  if (i == std::string::npos) throw FormatError(path + ": the .npy header's '" + key + "' has no value");
  ++i;
  while (i < header.size() && header[i] == ' ') ++i;
  if (i < header.size() && (header[i] == '\'' || header[i] == '"')) {
    const auto end = header.find(header[i], i + 1);
    if (end == std::string::npos) throw FormatError(path + ": the .npy header's '" + key + "' is not closed");
    return header.substr(i + 1, end - i - 1);
  }
  int depth = 0;
  std::string value;
  for (; i < header.size(); ++i) {
    const char c = header[i];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
    value += c;
  }
  return trimmed(value);
}

}  // namespace detail

/// Reads a NumPy .npy file (format 1.0, 2.0 or 3.0) holding a C-order array
/// of float32, float64 or uint8 (little-endian), of shape (samples,) or
/// (samples, features): the Table has one column per sample and columns
/// "0", "1", .... Throws IoError (unreadable) or FormatError (not an .npy
/// file, another dtype or Fortran order or rank, a file shorter than its
/// shape, NaN or infinite values named by their sample and feature).
inline Table read_npy(const std::string& path) {
  const std::string bytes = detail::read_all(path, ".npy file");
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    throw FormatError(path + ": not a NumPy .npy file (it does not start with \\x93NUMPY)");
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | std::size_t(static_cast<unsigned char>(bytes[9])) << 8;
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw FormatError(path + ": the .npy header is cut short");
    for (int b = 3; b >= 0; --b) header_len = header_len << 8 | static_cast<unsigned char>(bytes[8 + b]);
    start = 12;
  } else {
    throw FormatError(path + ": .npy format version " + std::to_string(major) + ", expected 1, 2 or 3");
  }
  if (header_len > bytes.size() - start)
    throw FormatError(path + ": the .npy header says " + std::to_string(header_len) + " bytes, the file has " +
                      std::to_string(bytes.size() - start) + " after its preamble");
  const std::string header = bytes.substr(start, header_len);
  const std::string descr = detail::npy_field(header, "descr", path);
  const std::string order = detail::npy_field(header, "fortran_order", path);
  const std::string shape_text = detail::npy_field(header, "shape", path);
  std::size_t item = 0;
  if (descr == "<f4") {
    item = 4;
  } else if (descr == "<f8") {
    item = 8;
  } else if (descr == "|u1" || descr == "<u1" || descr == "u1") {
    item = 1;
  } else {
    throw FormatError(path + ": .npy dtype '" + descr + "', expected float32 ('<f4'), float64 ('<f8') or uint8 ('|u1')");
  }
  if (order != "False")
    throw FormatError(path + ": the .npy array is in Fortran order; expected C order (numpy.ascontiguousarray)");
  std::vector<std::uint64_t> shape;
  {
    std::string digits;
    for (const char c : shape_text + ",") {
      if (c >= '0' && c <= '9') {
        digits += c;
      } else if (c == ',' || c == ')') {
        if (!digits.empty()) {
          if (digits.size() > 12) throw FormatError(path + ": .npy shape " + shape_text + " is too large");
          shape.push_back(std::stoull(digits));
        }
        digits.clear();
      } else if (c != '(' && c != ' ') {
        throw FormatError(path + ": .npy shape " + shape_text + " is not a tuple of sizes");
      }
    }
  }
  if (shape.empty() || shape.size() > 2)
    throw FormatError(path + ": .npy shape " + shape_text + ", expected (samples,) or (samples, features)");
  const std::uint64_t samples = shape[0], features = shape.size() == 2 ? shape[1] : 1;
  if (samples == 0 || features == 0) throw FormatError(path + ": .npy shape " + shape_text + " holds no values");
  const std::size_t data = start + header_len;
  if ((bytes.size() - data) / item / features < samples)
    throw FormatError(path + ": .npy shape " + shape_text + " needs " + std::to_string(samples * features * item) +
                      " bytes of data, the file has " + std::to_string(bytes.size() - data));
  Table table;
  table.values.resize(static_cast<Index>(features), static_cast<Index>(samples));
  const char* p = bytes.data() + data;
  for (std::uint64_t i = 0; i < samples; ++i) {
    for (std::uint64_t j = 0; j < features; ++j, p += item) {
      double v = 0;
      if (item == 4) {
        float f;
        std::memcpy(&f, p, 4);
        v = f;
      } else if (item == 8) {
        std::memcpy(&v, p, 8);
      } else {
        v = static_cast<unsigned char>(*p);
      }
      if (!std::isfinite(v))
        throw FormatError(path + ": sample " + std::to_string(i) + ", feature " + std::to_string(j) +
                          " is not finite (NaN or infinite)");
      table.values(static_cast<Index>(j), static_cast<Index>(i)) = v;
    }
  }
  for (std::uint64_t j = 0; j < features; ++j) table.columns.push_back(std::to_string(j));
  return table;
}

/// read_npy for a path ending in ".npy", read_csv otherwise.
inline Table read_table(const std::string& path, const CsvOptions& options = {}) {
  const bool npy = path.size() >= 4 && path.compare(path.size() - 4, 4, ".npy") == 0;
  if (npy && !options.label_column.empty())
    throw ValueError(path + ": an .npy file has no named columns; a label column applies to CSV files only");
  return npy ? read_npy(path) : read_csv(path, options);
}

/// Writes `values` (features x samples, one column per sample) as CSV, one
/// row per sample, under the header `columns` (one name per feature; "0",
/// "1", ... when empty; quoted where a name needs it), each number with the digits that read back to the
/// same value. With `labels` (one per sample), a first column
/// `label_column` holds them, as read_csv's label column reads them back.
/// Atomic: the file is complete or untouched. Throws ShapeError for a header
/// or labels of another size, IoError if the file cannot be written.
template <class Derived>
void write_csv(const std::string& path, const Eigen::MatrixBase<Derived>& values,
               std::vector<std::string> columns = {}, const std::vector<std::string>& labels = {},
               const std::string& label_column = "label") {
  if (columns.empty())
    for (Index j = 0; j < values.rows(); ++j) columns.push_back(std::to_string(j));
  if (static_cast<Index>(columns.size()) != values.rows())
    throw ShapeError("vae::io::write_csv: " + std::to_string(columns.size()) + " column names for " +
                     std::to_string(values.rows()) + " features (rows of the matrix)");
  if (!labels.empty() && static_cast<Index>(labels.size()) != values.cols())
    throw ShapeError("vae::io::write_csv: " + std::to_string(labels.size()) + " labels for " +
                     std::to_string(values.cols()) + " samples (columns of the matrix)");
  using S = typename Derived::Scalar;
  std::string out;
  if (!labels.empty()) out += detail::csv_cell(label_column) + (columns.empty() ? "" : ",");
  for (std::size_t j = 0; j < columns.size(); ++j) out += (j ? "," : "") + detail::csv_cell(columns[j]);
  out += '\n';
  char buffer[64];
  for (Index i = 0; i < values.cols(); ++i) {
    if (!labels.empty()) out += detail::csv_cell(labels[std::size_t(i)]) + (values.rows() ? "," : "");
    for (Index j = 0; j < values.rows(); ++j) {
      const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, static_cast<S>(values(j, i)));
      if (j) out += ',';
      out.append(buffer, ec == std::errc() ? end : buffer);
    }
    out += '\n';
  }
  write_text_file(path, out);
}

/// Writes `values` (features x samples) as an .npy array of shape (samples,
/// features) in C order: float32 for a float matrix, float64 for a double
/// one. Atomic; IoError if the file cannot be written.
template <class Derived>
void write_npy(const std::string& path, const Eigen::MatrixBase<Derived>& values) {
  using S = typename Derived::Scalar;
  static_assert(std::is_same_v<S, float> || std::is_same_v<S, double>,
                "vae::io::write_npy: the matrix must hold float or double values");
  std::string header = std::string("{'descr': '") + (sizeof(S) == 4 ? "<f4" : "<f8") +
                       "', 'fortran_order': False, 'shape': (" + std::to_string(values.cols()) + ", " +
                       std::to_string(values.rows()) + "), }";
  // Preamble (10 bytes) + header, padded with spaces to a multiple of 64 and ending in '\n'.
  const std::size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  // Row-major (samples x features) is the column-major features x samples matrix as it lies.
  const Matrix<S> dense = values;
  out.append(reinterpret_cast<const char*>(dense.data()), sizeof(S) * static_cast<std::size_t>(dense.size()));
  write_text_file(path, out);
}

}  // namespace vae::io
