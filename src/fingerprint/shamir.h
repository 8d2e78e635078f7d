// Shamir secret sharing over GF(2^8) (AES polynomial x^8+x^4+x^3+x+1), byte-wise: the k-of-n threshold
// under the fingerprint binding (issue 5, item 2).
#pragma once
#include <cstdint>
#include <vector>

#include "common/secure_bytes.h"

namespace keyseal::fingerprint {

struct Share {
  uint8_t x = 0;  // evaluation point, 1..255, never 0
  SecureBytes y;  // one byte per secret byte
};

namespace gf256 {
uint8_t mul(uint8_t a, uint8_t b) noexcept;  // table-free, no data-dependent branches
uint8_t inv(uint8_t a) noexcept;             // a^254; inv(0) == 0
}  // namespace gf256

// Splits secret into n shares (x = 1..n), any k of which recover it. 1 <= k <= n <= 255, else
// CKR_ARGUMENTS_BAD.
std::vector<Share> split(ByteView secret, unsigned k, unsigned n);

// Lagrange interpolation at 0. Shares must have distinct non-zero x and equal lengths, else
// CKR_ARGUMENTS_BAD. Given fewer than k shares (or wrong ones) it returns an unrelated value: there is no check.
SecureBytes combine(const std::vector<Share>& shares);

// Evaluates the polynomial through the given shares at x (used to re-derive the other shares).
SecureBytes interpolate_at(const std::vector<Share>& shares, uint8_t x);

}  // namespace keyseal::fingerprint
