// Key generation limits and the attribute-array policy attributes through the module's C ABI: which return
// value a key size the token cannot make gets (PKCS#11 3.0 base spec section 5.18).
#include "fixture.h"

#include <cstring>

namespace keyseal::test {
namespace {

std::vector<CK_OBJECT_HANDLE> all_objects(CK_SESSION_HANDLE s) {
  std::vector<CK_OBJECT_HANDLE> out;
  EXPECT_EQ(C_FindObjectsInit(s, nullptr, 0), CKR_OK);
  CK_OBJECT_HANDLE buf[64];
  CK_ULONG n = 0;
  do {
    EXPECT_EQ(C_FindObjects(s, buf, 64, &n), CKR_OK);
    out.insert(out.end(), buf, buf + n);
  } while (n == 64);
  EXPECT_EQ(C_FindObjectsFinal(s), CKR_OK);
  return out;
}

// C_GenerateKeyPair (5.18.3) and C_GenerateKey (5.18.2) do not list CKR_KEY_SIZE_RANGE: a modulus size or
// CKA_VALUE_LEN outside the mechanism's range is an invalid template value, and no object is left behind.
TEST_F(ModuleTest, KeySizeOutsideTheGenerationRangeIsAnInvalidAttributeValue) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  const size_t before = all_objects(s).size();
  CK_MECHANISM m{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  for (CK_ULONG bits : {CK_ULONG{1024}, CK_ULONG{2040}, CK_ULONG{8192}}) {
    std::vector<CK_ATTRIBUTE> pub = {attr(CKA_MODULUS_BITS, &bits, sizeof bits)};
    CK_OBJECT_HANDLE hpub = 0, hpriv = 0;
    EXPECT_EQ(C_GenerateKeyPair(s, &m, pub.data(), pub.size(), nullptr, 0, &hpub, &hpriv),
              CKR_ATTRIBUTE_VALUE_INVALID) << bits;
  }
  CK_OBJECT_HANDLE hpub = 0, hpriv = 0;
  EXPECT_EQ(C_GenerateKeyPair(s, &m, nullptr, 0, nullptr, 0, &hpub, &hpriv), CKR_TEMPLATE_INCOMPLETE);
  CK_MECHANISM g{CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
  CK_ULONG len = 513;
  std::vector<CK_ATTRIBUTE> t = {attr(CKA_VALUE_LEN, &len, sizeof len)};
  CK_OBJECT_HANDLE h = 0;
  EXPECT_EQ(C_GenerateKey(s, &g, t.data(), t.size(), &h), CKR_ATTRIBUTE_VALUE_INVALID);
  EXPECT_EQ(all_objects(s).size(), before);
  // The advertised range itself still works.
  CK_MECHANISM_INFO info{};
  ASSERT_EQ(C_GetMechanismInfo(slot_, CKM_RSA_PKCS_KEY_PAIR_GEN, &info), CKR_OK);
  EXPECT_EQ(info.ulMinKeySize, 2048u);
}

}  // namespace
}  // namespace keyseal::test
