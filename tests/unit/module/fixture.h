// Test fixture for module tests: a fresh store directory and config per test, the module initialised, one
// token in slot 0 with SO PIN and user PIN set, and helpers for the calls tests repeat.
#pragma once
#include <gtest/gtest.h>
#include <keyseal/pkcs11.h>

#include <string>
#include <vector>

namespace keyseal::test {

inline constexpr char kSoPin[] = "so-secret-1";
inline constexpr char kUserPin[] = "user-secret-1";
inline constexpr CK_ULONG kMaxTries = 3;

std::vector<uint8_t> bytes_of(const std::string& s);
CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE t, const void* v, CK_ULONG n);

class ModuleTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Module lifecycle within a test.
  void reinitialize();
  CK_SESSION_HANDLE open(bool rw = true);
  void login_user(CK_SESSION_HANDLE s);
  CK_FLAGS token_flags();

  // Keys.
  std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE> ec_pair(CK_SESSION_HANDLE s, bool token, const std::string& id,
                                                        const std::vector<uint8_t>& params);
  std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE> rsa_pair(CK_SESSION_HANDLE s, bool token, const std::string& id);
  CK_OBJECT_HANDLE aes_key(CK_SESSION_HANDLE s, CK_ULONG len, bool extractable, bool token = false);
  std::vector<CK_OBJECT_HANDLE> find(CK_SESSION_HANDLE s, std::vector<CK_ATTRIBUTE> tmpl);
  std::vector<uint8_t> get(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t);
  std::vector<uint8_t> sign(CK_SESSION_HANDLE s, CK_MECHANISM m, CK_OBJECT_HANDLE key, const std::vector<uint8_t>& data);
  CK_RV verify(CK_SESSION_HANDLE s, CK_MECHANISM m, CK_OBJECT_HANDLE key, const std::vector<uint8_t>& data,
               const std::vector<uint8_t>& sig);

  std::string dir_;
  CK_SLOT_ID slot_ = 0;
};

extern const std::vector<uint8_t> kP256;  // CKA_EC_PARAMS of prime256v1
extern const std::vector<uint8_t> kP384;

}  // namespace keyseal::test
