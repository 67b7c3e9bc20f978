#pragma once
// Values read from an untrusted file, made fit to print in an error message:
// a name such as "\x1b[2J" would clear the user's terminal, and bytes that
// are not UTF-8 garble it, so every byte that is not printable UTF-8 is shown
// as \xNN; a number is shown in at most 9 significant digits, not the 300
// that std::to_string gives 1e300, nor "-0.000000" for -1e-8.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "vae/core/error.hpp"
#include "vae/models/architecture.hpp"

namespace vae::io::detail {

/// The length of the UTF-8 sequence starting at s[i] when it is well formed
/// (no overlong form, no surrogate, at most U+10FFFF) and encodes a printable
/// character; 0 otherwise. Controls (C0, DEL, C1) and the bidirectional
/// overrides, which reorder the text around them, count as unprintable.
inline std::size_t printable_sequence(const std::string& s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c >= 0x20 && c < 0x7f) return 1;
  std::size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  // The second byte's range excludes overlong forms (e0, f0), surrogates (ed) and code points above U+10FFFF (f4).
  const unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80, hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  std::uint32_t cp = c & (0xff >> (n + 1));
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  const bool control = cp <= 0x9f;  // C1 controls (two-byte forms only reach U+0080 and up)
  const bool bidi = (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 || cp == 0x2029;
  return control || bidi ? 0 : n;
}

/// `s` with each byte outside a printable UTF-8 character written as `\xNN`
/// and each backslash doubled, so the result prints as one line and means
/// one thing.
inline std::string printable(const std::string& s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = printable_sequence(s, i);
    if (n == 0) {
      const auto c = static_cast<unsigned char>(s[i++]);
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      if (s[i] == '\\') out += '\\';
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

/// printable(s) in single quotes, cut at 120 bytes of s (names come from
/// untrusted files and may be long).
inline std::string quote_name(const std::string& s) {
  return "'" + (s.size() <= 120 ? printable(s) : printable(s.substr(0, 120)) + "...") + "'";
}

/// `v` in at most 9 significant digits ("1e+300", "-1e-08", "0.001", "nan").
inline std::string number(double v) { return vae::detail::number_text(v); }

/// `a` with every name that came from a file escaped for a message.
inline Architecture printable_architecture(Architecture a) {
  a.encoder_activation = printable(a.encoder_activation);
  a.decoder_activation = printable(a.decoder_activation);
  a.output = printable(a.output);
  for (auto* layers : {&a.encoder_layers, &a.decoder_layers})
    for (auto& l : *layers) {
      l.kind = printable(l.kind);
      l.activation = printable(l.activation);
    }
  a.latent.kind = printable(a.latent.kind);
  a.latent.activation = printable(a.latent.activation);
  return a;
}

}  // namespace vae::io::detail
