#pragma once
// A reader's error message must print as it is: names and values from the
// file reach it escaped, so it holds no control byte (below 0x20, or DEL)
// that could drive the terminal.

namespace vae::fuzz {

/// Traps when `message` holds a control byte.
inline void require_printable(const char* message) {
  for (const char* p = message; *p; ++p)
    if (static_cast<unsigned char>(*p) < 0x20 || *p == 0x7f) __builtin_trap();
}

}  // namespace vae::fuzz
