// Module test fixture (see fixture.h).
#include "fixture.h"
#include "platform/env.h"
#include "platform/paths.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace keyseal::test {

const std::vector<uint8_t> kP256 = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const std::vector<uint8_t> kP384 = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE t, const void* v, CK_ULONG n) {
  return CK_ATTRIBUTE{t, const_cast<void*>(v), n};
}

void ModuleTest::SetUp() {
  dir_ = platform::path_to_utf8(platform::make_temp_dir("keyseal-module-test-"));
  std::ofstream(dir_ + "/keyseal.conf") << "# fast PIN derivation for tests\nargon2_m_cost_kib = 64\n"
                                        << "argon2_t_cost = 1\nmax_pin_attempts = " << kMaxTries << "\n";
  platform::set_env("KEYSEAL_STORE", dir_ + "/store");
  platform::set_env("KEYSEAL_CONF", dir_ + "/keyseal.conf");
  ASSERT_EQ(C_Initialize(nullptr), CKR_OK);
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', sizeof label);
  std::memcpy(label, "test token", 10);
  ASSERT_EQ(C_InitToken(slot_, (CK_UTF8CHAR_PTR)kSoPin, strlen(kSoPin), label), CKR_OK);
  CK_SESSION_HANDLE s = open();
  ASSERT_EQ(C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)kSoPin, strlen(kSoPin)), CKR_OK);
  ASSERT_EQ(C_InitPIN(s, (CK_UTF8CHAR_PTR)kUserPin, strlen(kUserPin)), CKR_OK);
  ASSERT_EQ(C_Logout(s), CKR_OK);
  ASSERT_EQ(C_CloseSession(s), CKR_OK);
}

void ModuleTest::TearDown() {
  C_Finalize(nullptr);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void ModuleTest::reinitialize() {
  ASSERT_EQ(C_Finalize(nullptr), CKR_OK);
  ASSERT_EQ(C_Initialize(nullptr), CKR_OK);
}

CK_SESSION_HANDLE ModuleTest::open(bool rw) {
  CK_SESSION_HANDLE s = 0;
  EXPECT_EQ(C_OpenSession(slot_, CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0), nullptr, nullptr, &s), CKR_OK);
  return s;
}

void ModuleTest::login_user(CK_SESSION_HANDLE s) {
  ASSERT_EQ(C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)kUserPin, strlen(kUserPin)), CKR_OK);
}

CK_FLAGS ModuleTest::token_flags() {
  CK_TOKEN_INFO info;
  EXPECT_EQ(C_GetTokenInfo(slot_, &info), CKR_OK);
  return info.flags;
}

std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE> ModuleTest::ec_pair(CK_SESSION_HANDLE s, bool token,
                                                                  const std::string& id,
                                                                  const std::vector<uint8_t>& params) {
  CK_MECHANISM m{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_BBOOL tok = token ? CK_TRUE : CK_FALSE, yes = CK_TRUE;
  std::vector<CK_ATTRIBUTE> pub = {attr(CKA_TOKEN, &tok, 1), attr(CKA_EC_PARAMS, params.data(), params.size()),
                                   attr(CKA_ID, id.data(), id.size()), attr(CKA_VERIFY, &yes, 1)};
  std::vector<CK_ATTRIBUTE> priv = {attr(CKA_TOKEN, &tok, 1), attr(CKA_ID, id.data(), id.size()),
                                    attr(CKA_SIGN, &yes, 1), attr(CKA_DERIVE, &yes, 1)};
  CK_OBJECT_HANDLE hpub = 0, hpriv = 0;
  EXPECT_EQ(C_GenerateKeyPair(s, &m, pub.data(), pub.size(), priv.data(), priv.size(), &hpub, &hpriv), CKR_OK);
  return {hpub, hpriv};
}

std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE> ModuleTest::rsa_pair(CK_SESSION_HANDLE s, bool token,
                                                                   const std::string& id) {
  CK_MECHANISM m{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  CK_BBOOL tok = token ? CK_TRUE : CK_FALSE;
  CK_ULONG bits = 2048;
  std::vector<CK_ATTRIBUTE> pub = {attr(CKA_TOKEN, &tok, 1), attr(CKA_MODULUS_BITS, &bits, sizeof bits),
                                   attr(CKA_ID, id.data(), id.size())};
  std::vector<CK_ATTRIBUTE> priv = {attr(CKA_TOKEN, &tok, 1), attr(CKA_ID, id.data(), id.size())};
  CK_OBJECT_HANDLE hpub = 0, hpriv = 0;
  EXPECT_EQ(C_GenerateKeyPair(s, &m, pub.data(), pub.size(), priv.data(), priv.size(), &hpub, &hpriv), CKR_OK);
  return {hpub, hpriv};
}

CK_OBJECT_HANDLE ModuleTest::aes_key(CK_SESSION_HANDLE s, CK_ULONG len, bool extractable, bool token) {
  CK_MECHANISM m{CKM_AES_KEY_GEN, nullptr, 0};
  CK_BBOOL ex = extractable ? CK_TRUE : CK_FALSE, tok = token ? CK_TRUE : CK_FALSE;
  std::vector<CK_ATTRIBUTE> t = {attr(CKA_VALUE_LEN, &len, sizeof len), attr(CKA_EXTRACTABLE, &ex, 1),
                                 attr(CKA_TOKEN, &tok, 1)};
  CK_OBJECT_HANDLE h = 0;
  EXPECT_EQ(C_GenerateKey(s, &m, t.data(), t.size(), &h), CKR_OK);
  return h;
}

std::vector<CK_OBJECT_HANDLE> ModuleTest::find(CK_SESSION_HANDLE s, std::vector<CK_ATTRIBUTE> tmpl) {
  std::vector<CK_OBJECT_HANDLE> out;
  EXPECT_EQ(C_FindObjectsInit(s, tmpl.data(), tmpl.size()), CKR_OK);
  CK_OBJECT_HANDLE buf[16];
  CK_ULONG n = 0;
  do {
    EXPECT_EQ(C_FindObjects(s, buf, 16, &n), CKR_OK);
    out.insert(out.end(), buf, buf + n);
  } while (n == 16);
  EXPECT_EQ(C_FindObjectsFinal(s), CKR_OK);
  return out;
}

std::vector<uint8_t> ModuleTest::get(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t) {
  CK_ATTRIBUTE a{t, nullptr, 0};
  EXPECT_EQ(C_GetAttributeValue(s, o, &a, 1), CKR_OK);
  std::vector<uint8_t> v(a.ulValueLen);
  a.pValue = v.data();
  EXPECT_EQ(C_GetAttributeValue(s, o, &a, 1), CKR_OK);
  return v;
}

std::vector<uint8_t> ModuleTest::sign(CK_SESSION_HANDLE s, CK_MECHANISM m, CK_OBJECT_HANDLE key,
                                      const std::vector<uint8_t>& data) {
  EXPECT_EQ(C_SignInit(s, &m, key), CKR_OK);
  CK_ULONG n = 0;
  EXPECT_EQ(C_Sign(s, (CK_BYTE_PTR)data.data(), data.size(), nullptr, &n), CKR_OK);
  std::vector<uint8_t> sig(n);
  EXPECT_EQ(C_Sign(s, (CK_BYTE_PTR)data.data(), data.size(), sig.data(), &n), CKR_OK);
  sig.resize(n);
  return sig;
}

CK_RV ModuleTest::verify(CK_SESSION_HANDLE s, CK_MECHANISM m, CK_OBJECT_HANDLE key, const std::vector<uint8_t>& data,
                         const std::vector<uint8_t>& sig) {
  EXPECT_EQ(C_VerifyInit(s, &m, key), CKR_OK);
  return C_Verify(s, (CK_BYTE_PTR)data.data(), data.size(), (CK_BYTE_PTR)sig.data(), sig.size());
}

}  // namespace keyseal::test
