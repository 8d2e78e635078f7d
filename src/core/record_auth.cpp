// Keys and tags of authenticated token records (see record_auth.h). HKDF-SHA256 separates the sealing and
// the tagging key from the master key; HMAC-SHA256 makes the tags; fields are length-prefixed so no two
// different inputs share an encoding.
#include "core/record_auth.h"

#include "core/attribute_policy.h"
#include "crypto/aead.h"
#include "crypto/kdf.h"
#include "store/attribute_codec.h"

#include <cstring>
#include <initializer_list>

namespace keyseal::core {
namespace {

// HMAC-SHA256 under the tag key over length-prefixed fields, so no two field lists share an encoding.
SecureBytes tag_over(const RecordKeys& k, std::initializer_list<ByteView> fields) {
  require(k.authenticated(), CKR_GENERAL_ERROR, "tag without a tagging key");
  SecureBytes msg;
  for (ByteView f : fields) {
    const uint64_t n = f.size();
    for (int i = 7; i >= 0; --i) msg.push_back(static_cast<uint8_t>(n >> (8 * i)));
    msg.insert(msg.end(), f.begin(), f.end());
  }
  return crypto::hmac_sha256(view(k.mac), view(msg));
}

// Associated data binding a sealed value to its object and attribute.
SecureBytes aad_for(const std::string& uid, CK_ATTRIBUTE_TYPE type) {
  SecureBytes a(uid.begin(), uid.end());
  for (int i = 7; i >= 0; --i) a.push_back(static_cast<uint8_t>(static_cast<uint64_t>(type) >> (8 * i)));
  return a;
}


}  // namespace

void RecordKeys::wipe() {
  secure_wipe(seal.data(), seal.size());
  secure_wipe(mac.data(), mac.size());
  seal.clear();
  mac.clear();
}

RecordKeys derive_record_keys(ByteView master_key, std::string_view token_uid, bool authenticated) {
  RecordKeys k;
  if (!authenticated) {
    k.seal = SecureBytes(master_key.begin(), master_key.end());
    return k;
  }
  const std::string salt = "keyseal/token/" + std::string(token_uid);
  k.seal = crypto::hkdf_sha256(master_key, view(salt), view("record-seal/v2"), 32);
  k.mac = crypto::hkdf_sha256(master_key, view(salt), view("record-mac/v2"), 32);
  return k;
}

SecureBytes record_tag(const RecordKeys& k, std::string_view token_uid, std::string_view object_uid,
                       ByteView encoded_attrs) {
  return tag_over(k, {view("keyseal/object-record/v2"), view(token_uid), view(object_uid), encoded_attrs});
}

SecureBytes settings_tag(const RecordKeys& k, std::string_view token_uid, uint32_t pin_limit) {
  return tag_over(k, {view("keyseal/token-settings/v2"), view(token_uid), view(kRecordFormatAuthenticated),
                     view(std::to_string(pin_limit))});
}

namespace {

bool same_columns(const store::ObjectRow& a, const store::ObjectRow& b) {
  return a.uid == b.uid && a.cls == b.cls && a.key_type == b.key_type && a.is_private == b.is_private &&
         equal_bytes(view(a.ckaid), view(b.ckaid)) && a.label == b.label;
}

}  // namespace

// The store's search columns of an object: copies of attributes, so they are checked against the
// (authenticated) attributes whenever a record is decoded.
store::ObjectRow record_columns(const AttributeMap& attrs, const std::string& uid) {
  store::ObjectRow row;
  row.uid = uid;
  row.cls = get_ulong(attrs, CKA_CLASS).value_or(CK_UNAVAILABLE_INFORMATION);
  if (auto kt = get_ulong(attrs, CKA_KEY_TYPE)) row.key_type = *kt;
  else if (auto ct = get_ulong(attrs, CKA_CERTIFICATE_TYPE)) row.key_type = *ct;
  row.is_private = bool_or(attrs, CKA_PRIVATE, false);
  if (auto* id = get_bytes(attrs, CKA_ID)) row.ckaid = *id;
  if (auto* l = get_bytes(attrs, CKA_LABEL)) row.label.assign(l->begin(), l->end());
  return row;
}

SecureBytes encode_record(const RecordKeys& keys, std::string_view token_uid, const std::string& object_uid,
                          const AttributeMap& attrs) {
  const CK_OBJECT_CLASS cls = get_ulong(attrs, CKA_CLASS).value_or(CK_UNAVAILABLE_INFORMATION);
  std::vector<store::StoredAttribute> out;
  out.reserve(attrs.size() + 1);
  for (const auto& [type, value] : attrs) {
    if (is_secret_component(cls, type)) {
      require(!keys.seal.empty(), CKR_USER_NOT_LOGGED_IN, "storing secret key material needs a login");
      out.push_back({type, true, crypto::seal_aes256gcm(view(keys.seal), view(aad_for(object_uid, type)), view(value))});
    } else {
      out.push_back({type, false, value});
    }
  }
  if (!keys.authenticated()) return store::encode_attributes(out);
  SecureBytes tag = record_tag(keys, token_uid, object_uid, view(store::encode_attributes(out)));
  out.push_back({kRecordTagAttr, false, std::move(tag)});
  return store::encode_attributes(out);
}

DecodedRecord decode_record(const RecordKeys& keys, std::string_view token_uid, const store::ObjectRow& row) {
  const std::string where = "object " + std::to_string(row.id) + ": ";
  std::vector<store::StoredAttribute> stored = store::decode_attributes(view(row.attrs));
  SecureBytes tag;
  bool tagged = false;
  std::erase_if(stored, [&](store::StoredAttribute& a) {
    if (a.type != kRecordTagAttr) return false;
    tag = std::move(a.value);
    tagged = true;
    return true;
  });
  DecodedRecord d;
  d.tagged = tagged;
  if (keys.authenticated()) {
    // Logged in: the record must carry the tag made under this token's key, over everything it stores.
    if (!tagged) fail(CKR_DEVICE_ERROR, where + "record is not authenticated (added or changed outside keyseal)");
    const SecureBytes want = record_tag(keys, token_uid, row.uid, view(store::encode_attributes(stored)));
    if (!equal_constant_time(view(want), view(tag)))
      fail(CKR_DEVICE_ERROR, where + "record does not verify (changed outside keyseal, or moved from another "
                                     "object or token)");
  }
  CK_OBJECT_CLASS cls = CK_UNAVAILABLE_INFORMATION;
  for (const auto& a : stored)
    if (a.type == CKA_CLASS && a.value.size() == sizeof(CK_ULONG) && !a.encrypted)
      std::memcpy(&cls, a.value.data(), sizeof cls);
  for (auto& a : stored) {
    // A secret component is only ever stored sealed, and nothing else is: a plaintext "secret" is a value
    // someone put there who did not have the key.
    if (a.encrypted != is_secret_component(cls, a.type))
      fail(CKR_DEVICE_ERROR, where + (a.encrypted ? "a public attribute is stored sealed"
                                                  : "a secret component is stored unsealed"));
    if (!a.encrypted) {
      d.attrs[a.type] = std::move(a.value);
    } else if (!keys.seal.empty()) {
      try {
        d.attrs[a.type] = crypto::open_aes256gcm(view(keys.seal), view(aad_for(row.uid, a.type)), view(a.value));
      } catch (const Error&) {
        fail(CKR_DEVICE_ERROR, where + "a sealed attribute does not open (tampered, or moved from another object)");
      }
    } else {
      d.secrets_loaded = false;
    }
  }
  if (!same_columns(record_columns(d.attrs, row.uid), row))
    fail(CKR_DEVICE_ERROR, where + "search columns disagree with the record");
  if (const SecureBytes* u = get_bytes(d.attrs, CKA_UNIQUE_ID); !u || std::string(u->begin(), u->end()) != row.uid)
    fail(CKR_DEVICE_ERROR, where + "unique id disagrees with the record");
  return d;
}

}  // namespace keyseal::core
