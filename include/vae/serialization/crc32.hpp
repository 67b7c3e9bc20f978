#pragma once
// CRC-32 (ISO-HDLC: reflected polynomial 0xEDB88320, initial value and final
// xor 0xFFFFFFFF), the checksum of zlib, gzip and PNG, so a checkpoint's
// checksum can be checked with any of their tools. Table-driven, one byte at
// a time; checkpoints are checksummed once per write and read.

#include <array>
#include <cstddef>
#include <cstdint>

namespace vae::detail {

inline const std::array<std::uint32_t, 256>& crc32_table() {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  return table;
}

/// CRC-32 of n bytes; crc32_of("123456789") == 0xCBF43926.
inline std::uint32_t crc32_of(const unsigned char* data, std::size_t n) {
  const auto& table = crc32_table();
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ data[i]) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

}  // namespace vae::detail
