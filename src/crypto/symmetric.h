// Secret-key operations (PKCS#11 3.0 current mechanisms 2.10 AES ECB/CBC/CBC_PAD, 2.11 AES-CTR, 2.12 AES-GCM,
// 2.14 AES key wrap, 4.x SHA-* HMAC), as keyseal::Operation objects plus one-shot key wrapping.
#pragma once
#include "common/mechanism_params.h"
#include "common/operation.h"

#include <memory>

namespace keyseal::crypto {

// CKM_AES_ECB, CKM_AES_CBC (input a multiple of 16 else CKR_DATA_LEN_RANGE / CKR_ENCRYPTED_DATA_LEN_RANGE),
// CKM_AES_CBC_PAD (bad padding: CKR_ENCRYPTED_DATA_INVALID), CKM_AES_CTR (m.iv = 16-byte counter block,
// m.counter_bits; running past the counter: CKR_DATA_LEN_RANGE), CKM_AES_GCM (m.iv, m.aad, m.tag_bits;
// decryption buffers its input and checks the tag in finish(): CKR_ENCRYPTED_DATA_INVALID).
// key: 16, 24 or 32 bytes else CKR_KEY_SIZE_RANGE. Bad IV / parameters: CKR_MECHANISM_PARAM_INVALID.
// output_size / transform_size / finish_size are exact or upper bounds.
std::unique_ptr<Operation> make_aes_cipher(bool encrypt, ByteView key, const MechanismParams& m);

// An AES key prepared for repeated use: keyed cipher contexts (key schedule, GCM hash key) per mode and
// direction are kept in a small pool; an operation takes one, sets only its IV, and gives it back when it
// completed normally (as `openssl speed -aead` re-initialises only the IV). Thread-safe: the pool is locked,
// a context is used by one operation at a time. key: 16, 24 or 32 bytes else CKR_KEY_SIZE_RANGE.
class AesKey {
 public:
  struct State;
  explicit AesKey(ByteView key);
  ~AesKey();
  AesKey(const AesKey&) = delete;
  AesKey& operator=(const AesKey&) = delete;
  const std::shared_ptr<State>& state() const { return s_; }

 private:
  std::shared_ptr<State> s_;
};
// Same mechanisms, parameters and errors as the overload above. The operation may outlive `key`.
std::unique_ptr<Operation> make_aes_cipher(bool encrypt, const AesKey& key, const MechanismParams& m);

// RFC 3394 (CKM_AES_KEY_WRAP, data a multiple of 8 and >= 16 bytes) / RFC 5649 (CKM_AES_KEY_WRAP_PAD).
SecureBytes aes_key_wrap(ByteView kek, ByteView data, bool pad);
// Integrity failure: CKR_WRAPPED_KEY_INVALID; impossible length: CKR_WRAPPED_KEY_LEN_RANGE.
SecureBytes aes_key_unwrap(ByteView kek, ByteView wrapped, bool pad);

// CKM_SHA_1_HMAC, CKM_SHA224_HMAC ... CKM_SHA512_HMAC. verify == true: verify()/verify_finish()
// (wrong length: CKR_SIGNATURE_LEN_RANGE, mismatch: CKR_SIGNATURE_INVALID).
std::unique_ptr<Operation> make_hmac(CK_MECHANISM_TYPE m, ByteView key, bool verify);

}  // namespace keyseal::crypto
