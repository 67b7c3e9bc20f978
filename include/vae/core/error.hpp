#pragma once
// Exceptions thrown by the library. The library never prints and never
// aborts: every failure a caller can cause is reported as one of these, with a
// message that names the thing (file, field, shape) and what was expected.

#include <cstdio>
#include <stdexcept>
#include <string>

namespace vae {

/// Base of every exception the library throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A matrix, batch or buffer has the wrong shape or size.
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// A value is out of its allowed range (NaN input, non-positive learning rate...).
class ValueError : public Error {
 public:
  using Error::Error;
};

/// A file could not be opened, read or written.
class IoError : public Error {
 public:
  using Error::Error;
};

/// A file was read but its contents are not what the format requires.
class FormatError : public Error {
 public:
  using Error::Error;
};

/// Training produced a non-finite loss or gradient.
class NumericError : public Error {
 public:
  using Error::Error;
};

/// A CUDA runtime or cuBLAS call failed, or no device is present.
class DeviceError : public Error {
 public:
  using Error::Error;
};

namespace detail {
/// `v` for a message, in at most 9 significant digits ("1e+300", "-1e-08",
/// "0.001", "nan"), not the 300 digits std::to_string gives 1e300.
inline std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
}  // namespace detail

}  // namespace vae
