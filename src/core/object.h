// An object as core holds it (PKCS#11 3.0 section 4): its attributes, where it lives, and a cache slot for the
// backend's loaded key. Objects are immutable once published; a change makes a new Object (copy on write), so a
// session signing with a key never sees it change under it.
#pragma once
#include "core/attributes.h"

#include <keyseal/pkcs11.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace keyseal::core {

struct Object {
  CK_OBJECT_HANDLE handle = 0;
  int64_t row_id = 0;                 // token objects: store row; session objects: 0
  CK_SESSION_HANDLE owner = 0;        // session objects: the session that created it
  std::string uid;                    // CKA_UNIQUE_ID
  AttributeMap attrs;                 // secret components present only when `secrets_loaded`
  bool secrets_loaded = true;

  CK_OBJECT_CLASS cls() const { return get_ulong(attrs, CKA_CLASS).value_or(CK_UNAVAILABLE_INFORMATION); }
  CK_KEY_TYPE key_type() const { return get_ulong(attrs, CKA_KEY_TYPE).value_or(CK_UNAVAILABLE_INFORMATION); }
  bool is_token() const { return bool_or(attrs, CKA_TOKEN, false); }
  bool is_private() const { return bool_or(attrs, CKA_PRIVATE, false); }
  bool flag(CK_ATTRIBUTE_TYPE t) const { return bool_or(attrs, t, false); }

  // A loaded form of this key (e.g. an EVP_PKEY), built once on first use. Slot `public_slot` is core's
  // public key; `backend_slot` belongs to the backend.
  enum CacheSlot { public_slot = 0, backend_slot = 1 };
  template <class T, class Make>
  std::shared_ptr<const T> cached(CacheSlot slot, Make&& make) const {
    std::lock_guard<std::mutex> g(cache_mu_);
    auto& c = cache_[slot];
    if (!c) c = make();
    return std::static_pointer_cast<const T>(c);
  }

 private:
  mutable std::mutex cache_mu_;
  mutable std::shared_ptr<const void> cache_[2];
};

using ObjectPtr = std::shared_ptr<const Object>;

}  // namespace keyseal::core
