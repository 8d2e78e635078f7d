// Shamir over GF(2^8): field arithmetic, round trips, any k of n, fewer than k shares.
#include "fingerprint/shamir.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "crypto/random.h"

namespace keyseal::fingerprint {
namespace {

// Reference multiply: schoolbook with reduction, written differently from the library's.
uint8_t slow_mul(uint8_t a, uint8_t b) {
  uint16_t r = 0;
  for (int i = 0; i < 8; ++i)
    if (b & (1 << i)) r ^= static_cast<uint16_t>(a << i);
  for (int i = 15; i >= 8; --i)
    if (r & (1 << i)) r ^= static_cast<uint16_t>(0x11b << (i - 8));
  return static_cast<uint8_t>(r);
}

TEST(Gf256, MultiplyMatchesReference) {
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b)
      ASSERT_EQ(gf256::mul(uint8_t(a), uint8_t(b)), slow_mul(uint8_t(a), uint8_t(b))) << a << "*" << b;
  EXPECT_EQ(gf256::mul(0x57, 0x83), 0xc1);  // FIPS-197 section 4.2 example
}

TEST(Gf256, InverseIsInverse) {
  EXPECT_EQ(gf256::inv(0), 0);
  for (int a = 1; a < 256; ++a) EXPECT_EQ(gf256::mul(uint8_t(a), gf256::inv(uint8_t(a))), 1) << a;
}

std::vector<Share> pick(const std::vector<Share>& all, std::initializer_list<size_t> idx) {
  std::vector<Share> out;
  for (size_t i : idx) out.push_back(all[i]);
  return out;
}

TEST(Shamir, RoundTripVariousThresholds) {
  const SecureBytes secret = crypto::random_bytes(32);
  for (unsigned n = 1; n <= 7; ++n)
    for (unsigned k = 1; k <= n; ++k) {
      auto shares = split(view(secret), k, n);
      ASSERT_EQ(shares.size(), n);
      std::vector<Share> first(shares.begin(), shares.begin() + k);
      EXPECT_EQ(combine(first), secret) << k << " of " << n;
      EXPECT_EQ(combine(shares), secret) << "all " << n;
    }
}

TEST(Shamir, AnyKOfN) {
  const SecureBytes secret = crypto::random_bytes(32);
  auto shares = split(view(secret), 3, 5);
  for (size_t a = 0; a < 5; ++a)
    for (size_t b = a + 1; b < 5; ++b)
      for (size_t c = b + 1; c < 5; ++c) EXPECT_EQ(combine(pick(shares, {c, a, b})), secret) << a << b << c;
}

TEST(Shamir, FewerThanKGivesWrongSecret) {
  const SecureBytes secret = crypto::random_bytes(32);
  auto shares = split(view(secret), 3, 5);
  EXPECT_NE(combine(pick(shares, {0, 1})), secret);
  EXPECT_NE(combine(pick(shares, {3})), secret);
}

TEST(Shamir, ThresholdOneSharesAreTheSecret) {
  const SecureBytes secret = crypto::random_bytes(32);
  for (const auto& s : split(view(secret), 1, 4)) EXPECT_EQ(s.y, secret);
}

TEST(Shamir, SharesOfThresholdTwoDifferFromSecret) {
  const SecureBytes secret = crypto::random_bytes(32);
  auto shares = split(view(secret), 2, 3);
  for (const auto& s : shares) EXPECT_NE(s.y, secret);
}

TEST(Shamir, InterpolateReproducesOtherShares) {
  const SecureBytes secret = crypto::random_bytes(32);
  auto shares = split(view(secret), 2, 4);
  auto two = pick(shares, {0, 3});
  EXPECT_EQ(interpolate_at(two, shares[1].x), shares[1].y);
  EXPECT_EQ(interpolate_at(two, shares[2].x), shares[2].y);
}

TEST(Shamir, BadArguments) {
  const SecureBytes secret(32, 7);
  for (auto [k, n] : {std::pair{0u, 3u}, std::pair{4u, 3u}, std::pair{1u, 256u}}) {
    try {
      split(view(secret), k, n);
      ADD_FAILURE() << k << "," << n;
    } catch (const Error& e) {
      EXPECT_EQ(e.rv, CKR_ARGUMENTS_BAD);
    }
  }
  auto shares = split(view(secret), 2, 3);
  auto dup = pick(shares, {1, 1});
  EXPECT_THROW(combine(dup), Error);
  EXPECT_THROW(combine({}), Error);
  auto zero = pick(shares, {0, 1});
  zero[0].x = 0;
  EXPECT_THROW(combine(zero), Error);
  auto ragged = pick(shares, {0, 1});
  ragged[1].y.pop_back();
  EXPECT_THROW(combine(ragged), Error);
}

}  // namespace
}  // namespace keyseal::fingerprint
