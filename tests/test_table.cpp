// Tables in and out (vae/data/table.hpp): CSV with a header and a label
// column, NumPy .npy of float32, float64 and uint8, written back bit for bit,
// and every refusal naming the file, the line and the column.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include <vae/data/statistics.hpp>
#include <vae/data/table.hpp>

#include "temp_dir.hpp"

namespace test_table {

namespace {

std::string path_of(const std::string& name) { return (vae::test::temp_dir("vae_table") / name).string(); }

std::string write_file(const std::string& name, const std::string& contents) {
  const std::string path = path_of(name);
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

/// An .npy file of `descr` and `shape` around the raw bytes `data`.
std::string npy(const std::string& descr, const std::string& shape, const std::string& data, bool fortran = false) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size());
  out += '\x00';
  return out + header + data;
}

}  // namespace

TEST_CASE("CSV: a header, numbers, a label column kept as text, quoted names, CRLF and blank lines") {
  const std::string path = write_file("a.csv",
                                      "id,\"radius, mean\",diagnosis,texture\r\n"
                                      "1, 17.99 ,M,10.38\r\n"
                                      "\r\n"
                                      "2,-2.5e-3,B,+4\r\n");
  const vae::io::Table t = vae::io::read_csv(path, {"diagnosis"});
  REQUIRE(t.values.rows() == 3);
  REQUIRE(t.values.cols() == 2);
  CHECK(t.columns == std::vector<std::string>{"id", "radius, mean", "texture"});
  CHECK(t.labels == std::vector<std::string>{"M", "B"});
  CHECK(t.values(1, 0) == 17.99);
  CHECK(t.values(1, 1) == -2.5e-3);
  CHECK(t.values(2, 1) == 4);
  // Without a label column every column must be numeric.
  CHECK_THROWS_WITH_AS(vae::io::read_csv(path), doctest::Contains("line 2, column 'diagnosis' is 'M', not a number"),
                       vae::ValueError);
}

TEST_CASE("CSV: every refusal names the file and what is wrong") {
  const auto refuses = [](const std::string& name, const std::string& contents, const std::string& message,
                          const std::string& label = "") {
    const std::string path = write_file(name, contents);
    CAPTURE(name);
    CHECK_THROWS_WITH(vae::io::read_csv(path, {label}), doctest::Contains((path + ": " + message).c_str()));
  };
  refuses("missing.csv", "a,b\n1,\n", "line 2, column 'b' is empty; every feature cell needs a number");
  refuses("text.csv", "a,b\n1,2\n3,x7\n", "line 3, column 'b' is 'x7', not a number");
  refuses("partial.csv", "a,b\n1,2abc\n", "line 2, column 'b' is '2abc', not a number");
  refuses("nan.csv", "a,b\n1,nan\n", "line 2, column 'b' is 'nan', not a finite number");
  refuses("short.csv", "a,b,c\n1,2,3\n4,5\n", "line 3 has 2 cells, the header 3");
  refuses("long.csv", "a,b\n1,2,3\n", "line 2 has 3 cells, the header 2");
  refuses("empty.csv", "", "empty file");
  refuses("header_only.csv", "a,b\n", "a header and no rows");
  refuses("quote.csv", "a,b\n1,\"2\n", "line 2 has a quote that is not closed");
  refuses("label.csv", "a,b\n1,2\n", "the label column 'class' is not in the header", "class");
  refuses("only_label.csv", "class\nx\n", "the header names no feature column", "class");
  CHECK_THROWS_AS(vae::io::read_csv(path_of("no_such.csv")), vae::IoError);
  CHECK_THROWS_WITH_AS(vae::io::read_csv(vae::test::temp_dir("vae_table").string()), doctest::Contains("is a folder"),
                       vae::IoError);
}

TEST_CASE(".npy: float32, float64 and uint8 in C order, one column per sample") {
  const float f[6] = {1.5f, -2, 3, 4, 5, 6.25f};
  const double d[3] = {0.1, -1e300, 7};
  const unsigned char u[4] = {0, 1, 128, 255};
  const vae::io::Table a = vae::io::read_npy(
      write_file("f4.npy", npy("<f4", "(3, 2)", std::string(reinterpret_cast<const char*>(f), sizeof f))));
  REQUIRE(a.values.rows() == 2);
  REQUIRE(a.values.cols() == 3);
  CHECK(a.values(0, 0) == 1.5);
  CHECK(a.values(1, 0) == -2);
  CHECK(a.values(1, 2) == 6.25);
  CHECK(a.columns == std::vector<std::string>{"0", "1"});
  const vae::io::Table b = vae::io::read_npy(
      write_file("f8.npy", npy("<f8", "(3,)", std::string(reinterpret_cast<const char*>(d), sizeof d))));
  CHECK(b.values.rows() == 1);
  CHECK(b.values(0, 1) == -1e300);
  const vae::io::Table c = vae::io::read_npy(
      write_file("u1.npy", npy("|u1", "(2, 2)", std::string(reinterpret_cast<const char*>(u), sizeof u))));
  CHECK(c.values(1, 1) == 255);
  CHECK(c.values(0, 1) == 128);
}

TEST_CASE(".npy: refusals name the dtype, order, shape or missing bytes") {
  const std::string eight(8 * 6, '\0');
  const auto refuses = [](const std::string& name, const std::string& contents, const std::string& message) {
    const std::string path = write_file(name, contents);
    CAPTURE(name);
    CHECK_THROWS_WITH_AS(vae::io::read_npy(path), doctest::Contains((path + ": " + message).c_str()), vae::FormatError);
  };
  refuses("i4.npy", npy("<i4", "(3, 2)", eight), ".npy dtype '<i4', expected float32");
  refuses("big.npy", npy(">f8", "(3, 2)", eight), ".npy dtype '>f8'");
  refuses("fortran.npy", npy("<f8", "(3, 2)", eight, true), "the .npy array is in Fortran order");
  refuses("rank3.npy", npy("<f8", "(1, 2, 3)", eight), ".npy shape (1, 2, 3), expected (samples,) or (samples, features)");
  refuses("zero.npy", npy("<f8", "(0, 2)", eight), ".npy shape (0, 2) holds no values");
  refuses("cut.npy", npy("<f8", "(4, 2)", eight), ".npy shape (4, 2) needs 64 bytes of data, the file has 48");
  refuses("text.npy", "not numpy at all", "not a NumPy .npy file");
  const double nan[2] = {1, std::nan("")};
  refuses("nan.npy", npy("<f8", "(1, 2)", std::string(reinterpret_cast<const char*>(nan), sizeof nan)),
          "sample 0, feature 1 is not finite");
}

TEST_CASE("written tables read back to the same values, as CSV and as .npy") {
  Eigen::MatrixXd m(3, 4);
  m << 0.1, -2.5e-300, 1e300, 3,  //
      1.0 / 3, 4, 5, 6,           //
      7, 8, 9, -0.0;
  const std::string csv = path_of("out.csv"), f8 = path_of("out.npy"), f4 = path_of("out_f4.npy");
  // Names holding the separator or a quote are quoted, and read back as they were.
  const std::vector<std::string> names{"x", "radius, mean", "say \"z\""};
  vae::io::write_csv(csv, m, names);
  const vae::io::Table t = vae::io::read_csv(csv);
  CHECK(t.columns == names);
  CHECK(t.values == m);
  vae::io::write_npy(f8, m);
  CHECK(vae::io::read_npy(f8).values == m);
  const Eigen::MatrixXf mf = m.cast<float>().cwiseMax(-1e30f).cwiseMin(1e30f);
  vae::io::write_npy(f4, mf);
  CHECK(vae::io::read_npy(f4).values.cast<float>() == mf);
  CHECK(vae::io::read_table(f4).values.cast<float>() == mf);
  CHECK_THROWS_AS(vae::io::write_csv(csv, m, {"only one"}), vae::ShapeError);
  CHECK(vae::io::read_csv(csv).values == m);  // the refused write left the file as it was
  // A label column first, read back as the label column.
  const std::string labelled = path_of("labelled.csv");
  vae::io::write_csv(labelled, m, names, {"benign", "a, b", "", "x"}, "diagnosis");
  const vae::io::Table l = vae::io::read_csv(labelled, {"diagnosis"});
  CHECK(l.columns == names);
  CHECK(l.values == m);
  CHECK(l.labels == std::vector<std::string>{"benign", "a, b", "", "x"});
  CHECK_THROWS_AS(vae::io::write_csv(labelled, m, names, {"one"}), vae::ShapeError);

  // The statistics of a table, applied and undone.
  const Eigen::MatrixXd small = m.bottomRows(2);
  const std::vector<std::string> small_names{names[1], names[2]};
  const vae::DataStatistics stats = vae::statistics_of(small, small_names, true);
  CHECK(stats.columns == small_names);
  CHECK(stats.mean[1] == doctest::Approx((7.0 + 8 + 9 + 0) / 4));
  CHECK(stats.scale[1] == doctest::Approx(std::sqrt((1.0 + 4 + 9 + 36) / 4)));
  CHECK((vae::from_model(stats, vae::to_model<double>(stats, small)) - small).cwiseAbs().maxCoeff() <= 1e-14);
  CHECK(vae::to_model<float>(vae::statistics_of(small, small_names, false), small) == small.cast<float>());
  CHECK_THROWS_WITH_AS(vae::statistics_of(m, names, true), doctest::Contains("feature 0 ('x')"), vae::ValueError);
  // sigma divides what the model sees, standardised or not, and adds D log sigma.
  const vae::DataStatistics halves = vae::statistics_of(small, small_names, false, 0.5);
  CHECK(vae::to_model<double>(halves, small) == 2 * small);
  CHECK(vae::from_model(halves, vae::to_model<double>(halves, small)) == small);
  CHECK(halves.log_scale_sum() == doctest::Approx(2 * std::log(0.5)));
  CHECK_THROWS_AS(vae::statistics_of(small, small_names, false, 0.0), vae::ValueError);
  CHECK_THROWS_AS(vae::statistics_of(m, {"a"}), vae::ShapeError);
  CHECK_THROWS_AS(vae::statistics_of(Eigen::MatrixXd(0, 3)), vae::ShapeError);

  // NumPy reads what vae writes, and vae what NumPy writes, where NumPy is installed.
  if (std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) {
    MESSAGE("no NumPy in /usr/bin/python3: skipping the round trip through NumPy");
    return;
  }
  const std::string from_numpy = path_of("numpy.npy");
  const std::string script = "/usr/bin/python3 -c \"import numpy as n; a = n.load('" + f8 +
                             "'); assert a.shape == (4, 3) and a[0, 1] == 1 / 3, a; n.save('" + from_numpy +
                             "', n.clip(a * 2, -2e30, 2e30).astype(n.float32))\"";
  REQUIRE(std::system(script.c_str()) == 0);
  CHECK(vae::io::read_npy(from_numpy).values == (2 * m).cwiseMax(-2e30).cwiseMin(2e30).cast<float>().cast<double>());
}

}  // namespace test_table
