// The Backend interface: what a token kind (soft, TPM) contributes. Core owns objects, sessions and policy; a
// backend owns the token's secrets: the master key behind the PINs, key generation, and every operation that
// needs a private or secret key. Public-key operations and digests run in crypto/ for every backend.
#pragma once
#include "common/mechanism_params.h"
#include "common/operation.h"
#include "core/object.h"

#include <keyseal/pkcs11.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace keyseal::store {
class TokenDb;
}

namespace keyseal::core {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view kind() const = 0;  // "soft", "tpm"
  // Mechanisms it can perform with the keys it holds; the mechanism table is intersected with this.
  virtual bool supports(CK_MECHANISM_TYPE mechanism) const = 0;
  // Narrows the table's C_GetMechanismInfo answer to what this backend can do (e.g. the largest RSA key a
  // TPM makes). Default: the table's answer.
  virtual void limit_mechanism_info(CK_MECHANISM_TYPE mechanism, CK_MECHANISM_INFO& info) const {
    (void)mechanism, (void)info;
  }

  // PINs (section 5.6). The token's master key is created at C_InitToken and kept wrapped under each PIN.
  // unlock() returns it or throws CKR_PIN_INCORRECT. `pin_limit` is the token's retry limit, fixed at
  // C_InitToken (core keeps it in the token, authenticated); a backend that counts in hardware uses it there.
  virtual SecureBytes create_master_key(store::TokenDb& db, ByteView so_pin, uint32_t pin_limit) = 0;
  // Who counts wrong PINs. nullopt (the default): core counts them in the store, before unlock() is called,
  // and resets the count after a right PIN. A backend whose hardware counts them for this token alone (a TPM
  // PIN-fail NV index) returns that count and limit instead; core then neither counts nor resets, takes the
  // token-info flags from this answer, and unlock() throws CKR_PIN_INCORRECT or CKR_PIN_LOCKED as the
  // hardware decides. set_pin(CKU_USER) by the SO (C_InitPIN) resets the user's count.
  struct PinCounter {
    uint32_t failures = 0;
    uint32_t limit = 0;
  };
  virtual std::optional<PinCounter> pin_counter(store::TokenDb& db, CK_USER_TYPE who) {
    (void)db, (void)who;
    return std::nullopt;
  }
  virtual SecureBytes unlock(store::TokenDb& db, CK_USER_TYPE who, ByteView pin) = 0;
  virtual void set_pin(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin) = 0;
  virtual bool has_pin(store::TokenDb& db, CK_USER_TYPE who) = 0;
  virtual void remove_pin(store::TokenDb& db, CK_USER_TYPE who) = 0;
  // After a successful unlock: a chance to upgrade the token's records (e.g. re-seal under a newer scheme,
  // re-enrol a changed fingerprint). Default: nothing.
  virtual void after_unlock(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin) {
    (void)db, (void)who, (void)master_key, (void)pin;
  }
  // Token-info fields the backend knows better than core (manufacturerID, model, hardware and firmware
  // versions, extra flags). Called after core has filled the rest. Default: nothing.
  virtual void fill_token_info(store::TokenDb& db, CK_TOKEN_INFO& info) { (void)db, (void)info; }

  // Key generation (section 5.14): the maps hold the caller's checked templates; the backend adds the key
  // material: public values to both maps, secret components to the private/secret map.
  virtual void generate_key_pair(const MechanismParams& m, AttributeMap& pub, AttributeMap& priv) = 0;
  virtual void generate_key(const MechanismParams& m, AttributeMap& key) = 0;
  // A key arriving from outside (C_CreateObject, C_UnwrapKey, C_DeriveKey): check its values and complete
  // what can be computed (e.g. the EC public point of an imported private key).
  virtual void import_key(AttributeMap& key) = 0;

  // Operations with a private or secret key (sections 5.8 to 5.13).
  virtual std::unique_ptr<Operation> sign(const Object& key, const MechanismParams& m) = 0;
  virtual std::unique_ptr<Operation> verify(const Object& key, const MechanismParams& m) = 0;  // secret keys (HMAC)
  virtual std::unique_ptr<Operation> encrypt(const Object& key, const MechanismParams& m) = 0; // secret keys
  virtual std::unique_ptr<Operation> decrypt(const Object& key, const MechanismParams& m) = 0;
  virtual SecureBytes derive(const Object& key, const MechanismParams& m) = 0;  // ECDH: the shared secret
  // The clear value of a key for wrapping (only called after the policy allowed it) and a key's value from
  // a wrapped blob.
  virtual SecureBytes wrap(const Object& wrapping_key, const MechanismParams& m, ByteView key_value) = 0;
  virtual SecureBytes unwrap(const Object& unwrapping_key, const MechanismParams& m, ByteView wrapped) = 0;

  // keyseal's vendor attributes that the backend computes for an object (CKA_KEYSEAL_TPM_PUBLIC,
  // CKA_KEYSEAL_ATTESTATION: include/keyseal/pkcs11.h). `nonce` is the session's attestation nonce. nullopt:
  // the object has no such attribute (the default).
  virtual std::optional<SecureBytes> vendor_attribute(const Object& key, CK_ATTRIBUTE_TYPE type, ByteView nonce) {
    (void)key, (void)type, (void)nonce;
    return std::nullopt;
  }

  // An object is gone: destroyed (C_DestroyObject), a session object dropped (its session closed, a logout,
  // C_Finalize), or every object of a re-initialised token. The backend frees what it keeps for the key
  // outside the store (a persisted PCP key). Called after the store change committed, with the object's
  // attributes as the token held them; a failure is logged and the object stays gone. Default: nothing (keys
  // whose whole state is in their record).
  virtual void destroy_key(const AttributeMap& attrs) { (void)attrs; }
};

}  // namespace keyseal::core
