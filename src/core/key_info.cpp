// Key sizes and loaded public keys for core's checks and public-key operations.
#include "core/key_info.h"

#include "common/error.h"

namespace keyseal::core {

CK_ULONG rsa_modulus_bits(ByteView n) {
  size_t i = 0;
  while (i < n.size() && n[i] == 0) ++i;
  if (i == n.size()) return 0;
  CK_ULONG bits = (n.size() - i) * 8;
  for (uint8_t top = n[i]; !(top & 0x80); top <<= 1) --bits;
  return bits;
}

CK_ULONG key_size(const Object& key) {
  switch (key.key_type()) {
    case CKK_RSA: {
      const SecureBytes* n = get_bytes(key.attrs, CKA_MODULUS);
      return n ? rsa_modulus_bits(view(*n)) : 0;
    }
    case CKK_EC: {
      const SecureBytes* p = get_bytes(key.attrs, CKA_EC_PARAMS);
      return p ? crypto::ec_params_bits(view(*p)) : 0;
    }
    case CKK_EC_EDWARDS: {
      const SecureBytes* p = get_bytes(key.attrs, CKA_EC_PARAMS);
      return p ? crypto::ec_params_bits(view(*p)) : 0;  // 255 or 448
    }
    default: {
      if (const SecureBytes* v = get_bytes(key.attrs, CKA_VALUE)) return v->size();
      return get_ulong(key.attrs, CKA_VALUE_LEN).value_or(0);
    }
  }
}

const crypto::PKey& public_pkey(const Object& key) {
  auto p = key.cached<crypto::PKey>(Object::public_slot, [&]() -> std::shared_ptr<const void> {
    const auto* params = get_bytes(key.attrs, CKA_EC_PARAMS);
    switch (key.key_type()) {
      case CKK_RSA: {
        const auto* n = get_bytes(key.attrs, CKA_MODULUS);
        const auto* e = get_bytes(key.attrs, CKA_PUBLIC_EXPONENT);
        require(n && e, CKR_KEY_HANDLE_INVALID, "RSA key without modulus or exponent");
        return std::make_shared<crypto::PKey>(crypto::rsa_public_key(view(*n), view(*e)));
      }
      case CKK_EC:
      case CKK_EC_EDWARDS: {
        const auto* pt = get_bytes(key.attrs, CKA_EC_POINT);
        require(params && pt, CKR_KEY_HANDLE_INVALID, "EC key without parameters or point");
        return std::make_shared<crypto::PKey>(crypto::ec_public_key(view(*params), view(*pt)));
      }
      default:
        fail(CKR_KEY_TYPE_INCONSISTENT, "not a public key");
    }
  });
  return *p;
}

}  // namespace keyseal::core
