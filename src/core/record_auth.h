// Authentication of a token's stored records (issue 11, docs/security.md "What a write to the store can do"):
// every object record (all its attributes, its unique id, the token's identity) and the token's own settings
// (the PIN retry limit) carry an HMAC-SHA256 tag under a key derived from the token master key, and secret
// components are sealed under a second derived key. A token from before record authentication ("format 1":
// sealed under the master key itself, no tags) is upgraded at its next login.
#pragma once
#include "common/secure_bytes.h"
#include "core/attributes.h"
#include "core/backend_attributes.h"
#include "store/token_db.h"

#include <keyseal/pkcs11.h>

#include <string>
#include <string_view>

namespace keyseal::core {

// The attribute that carries a record's tag inside the stored attribute list. It lies in the backend range,
// which templates can never name and reads never return; core strips it when decoding.
inline constexpr CK_ATTRIBUTE_TYPE kRecordTagAttr = backend_attr(0x7FFF);

// Meta keys: the records' format ("2" once authenticated), the token's PIN retry limit and the tag over both.
inline constexpr std::string_view kRecordFormatKey = "records.format";
inline constexpr std::string_view kRecordFormatAuthenticated = "2";
inline constexpr std::string_view kPinLimitKey = "pin_limit";
inline constexpr std::string_view kSettingsTagKey = "settings.tag";

// Keys for one token, derived from its master key and its uid (so a record cannot move between tokens).
struct RecordKeys {
  SecureBytes seal;  // AES-256-GCM key of secret components (format 1 tokens: the master key itself)
  SecureBytes mac;   // HMAC-SHA256 key of record and settings tags (format 1: empty, nothing is tagged)
  bool authenticated() const { return !mac.empty(); }
  void wipe();
};
RecordKeys derive_record_keys(ByteView master_key, std::string_view token_uid, bool authenticated);

// Tag of an object record: over the token uid, the object's unique id and the canonical encoding of all its
// other stored attributes (sealed values as stored, with their flags).
SecureBytes record_tag(const RecordKeys& k, std::string_view token_uid, std::string_view object_uid,
                       ByteView encoded_attrs);
// Tag of the token's settings (records format and PIN retry limit).
SecureBytes settings_tag(const RecordKeys& k, std::string_view token_uid, uint32_t pin_limit);

// The store's search columns of an object (copies of attributes, checked against them on every decode).
store::ObjectRow record_columns(const AttributeMap& attrs, const std::string& uid);

// An object record as stored (store/attribute_codec.h): secret components sealed under keys.seal with the
// object's unique id and the attribute type as associated data, and, when keys.authenticated(), the tag.
SecureBytes encode_record(const RecordKeys& keys, std::string_view token_uid, const std::string& object_uid,
                          const AttributeMap& attrs);
struct DecodedRecord {
  AttributeMap attrs;
  bool secrets_loaded = true;  // false without a seal key (nobody logged in): sealed values left out
  bool tagged = false;         // the record carries a tag (checked only when keys.authenticated())
};
// Refuses (CKR_DEVICE_ERROR, naming the object) a record that is malformed, lacks a valid tag when the keys
// can check one, stores a secret component unsealed or anything else sealed, whose sealed values do not open,
// or whose search columns or unique id disagree with its attributes.
DecodedRecord decode_record(const RecordKeys& keys, std::string_view token_uid, const store::ObjectRow& row);

}  // namespace keyseal::core
