// Shamir secret sharing over GF(2^8): split with random coefficients from the module DRBG, combine by
// Lagrange interpolation. Arithmetic avoids tables and secret-dependent branches.
#include "fingerprint/shamir.h"

#include "common/error.h"
#include "crypto/random.h"

namespace keyseal::fingerprint {

namespace gf256 {

uint8_t mul(uint8_t a, uint8_t b) noexcept {
  unsigned r = 0;
  unsigned aa = a;
  for (int i = 0; i < 8; ++i) {
    r ^= aa & (0u - ((b >> i) & 1u));              // add a*x^i when bit i of b is set
    aa = (aa << 1) ^ (0x11bu & (0u - (aa >> 7)));  // multiply by x, reduce
    aa &= 0xff;
  }
  return static_cast<uint8_t>(r);
}

uint8_t inv(uint8_t a) noexcept {
  // a^254 = a^-1 in GF(2^8)*; square-and-multiply over the fixed exponent 11111110b.
  uint8_t result = 1;
  uint8_t power = a;
  for (int i = 1; i < 8; ++i) {
    power = mul(power, power);  // a^(2^i)
    result = mul(result, power);
  }
  return result;
}

}  // namespace gf256

std::vector<Share> split(ByteView secret, unsigned k, unsigned n) {
  require(k >= 1 && k <= n && n <= 255, CKR_ARGUMENTS_BAD, "shamir split: need 1 <= k <= n <= 255");
  // coeffs[j] holds coefficient j (j = 1..k-1) for every secret byte; coefficient 0 is the secret.
  std::vector<SecureBytes> coeffs;
  for (unsigned j = 1; j < k; ++j) coeffs.push_back(crypto::random_bytes(secret.size()));
  std::vector<Share> shares(n);
  for (unsigned i = 0; i < n; ++i) {
    Share& s = shares[i];
    s.x = static_cast<uint8_t>(i + 1);
    s.y.resize(secret.size());
    for (size_t b = 0; b < secret.size(); ++b) {
      // Horner from the highest coefficient down to the secret.
      uint8_t acc = 0;
      for (size_t j = coeffs.size(); j-- > 0;) acc = gf256::mul(acc, s.x) ^ coeffs[j][b];
      s.y[b] = gf256::mul(acc, s.x) ^ secret[b];
    }
  }
  return shares;
}

SecureBytes interpolate_at(const std::vector<Share>& shares, uint8_t x) {
  require(!shares.empty(), CKR_ARGUMENTS_BAD, "shamir: no shares");
  const size_t len = shares.front().y.size();
  for (size_t i = 0; i < shares.size(); ++i) {
    require(shares[i].x != 0 && shares[i].y.size() == len, CKR_ARGUMENTS_BAD, "shamir: malformed share");
    for (size_t j = 0; j < i; ++j) require(shares[i].x != shares[j].x, CKR_ARGUMENTS_BAD, "shamir: duplicate x");
  }
  SecureBytes out(len, 0);
  for (size_t i = 0; i < shares.size(); ++i) {
    // Lagrange basis l_i(x) = prod_{j != i} (x - x_j) / (x_i - x_j); subtraction is XOR.
    uint8_t num = 1, den = 1;
    for (size_t j = 0; j < shares.size(); ++j) {
      if (j == i) continue;
      num = gf256::mul(num, x ^ shares[j].x);
      den = gf256::mul(den, shares[i].x ^ shares[j].x);
    }
    const uint8_t l = gf256::mul(num, gf256::inv(den));
    for (size_t b = 0; b < len; ++b) out[b] ^= gf256::mul(l, shares[i].y[b]);
  }
  return out;
}

SecureBytes combine(const std::vector<Share>& shares) {
  return interpolate_at(shares, 0);
}

}  // namespace keyseal::fingerprint
