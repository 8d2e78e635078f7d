// Blank-padded fixed-width strings of the PKCS#11 info structures (section 3.2: "padded with the blank
// character (' '), not null-terminated").
#pragma once
#include "common/secure_bytes.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

namespace keyseal::core {

template <size_t N>
void put_padded(unsigned char (&field)[N], std::string_view s) {
  std::memset(field, ' ', N);
  std::memcpy(field, s.data(), std::min(N, s.size()));
}

inline std::string trim_padded(ByteView b) {
  std::string s(b.begin(), b.end());
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

}  // namespace keyseal::core
