// Object management through a session (PKCS#11 3.0 section 5.7): create, copy, destroy, attribute changes and
// search, with the session-state rules (read-only sessions, private objects need the user).
#include "core/attribute_policy.h"
#include "core/session.h"

namespace keyseal::core {

void Session::check_new_object_access(const AttributeMap& attrs) {
  if (bool_or(attrs, CKA_TOKEN, false)) require(rw_, CKR_SESSION_READ_ONLY, "token objects need a read/write session");
  if (bool_or(attrs, CKA_PRIVATE, false)) require(user(), CKR_USER_NOT_LOGGED_IN, "private objects need the user");
}

CK_OBJECT_HANDLE Session::store_new(AttributeMap attrs) {
  require(!closed_, CKR_SESSION_CLOSED, "the session was closed");
  return token_->add_object(std::move(attrs), handle_)->handle;
}

CK_OBJECT_HANDLE Session::create_object(AttributeMap attrs) {
  check_new_object(attrs, Origin::create, so());
  check_new_object_access(attrs);
  const CK_OBJECT_CLASS cls = get_ulong(attrs, CKA_CLASS).value_or(CKO_DATA);
  if (cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY) token_->backend().import_key(attrs);
  finish_new_object(attrs, Origin::create, CK_UNAVAILABLE_INFORMATION, new_object_uid());
  return store_new(std::move(attrs));
}

CK_OBJECT_HANDLE Session::copy_object(CK_OBJECT_HANDLE h, const AttributeMap& changes) {
  ObjectPtr o = object(h);
  require(bool_or(o->attrs, CKA_COPYABLE, true), CKR_ACTION_PROHIBITED, "object is not copyable");
  require(o->secrets_loaded, CKR_USER_NOT_LOGGED_IN, "copying this object needs a login");
  AttributeMap n = o->attrs;
  for (const auto& [type, value] : changes) {
    check_modify(o->attrs, type, view(value), true, so());
    n[type] = value;
  }
  check_new_object_access(n);
  set_bytes(n, CKA_UNIQUE_ID, view(new_object_uid()));
  return store_new(std::move(n));
}

void Session::destroy_object(CK_OBJECT_HANDLE h) {
  ObjectPtr o = object(h);
  if (o->is_token()) require(rw_, CKR_SESSION_READ_ONLY, "token objects need a read/write session");
  require(bool_or(o->attrs, CKA_DESTROYABLE, true), CKR_ACTION_PROHIBITED, "object is not destroyable");
  token_->destroy_object(*o);
}

size_t Session::object_size(CK_OBJECT_HANDLE h) {
  ObjectPtr o = object(h);
  size_t n = 0;
  for (const auto& [type, value] : o->attrs) n += sizeof(CK_ATTRIBUTE_TYPE) + sizeof(CK_ULONG) + value.size();
  return n;
}

void Session::set_attributes(CK_OBJECT_HANDLE h, const std::vector<std::pair<CK_ATTRIBUTE_TYPE, SecureBytes>>& tmpl) {
  // Optimistic: the changes are checked against the current object and applied only if nobody replaced it
  // meanwhile; otherwise they are checked again against the newer one (a lost update could undo a one-way
  // change such as CKA_SENSITIVE).
  for (int attempt = 0; attempt < 16; ++attempt) {
    ObjectPtr o = object(h);
    if (o->is_token()) require(rw_, CKR_SESSION_READ_ONLY, "token objects need a read/write session");
    require(is_modifiable(o->attrs), CKR_ACTION_PROHIBITED, "object is not modifiable");
    AttributeMap n = o->attrs;
    for (const auto& [type, value] : tmpl) {
      check_modify(n, type, view(value), false, so());
      n[type] = value;
    }
    if (token_->replace_object(*o, std::move(n))) return;
  }
  fail(CKR_FUNCTION_FAILED, "the object kept changing under this call");
}

void Session::find_init(const AttributeMap& tmpl) {
  require(!find_active_, CKR_OPERATION_ACTIVE, "a search is active");
  found_ = token_->find(tmpl, user());
  found_pos_ = 0;
  find_active_ = true;
}

std::vector<CK_OBJECT_HANDLE> Session::find_next(size_t max) {
  require(find_active_, CKR_OPERATION_NOT_INITIALIZED, "no search is active");
  const size_t n = std::min(max, found_.size() - found_pos_);
  std::vector<CK_OBJECT_HANDLE> out(found_.begin() + found_pos_, found_.begin() + found_pos_ + n);
  found_pos_ += n;
  return out;
}

void Session::find_final() {
  require(find_active_, CKR_OPERATION_NOT_INITIALIZED, "no search is active");
  find_active_ = false;
  found_.clear();
  found_pos_ = 0;
}

namespace {
constexpr size_t kMaxAttestationNonce = 64;  // TPM2B_DATA holds a TPMT_HA (a SHA-512 digest)
}  // namespace

bool is_keyseal_vendor_attribute(CK_ATTRIBUTE_TYPE t) {
  return t == CKA_KEYSEAL_TPM_PUBLIC || t == CKA_KEYSEAL_ATTESTATION_NONCE || t == CKA_KEYSEAL_ATTESTATION;
}

void Session::check_attestation_nonce(CK_OBJECT_HANDLE h, ByteView nonce) {
  ObjectPtr o = object(h);
  // Only keys the backend can attest carry the attribute: their TPM public area is what says so.
  require(token_->backend().vendor_attribute(*o, CKA_KEYSEAL_TPM_PUBLIC, {}).has_value(), CKR_ATTRIBUTE_TYPE_INVALID,
          "only TPM token private keys can be attested");
  require(nonce.size() <= kMaxAttestationNonce, CKR_ATTRIBUTE_VALUE_INVALID,
          "the attestation nonce is longer than 64 bytes");
}

void Session::set_attestation_nonce(CK_OBJECT_HANDLE h, ByteView nonce) {
  check_attestation_nonce(h, nonce);
  AttestState& a = attest_[h];
  a.nonce.assign(nonce.begin(), nonce.end());
  a.value.reset();
}

AttributeMap Session::vendor_attributes(const Object& o, const std::vector<CK_ATTRIBUTE_TYPE>& types) {
  AttributeMap out;
  Backend& b = token_->backend();
  for (CK_ATTRIBUTE_TYPE t : types) {
    if (!is_keyseal_vendor_attribute(t) || out.count(t)) continue;
    if (t == CKA_KEYSEAL_TPM_PUBLIC) {
      if (auto v = b.vendor_attribute(o, t, {})) out[t] = std::move(*v);
    } else if (t == CKA_KEYSEAL_ATTESTATION_NONCE) {
      if (!b.vendor_attribute(o, CKA_KEYSEAL_TPM_PUBLIC, {})) continue;
      auto it = attest_.find(o.handle);
      out[t] = it == attest_.end() ? SecureBytes() : it->second.nonce;
    } else {
      if (!b.vendor_attribute(o, CKA_KEYSEAL_TPM_PUBLIC, {})) continue;
      AttestState& a = attest_[o.handle];
      if (!a.value) a.value = b.vendor_attribute(o, t, view(a.nonce));
      if (a.value) out[t] = *a.value;
    }
  }
  return out;
}

}  // namespace keyseal::core
