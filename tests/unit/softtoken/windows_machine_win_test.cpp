// A whole soft token on windows_machine() (Windows build only; run under wine here): the real Windows factor
// collectors and the real DPAPI layer; made, opened, refused with a wrong PIN and when its DPAPI blob does not
// open (a damaged blob stands in for another user's: CryptUnprotectData fails either way).
#include <gtest/gtest.h>

#include <iostream>

#include "common/error.h"
#include "fake_machine.h"
#include "softtoken/soft_backend.h"
#include "softtoken/windows_machine.h"

namespace keyseal::softtoken {
namespace {

using testing::rv_of;


TEST(DpapiReal, ATokenOnWindowsMachineUsesTheRealLayer) {
  testing::TempToken token;
  const crypto::Argon2Params fast{1, 64, 1};
  SoftBackend backend{fast, windows_machine(token.dir)};
  SecureBytes mk;
  token.db->transaction([&] { mk = backend.create_master_key(*token.db, view(std::string_view("so-pin-1")), 10); });
  const auto factors = windows_machine(token.dir).factors(token.dir);
  bool any = false;
  for (const auto& f : factors) any = any || f.present();
  ASSERT_TRUE(any) << "CPUID at least";
  ASSERT_TRUE(token.meta(kOsShareKey).has_value()) << "made with a DPAPI layer";
  EXPECT_TRUE(equal_bytes(view(backend.unlock(*token.db, CKU_SO, view(std::string_view("so-pin-1")))), view(mk)));
  EXPECT_EQ(rv_of([&] { backend.unlock(*token.db, CKU_SO, view(std::string_view("so-pin-2"))); }), CKR_PIN_INCORRECT);
  std::cout << binding_summary(*token.db, windows_machine(token.dir)) << "\n";
  // What DPAPI answers for another user's blob (CryptUnprotectData fails): a damaged blob.
  SecureBytes os = *token.meta(kOsShareKey);
  os[os.size() - 3] ^= 1;
  token.db->set_meta(kOsShareKey, view(os));
  EXPECT_EQ(rv_of([&] { backend.unlock(*token.db, CKU_SO, view(std::string_view("so-pin-1"))); }), CKR_PIN_INCORRECT);
}

}  // namespace
}  // namespace keyseal::softtoken
