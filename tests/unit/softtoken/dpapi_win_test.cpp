// The real DPAPI wrapper (Windows build only; run under wine here): the round trip, the token-specific
// entropy, a damaged blob (what CryptUnprotectData answers for another user's or machine's blob: a failure).
#include <gtest/gtest.h>

#include <algorithm>

#include "softtoken/dpapi_wrapper.h"

namespace keyseal::softtoken {
namespace {

TEST(DpapiReal, RoundTripNeedsTheSameEntropyAndAnIntactBlob) {
  auto w = dpapi_wrapper();
  EXPECT_EQ(w->name(), "dpapi");
  const SecureBytes secret(32, 0x5a);
  const SecureBytes blob = w->wrap(view(secret), view(std::string_view("keyseal/fp-os/v1/token-a")));
  EXPECT_GT(blob.size(), secret.size());
  EXPECT_EQ(std::search(blob.begin(), blob.end(), secret.begin(), secret.end()), blob.end());
  const auto back = w->unwrap(view(blob), view(std::string_view("keyseal/fp-os/v1/token-a")));
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(equal_bytes(view(*back), view(secret)));
  EXPECT_FALSE(w->unwrap(view(blob), view(std::string_view("keyseal/fp-os/v1/token-b"))).has_value());
  SecureBytes damaged = blob;
  damaged[damaged.size() - 5] ^= 1;
  EXPECT_FALSE(w->unwrap(view(damaged), view(std::string_view("keyseal/fp-os/v1/token-a"))).has_value());
  EXPECT_FALSE(w->unwrap(ByteView(), view(std::string_view("x"))).has_value());
}

}  // namespace
}  // namespace keyseal::softtoken
