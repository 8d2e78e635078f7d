// The error paths of chapter 5 (PKCS#11 3.0 sections 5.1-5.2 and each function's return values): NULL arguments,
// wrong and stale handles, wrong operation state, the output buffer convention, and which errors end operations.
#include "harness.h"
#include "keys.h"
#include "ops.h"

namespace keyseal::conformance {
namespace {

class ErrorPaths : public P11Test {
 protected:
  CK_OBJECT_HANDLE aes() {
    if (!has_mechanism(CKM_AES_CBC) || !has_mechanism(CKM_AES_KEY_GEN)) return CK_INVALID_HANDLE;
    auto k = aes_key(16);
    return k.rv == CKR_OK ? k.h : CK_INVALID_HANDLE;
  }
  // A signing key pair: RSA when the module has it, else EC; the mechanism to use with it.
  bool signer(KeyPair& kp, CK_MECHANISM_TYPE& mech) {
    if (has_mechanism(CKM_SHA256_RSA_PKCS) && has_mechanism(CKM_RSA_PKCS_KEY_PAIR_GEN)) {
      kp = rsa_key_pair();
      mech = CKM_SHA256_RSA_PKCS;
    } else if (has_mechanism(CKM_ECDSA) && has_mechanism(CKM_EC_KEY_PAIR_GEN)) {
      kp = ec_key_pair(curves()[0]);
      mech = CKM_ECDSA;
    } else {
      return false;
    }
    return kp.rv == CKR_OK;
  }
  bool is_v3() {
    CK_INFO info;
    return p11()->C_GetInfo(&info) == CKR_OK && info.cryptokiVersion.major >= 3;
  }
};

TEST_F(ErrorPaths, NullArgumentsAreArgumentsBad) {
  CK_OBJECT_HANDLE h;
  CK_ULONG n;
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_DigestInit(session_, nullptr));
  Template t;
  t.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, false);
  CK_OBJECT_HANDLE obj;
  ASSERT_OK(p11()->C_CreateObject(session_, t.data(), t.size(), &obj));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_GetAttributeValue(session_, obj, nullptr, 1));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_SetAttributeValue(session_, obj, nullptr, 1));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_CreateObject(session_, t.data(), t.size(), nullptr));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_GenerateKey(session_, nullptr, t.data(), t.size(), &h));
  CK_MECHANISM m{CKM_SHA256, nullptr, 0};
  ASSERT_OK(p11()->C_DigestInit(session_, &m));
  Bytes in{1, 2, 3};
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_Digest(session_, in.data(), in.size(), nullptr, nullptr));
  p11()->C_DigestFinal(session_, nullptr, &n);  // may or may not still be active; clean up below
  Bytes out(64);
  n = out.size();
  p11()->C_DigestFinal(session_, out.data(), &n);
}

TEST_F(ErrorPaths, NullOutputLengthIsArgumentsBad) {
  auto k = aes();
  if (k == CK_INVALID_HANDLE) GTEST_SKIP() << "needs CKM_AES_CBC";
  Bytes iv(16), block(16), out(64);
  Mech m(CKM_AES_CBC, iv);
  ASSERT_OK(p11()->C_EncryptInit(session_, m.ptr(), k));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_Encrypt(session_, block.data(), block.size(), out.data(), nullptr));
  p11()->C_EncryptInit(session_, m.ptr(), k);  // whether or not the error ended it, start afresh
  CK_ULONG n = out.size();
  p11()->C_Encrypt(session_, block.data(), block.size(), out.data(), &n);
  ASSERT_OK(p11()->C_DecryptInit(session_, m.ptr(), k));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_Decrypt(session_, block.data(), block.size(), out.data(), nullptr));
  CK_MECHANISM gen{CKM_AES_KEY_GEN, nullptr, 0};
  Template t;
  t.add(CKA_TOKEN, false).add_ulong(CKA_VALUE_LEN, 16);
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_GenerateKey(session_, &gen, t.data(), t.size(), nullptr));
  std::string pin = config().pin;
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_SetPIN(session_, nullptr, 4, (CK_UTF8CHAR_PTR)pin.data(), pin.size()));
}

TEST_F(ErrorPaths, InitWithNullMechanismIsArgumentsBad) {
  auto k = aes();
  if (k == CK_INVALID_HANDLE) GTEST_SKIP() << "needs CKM_AES_CBC";
  // PKCS#11 3.0 lets C_EncryptInit(NULL) cancel an active operation; without one it is CKR_ARGUMENTS_BAD (2.40)
  // or CKR_OK (3.0: nothing to cancel). Either way it must not crash or leave an operation active.
  CK_RV rv = p11()->C_EncryptInit(session_, nullptr, k);
  if (is_v3()) {
    EXPECT_CKR_IN(({CKR_OK, CKR_ARGUMENTS_BAD, CKR_OPERATION_NOT_INITIALIZED}), rv);
  } else {
    EXPECT_CKR(CKR_ARGUMENTS_BAD, rv);
  }
}

TEST_F(ErrorPaths, StaleSessionHandle) {
  CK_SESSION_HANDLE s;
  ASSERT_OK(p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s));
  ASSERT_OK(p11()->C_CloseSession(s));
  CK_MECHANISM m{CKM_SHA256, nullptr, 0};
  Bytes buf(16);
  CK_OBJECT_HANDLE h;
  Template t;
  t.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, false);
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, p11()->C_DigestInit(s, &m));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, p11()->C_GenerateRandom(s, buf.data(), buf.size()));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, p11()->C_CreateObject(s, t.data(), t.size(), &h));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, p11()->C_FindObjectsInit(s, t.data(), t.size()));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, p11()->C_Logout(s));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, p11()->C_SignInit(s, &m, 1));
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, p11()->C_CloseSession(CK_INVALID_HANDLE));
}

TEST_F(ErrorPaths, StaleObjectHandle) {
  Template t;
  t.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, false);
  CK_OBJECT_HANDLE h, c;
  ASSERT_OK(p11()->C_CreateObject(session_, t.data(), t.size(), &h));
  ASSERT_OK(p11()->C_DestroyObject(session_, h));
  CK_ATTRIBUTE a{CKA_CLASS, nullptr, 0};
  EXPECT_CKR(CKR_OBJECT_HANDLE_INVALID, p11()->C_GetAttributeValue(session_, h, &a, 1));
  EXPECT_CKR(CKR_OBJECT_HANDLE_INVALID, p11()->C_SetAttributeValue(session_, h, t.data(), t.size()));
  EXPECT_CKR(CKR_OBJECT_HANDLE_INVALID, p11()->C_CopyObject(session_, h, t.data(), t.size(), &c));
  EXPECT_CKR(CKR_OBJECT_HANDLE_INVALID, p11()->C_GetAttributeValue(session_, CK_INVALID_HANDLE, &a, 1));
}

TEST_F(ErrorPaths, StaleKeyHandle) {
  auto k = generate_aes(session_, 16);
  if (k.rv == CKR_MECHANISM_INVALID) GTEST_SKIP() << "needs CKM_AES_KEY_GEN";
  ASSERT_OK(k.rv);
  ASSERT_OK(p11()->C_DestroyObject(session_, k.h));
  Bytes iv(16);
  Mech m(CKM_AES_CBC, iv);
  EXPECT_CKR(CKR_KEY_HANDLE_INVALID, p11()->C_EncryptInit(session_, m.ptr(), k.h));
  EXPECT_CKR(CKR_KEY_HANDLE_INVALID, p11()->C_DecryptInit(session_, m.ptr(), k.h));
}

TEST_F(ErrorPaths, OperationNotInitialized) {
  Bytes in(16), out(256);
  CK_ULONG n = out.size();
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, p11()->C_Encrypt(session_, in.data(), in.size(), out.data(), &n));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, p11()->C_Decrypt(session_, in.data(), in.size(), out.data(), &n));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, p11()->C_Sign(session_, in.data(), in.size(), out.data(), &n));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, p11()->C_Verify(session_, in.data(), in.size(), out.data(), 16));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, p11()->C_Digest(session_, in.data(), in.size(), out.data(), &n));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, p11()->C_DigestUpdate(session_, in.data(), in.size()));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, p11()->C_SignUpdate(session_, in.data(), in.size()));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, p11()->C_EncryptFinal(session_, out.data(), &n));
}

TEST_F(ErrorPaths, OperationActive) {
  CK_MECHANISM m{CKM_SHA256, nullptr, 0};
  ASSERT_OK(p11()->C_DigestInit(session_, &m));
  EXPECT_CKR(CKR_OPERATION_ACTIVE, p11()->C_DigestInit(session_, &m));
  Bytes out(32);
  CK_ULONG n = out.size();
  Bytes in{1};
  EXPECT_OK(p11()->C_Digest(session_, in.data(), in.size(), out.data(), &n)) << "the first operation is intact";
}

TEST_F(ErrorPaths, MechanismAndKeyChecks) {
  KeyPair kp;
  CK_MECHANISM_TYPE mech;
  if (!signer(kp, mech)) GTEST_SKIP() << "needs an RSA or EC signing mechanism";
  auto s = session_;
  CK_MECHANISM bogus{CKM_VENDOR_DEFINED + 0x4242, nullptr, 0};
  EXPECT_CKR(CKR_MECHANISM_INVALID, p11()->C_SignInit(s, &bogus, kp.priv));
  Mech m(mech);
  // A public key has no CKA_SIGN at all: the specification's wording fits both codes.
  EXPECT_CKR_IN(({CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_KEY_TYPE_INCONSISTENT}), p11()->C_SignInit(s, m.ptr(), kp.pub));
  auto k = aes();
  if (k != CK_INVALID_HANDLE) {
    EXPECT_CKR(CKR_KEY_TYPE_INCONSISTENT, p11()->C_SignInit(s, m.ptr(), k));
  }
}

TEST_F(ErrorPaths, KeyFunctionNotPermitted) {
  auto k = generate_aes(session_, 16, Template().add(CKA_ENCRYPT, false));
  if (k.rv == CKR_MECHANISM_INVALID || !has_mechanism(CKM_AES_CBC)) GTEST_SKIP() << "needs AES";
  ASSERT_OK(k.rv);
  Bytes iv(16);
  Mech m(CKM_AES_CBC, iv);
  EXPECT_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED, p11()->C_EncryptInit(session_, m.ptr(), k.h));
}

TEST_F(ErrorPaths, SignFalseIsKeyFunctionNotPermitted) {
  if (!has_mechanism(CKM_EC_KEY_PAIR_GEN) || !has_mechanism(CKM_ECDSA)) GTEST_SKIP() << "needs ECDSA";
  auto kp = generate_ec(session_, curves()[0].params, Template().add(CKA_SIGN, false));
  ASSERT_OK(kp.rv);
  Mech m(CKM_ECDSA);
  EXPECT_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED, p11()->C_SignInit(session_, m.ptr(), kp.priv));
}

TEST_F(ErrorPaths, MechanismParamInvalid) {
  auto k = aes();
  if (k == CK_INVALID_HANDLE) GTEST_SKIP() << "needs CKM_AES_CBC";
  Bytes short_iv(5);
  Mech m(CKM_AES_CBC, short_iv);
  EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, p11()->C_EncryptInit(session_, m.ptr(), k));
}

TEST_F(ErrorPaths, DataLenRangeEndsOperation) {
  auto k = aes();
  if (k == CK_INVALID_HANDLE) GTEST_SKIP() << "needs CKM_AES_CBC";
  auto s = session_;
  Bytes iv(16), in(15), out(64);
  Mech m(CKM_AES_CBC, iv);
  ASSERT_OK(p11()->C_EncryptInit(s, m.ptr(), k));
  CK_ULONG n = out.size();
  EXPECT_CKR(CKR_DATA_LEN_RANGE, p11()->C_Encrypt(s, in.data(), in.size(), out.data(), &n));
  Bytes block(16);
  n = out.size();
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, p11()->C_Encrypt(s, block.data(), block.size(), out.data(), &n))
      << "section 5.8: an error other than CKR_BUFFER_TOO_SMALL ends the operation";
}

TEST_F(ErrorPaths, SignBufferConvention) {
  KeyPair kp;
  CK_MECHANISM_TYPE mech;
  if (!signer(kp, mech)) GTEST_SKIP() << "needs an RSA or EC signing mechanism";
  auto s = session_;
  Mech m(mech);
  Bytes data(32, 0x61);
  ASSERT_OK(p11()->C_SignInit(s, m.ptr(), kp.priv));
  CK_ULONG len = 0;
  ASSERT_OK(p11()->C_Sign(s, data.data(), data.size(), nullptr, &len));
  ASSERT_GT(len, 1u);
  Bytes small(len - 1);
  CK_ULONG small_len = small.size();
  EXPECT_CKR(CKR_BUFFER_TOO_SMALL, p11()->C_Sign(s, data.data(), data.size(), small.data(), &small_len));
  EXPECT_EQ(small_len, len) << "CKR_BUFFER_TOO_SMALL reports the needed length";
  Bytes big(len + 64);
  CK_ULONG big_len = big.size();
  ASSERT_OK(p11()->C_Sign(s, data.data(), data.size(), big.data(), &big_len))
      << "CKR_BUFFER_TOO_SMALL must not end the operation";
  EXPECT_EQ(big_len, len) << "a larger buffer than needed returns the true length";
  big.resize(big_len);
  EXPECT_OK(verify(s, Mech(mech), kp.pub, data, big));
  CK_ULONG again = big.size();
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, p11()->C_Sign(s, data.data(), data.size(), big.data(), &again))
      << "a successful C_Sign ends the operation";
}

TEST_F(ErrorPaths, SignFinalBufferConvention) {
  if (!has_mechanism(CKM_SHA256_RSA_PKCS) && !has_mechanism(CKM_ECDSA_SHA256)) GTEST_SKIP() << "needs a hash-and-sign mechanism";
  KeyPair kp;
  CK_MECHANISM_TYPE mech = CKM_SHA256_RSA_PKCS;
  if (has_mechanism(CKM_SHA256_RSA_PKCS) && has_mechanism(CKM_RSA_PKCS_KEY_PAIR_GEN)) {
    kp = rsa_key_pair();
  } else {
    mech = CKM_ECDSA_SHA256;
    kp = ec_key_pair(curves()[0]);
  }
  ASSERT_OK(kp.rv);
  Mech m(mech);
  Bytes part(100, 0x41);
  ASSERT_OK(p11()->C_SignInit(session_, m.ptr(), kp.priv));
  ASSERT_OK(p11()->C_SignUpdate(session_, part.data(), part.size()));
  CK_ULONG len = 0;
  ASSERT_OK(p11()->C_SignFinal(session_, nullptr, &len));
  Bytes small(len - 1);
  CK_ULONG small_len = small.size();
  EXPECT_CKR(CKR_BUFFER_TOO_SMALL, p11()->C_SignFinal(session_, small.data(), &small_len));
  EXPECT_EQ(small_len, len);
  Bytes sig(len + 8);
  CK_ULONG sig_len = sig.size();
  ASSERT_OK(p11()->C_SignFinal(session_, sig.data(), &sig_len)) << "CKR_BUFFER_TOO_SMALL must not end the operation";
  EXPECT_EQ(sig_len, len);
  sig.resize(sig_len);
  EXPECT_OK(verify(session_, Mech(mech), kp.pub, part, sig));
  CK_ULONG again = sig.size();
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, p11()->C_SignFinal(session_, sig.data(), &again));
}

TEST_F(ErrorPaths, SignatureInvalidEndsVerify) {
  KeyPair kp;
  CK_MECHANISM_TYPE mech;
  if (!signer(kp, mech)) GTEST_SKIP() << "needs an RSA or EC signing mechanism";
  auto s = session_;
  Bytes data(32, 0x62), sig;
  ASSERT_OK(sign(s, Mech(mech), kp.priv, data, sig));
  sig[4] ^= 0x10;
  Mech m(mech);
  ASSERT_OK(p11()->C_VerifyInit(s, m.ptr(), kp.pub));
  EXPECT_CKR(CKR_SIGNATURE_INVALID, p11()->C_Verify(s, data.data(), data.size(), sig.data(), sig.size()));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, p11()->C_Verify(s, data.data(), data.size(), sig.data(), sig.size()))
      << "C_Verify always ends the operation";
}

TEST_F(ErrorPaths, PrivateKeyUnusableAfterLogout) {
  KeyPair kp;
  CK_MECHANISM_TYPE mech;
  if (!signer(kp, mech)) GTEST_SKIP() << "needs an RSA or EC signing mechanism";
  ASSERT_OK(p11()->C_Logout(session_));
  Mech m(mech);
  // Section 5.6 C_Logout: handles to private objects become invalid, private session objects are destroyed.
  EXPECT_CKR_IN(({CKR_KEY_HANDLE_INVALID, CKR_USER_NOT_LOGGED_IN}), p11()->C_SignInit(session_, m.ptr(), kp.priv));
  ASSERT_OK(login_user(session_));
  EXPECT_CKR(CKR_KEY_HANDLE_INVALID, p11()->C_SignInit(session_, m.ptr(), kp.priv))
      << "the handle stays invalid after logging in again";
}

TEST_F(ErrorPaths, NullMechanismCancelsOperationV3) {
  if (!is_v3()) GTEST_SKIP() << "operation cancel by NULL mechanism is PKCS#11 3.0; module is 2.x";
  CK_MECHANISM m{CKM_SHA256, nullptr, 0};
  ASSERT_OK(p11()->C_DigestInit(session_, &m));
  EXPECT_OK(p11()->C_DigestInit(session_, nullptr)) << "3.0 section 5.11: NULL mechanism ends the operation";
  EXPECT_OK(p11()->C_DigestInit(session_, &m));
  Bytes in{1}, out(32);
  CK_ULONG n = out.size();
  EXPECT_OK(p11()->C_Digest(session_, in.data(), in.size(), out.data(), &n));
}

}  // namespace
}  // namespace keyseal::conformance
