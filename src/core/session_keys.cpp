// Key management through a session (PKCS#11 3.0 section 5.14): generation, wrapping, unwrapping and
// derivation, with the attribute policy applied before the backend runs and completed after.
#include "core/attribute_policy.h"
#include "core/key_info.h"
#include "core/mechanisms.h"
#include "core/session.h"
#include "crypto/asym.h"
#include "crypto/kdf.h"
#include "crypto/keys.h"

namespace keyseal::core {
namespace {

const MechanismRow& row_for(const MechanismParams& m, CK_FLAGS flag) {
  const MechanismRow* row = find_mechanism(m.type);
  require(row && (row->flags & flag), CKR_MECHANISM_INVALID, "mechanism does not support this operation");
  return *row;
}

void default_ulong(AttributeMap& a, CK_ATTRIBUTE_TYPE t, CK_ULONG v) {
  if (!a.count(t)) set_ulong(a, t, v);
}

// Looks up a key and checks it for a purpose, translating the generic key errors into the ones the
// specification names for wrapping (CKR_WRAPPING_KEY_*) and unwrapping (CKR_UNWRAPPING_KEY_*) keys.
ObjectPtr role_key(Session& s, CK_OBJECT_HANDLE h, const MechanismRow& row, CK_ATTRIBUTE_TYPE usage,
                   CK_RV handle_rv, CK_RV type_rv, CK_RV size_rv) {
  ObjectPtr k = s.key_object(h, handle_rv);
  try {
    check_key_for(*k, row, usage);
    return k;
  } catch (const Error& e) {
    if (e.rv == CKR_KEY_TYPE_INCONSISTENT) fail(type_rv, e.detail);
    if (e.rv == CKR_KEY_SIZE_RANGE) fail(size_rv, e.detail);
    throw;
  }
}

void check_secret_length(CK_KEY_TYPE kt, size_t len, CK_RV rv) {
  if (kt == CKK_AES) require(len == 16 || len == 24 || len == 32, rv, "AES keys are 16, 24 or 32 bytes");
  else require(len >= 1, rv, "secret key value is empty");
}

// C_UnwrapKey and C_DeriveKey (sections 5.18.5, 5.18.6): the unwrapping or base key's CKA_UNWRAP_TEMPLATE /
// CKA_DERIVE_TEMPLATE "will be added to attributes of the key"; an attribute the caller gave with another value
// is CKR_TEMPLATE_INCONSISTENT. The merged template then goes through the same checks as the caller's own.
void merge_key_template(AttributeMap& attrs, const AttributeMap& key, CK_ATTRIBUTE_TYPE which) {
  const SecureBytes* raw = get_bytes(key, which);
  if (!raw) return;
  for (auto& [type, value] : decode_template_value(view(*raw))) {
    auto [it, inserted] = attrs.emplace(type, value);
    require(inserted || equal_bytes(view(it->second), view(value)), CKR_TEMPLATE_INCONSISTENT,
            std::string("the template conflicts with the key's ") +
                (which == CKA_UNWRAP_TEMPLATE ? "CKA_UNWRAP_TEMPLATE" : "CKA_DERIVE_TEMPLATE"));
  }
}

}  // namespace

CK_OBJECT_HANDLE Session::generate_key(const MechanismParams& m, AttributeMap attrs) {
  const MechanismRow& row = row_for(m, CKF_GENERATE);
  default_ulong(attrs, CKA_CLASS, CKO_SECRET_KEY);
  default_ulong(attrs, CKA_KEY_TYPE, row.key_type);
  check_new_object(attrs, Origin::generate, so(), CKO_SECRET_KEY, row.key_type);
  // A length the mechanism cannot make is a bad template value: CKR_KEY_SIZE_RANGE is not among C_GenerateKey's
  // return values (PKCS#11 3.0 section 5.18.2); it names a key given to an operation, not one asked for.
  const CK_ULONG len = get_ulong(attrs, CKA_VALUE_LEN).value_or(0);
  require(len >= row.min_key && len <= row.max_key, CKR_ATTRIBUTE_VALUE_INVALID,
          "CKA_VALUE_LEN outside the mechanism's range");
  check_secret_length(row.key_type, len, CKR_ATTRIBUTE_VALUE_INVALID);
  check_new_object_access(attrs);
  require(token_->backend().supports(m.type), CKR_MECHANISM_INVALID, "the token cannot do this mechanism");
  token_->backend().generate_key(m, attrs);
  finish_new_object(attrs, Origin::generate, m.type, new_object_uid());
  return store_new(std::move(attrs));
}

std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE> Session::generate_key_pair(const MechanismParams& m, AttributeMap pub,
                                                                         AttributeMap priv) {
  const MechanismRow& row = row_for(m, CKF_GENERATE_KEY_PAIR);
  const CK_KEY_TYPE kt = row.key_type;
  default_ulong(pub, CKA_CLASS, CKO_PUBLIC_KEY);
  default_ulong(pub, CKA_KEY_TYPE, kt);
  default_ulong(priv, CKA_CLASS, CKO_PRIVATE_KEY);
  default_ulong(priv, CKA_KEY_TYPE, kt);
  check_new_object(pub, Origin::generate, so(), CKO_PUBLIC_KEY, kt);
  check_new_object(priv, Origin::generate, so(), CKO_PRIVATE_KEY, kt);
  if (kt == CKK_RSA) {
    // Section 5.18.3 lists no CKR_KEY_SIZE_RANGE for C_GenerateKeyPair: a modulus size outside the mechanism's
    // ulMinKeySize..ulMaxKeySize is an invalid value of the template's CKA_MODULUS_BITS.
    const std::optional<CK_ULONG> bits = get_ulong(pub, CKA_MODULUS_BITS);
    require(bits.has_value(), CKR_TEMPLATE_INCOMPLETE, "CKA_MODULUS_BITS missing from the public key template");
    require(*bits >= row.min_key && *bits <= row.max_key, CKR_ATTRIBUTE_VALUE_INVALID,
            "RSA modulus size outside 2048-4096");
  } else {
    const SecureBytes* params = get_bytes(pub, CKA_EC_PARAMS);
    require(params != nullptr, CKR_TEMPLATE_INCOMPLETE, "CKA_EC_PARAMS missing from the public key template");
    const bool ed = crypto::ec_params_is_edwards(view(*params));
    if (ed != (kt == CKK_EC_EDWARDS)) fail(CKR_CURVE_NOT_SUPPORTED, "curve does not fit the key pair mechanism");
    const CK_ULONG bits = crypto::ec_params_bits(view(*params));
    require(bits >= row.min_key && bits <= row.max_key, CKR_CURVE_NOT_SUPPORTED, "curve not supported");
    if (const SecureBytes* pp = get_bytes(priv, CKA_EC_PARAMS))
      require(equal_bytes(view(*pp), view(*params)), CKR_TEMPLATE_INCONSISTENT, "key pair templates name two curves");
  }
  check_new_object_access(pub);
  check_new_object_access(priv);
  require(token_->backend().supports(m.type), CKR_MECHANISM_INVALID, "the token cannot do this mechanism");
  token_->backend().generate_key_pair(m, pub, priv);
  for (CK_ATTRIBUTE_TYPE t : public_attributes_on_private_key(kt))
    if (const SecureBytes* v = get_bytes(pub, t); v && (!priv.count(t) || priv[t].empty())) priv[t] = *v;
  finish_new_object(pub, Origin::generate, m.type, new_object_uid());
  finish_new_object(priv, Origin::generate, m.type, new_object_uid());
  require(!closed_, CKR_SESSION_CLOSED, "the session was closed");
  std::vector<AttributeMap> pair;
  pair.push_back(std::move(pub));
  pair.push_back(std::move(priv));
  auto objs = token_->add_objects(std::move(pair), handle_);  // one transaction: never half a pair
  return {objs[0]->handle, objs[1]->handle};
}

SecureBytes Session::wrap_key(const MechanismParams& m, CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key_h) {
  const MechanismRow& row = row_for(m, CKF_WRAP);
  ObjectPtr wk = role_key(*this, wrapping, row, CKA_WRAP, CKR_WRAPPING_KEY_HANDLE_INVALID,
                          CKR_WRAPPING_KEY_TYPE_INCONSISTENT, CKR_WRAPPING_KEY_SIZE_RANGE);
  ObjectPtr key = key_object(key_h);
  require(key->flag(CKA_EXTRACTABLE), CKR_KEY_UNEXTRACTABLE, "key is not extractable");
  // Section 5.18.4: the key must match the wrapping key's CKA_WRAP_TEMPLATE "according to the C_FindObject rules
  // of attribute matching"; "If any attribute mismatch occurs ... the function SHALL return CKR_KEY_HANDLE_INVALID".
  if (const SecureBytes* wt = get_bytes(wk->attrs, CKA_WRAP_TEMPLATE))
    require(matches(key->attrs, decode_template_value(view(*wt))), CKR_KEY_HANDLE_INVALID,
            "the key does not match the wrapping key's CKA_WRAP_TEMPLATE");
  if (key->flag(CKA_WRAP_WITH_TRUSTED))
    require(wk->flag(CKA_TRUSTED), CKR_KEY_NOT_WRAPPABLE, "key may only be wrapped with a trusted key");
  require(key->cls() == CKO_SECRET_KEY, CKR_KEY_NOT_WRAPPABLE, "only secret keys can be wrapped");
  require(key->secrets_loaded, CKR_USER_NOT_LOGGED_IN, "wrapping this key needs a login");
  const SecureBytes* value = get_bytes(key->attrs, CKA_VALUE);
  require(value != nullptr, CKR_KEY_NOT_WRAPPABLE, "key has no value");
  try {
    if (wk->cls() == CKO_PUBLIC_KEY) return crypto::make_rsa_encryptor(public_pkey(*wk), m)->run(view(*value));
    require(wk->cls() == CKO_SECRET_KEY, CKR_WRAPPING_KEY_TYPE_INCONSISTENT, "a private key cannot wrap");
    require(wk->secrets_loaded, CKR_USER_NOT_LOGGED_IN, "this key needs a login");
    return token_->backend().wrap(*wk, m, view(*value));
  } catch (const Error& e) {
    if (e.rv == CKR_DATA_LEN_RANGE) fail(CKR_KEY_SIZE_RANGE, "key length does not fit the wrapping mechanism");
    throw;
  }
}

// An unwrapped private key arrives as a PKCS#8 PrivateKeyInfo (section 2.2): its components join the
// caller's template, whose key type and curve, when given, must agree with it.
static void set_private_key_from_pkcs8(AttributeMap& attrs, ByteView der) {
  const crypto::Pkcs8Key k = crypto::parse_pkcs8(der);
  const CK_KEY_TYPE kt = k.rsa ? CKK_RSA : crypto::ec_params_is_edwards(view(k.ec_params)) ? CKK_EC_EDWARDS : CKK_EC;
  require(get_ulong(attrs, CKA_KEY_TYPE).value_or(kt) == kt, CKR_TEMPLATE_INCONSISTENT,
          "CKA_KEY_TYPE does not match the unwrapped key");
  set_ulong(attrs, CKA_KEY_TYPE, kt);
  if (k.rsa) {
    const crypto::RsaKeyPair& r = k.rsa_key;
    if (const SecureBytes* n = get_bytes(attrs, CKA_MODULUS))
      require(*n == r.n, CKR_TEMPLATE_INCONSISTENT, "CKA_MODULUS does not match the unwrapped key");
    const std::pair<CK_ATTRIBUTE_TYPE, const SecureBytes*> parts[] = {
        {CKA_MODULUS, &r.n}, {CKA_PUBLIC_EXPONENT, &r.e}, {CKA_PRIVATE_EXPONENT, &r.d}, {CKA_PRIME_1, &r.p},
        {CKA_PRIME_2, &r.q}, {CKA_EXPONENT_1, &r.dp}, {CKA_EXPONENT_2, &r.dq}, {CKA_COEFFICIENT, &r.qinv}};
    for (const auto& [t, v] : parts) set_bytes(attrs, t, view(*v));
    return;
  }
  if (const SecureBytes* params = get_bytes(attrs, CKA_EC_PARAMS))
    require(*params == k.ec_params, CKR_TEMPLATE_INCONSISTENT, "CKA_EC_PARAMS does not match the unwrapped key");
  set_bytes(attrs, CKA_EC_PARAMS, view(k.ec_params));
  set_bytes(attrs, CKA_VALUE, view(k.ec_key.d));
}

CK_OBJECT_HANDLE Session::unwrap_key(const MechanismParams& m, CK_OBJECT_HANDLE unwrapping, ByteView wrapped,
                                     AttributeMap attrs) {
  const MechanismRow& row = row_for(m, CKF_UNWRAP);
  ObjectPtr uk = role_key(*this, unwrapping, row, CKA_UNWRAP, CKR_UNWRAPPING_KEY_HANDLE_INVALID,
                          CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, CKR_UNWRAPPING_KEY_SIZE_RANGE);
  require(uk->cls() != CKO_PUBLIC_KEY, CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT, "a public key cannot unwrap");
  require(uk->secrets_loaded, CKR_USER_NOT_LOGGED_IN, "this key needs a login");
  merge_key_template(attrs, uk->attrs, CKA_UNWRAP_TEMPLATE);
  check_new_object(attrs, Origin::unwrap, so());
  const CK_OBJECT_CLASS cls = get_ulong(attrs, CKA_CLASS).value_or(CKO_SECRET_KEY);
  require(cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY, CKR_TEMPLATE_INCONSISTENT,
          "only secret and private keys can be unwrapped");
  check_new_object_access(attrs);
  SecureBytes value;
  try {
    value = token_->backend().unwrap(*uk, m, wrapped);
  } catch (const Error& e) {
    if (e.rv == CKR_ENCRYPTED_DATA_INVALID || e.rv == CKR_DATA_INVALID) fail(CKR_WRAPPED_KEY_INVALID, e.detail);
    if (e.rv == CKR_ENCRYPTED_DATA_LEN_RANGE || e.rv == CKR_DATA_LEN_RANGE) fail(CKR_WRAPPED_KEY_LEN_RANGE, e.detail);
    throw;
  }
  if (cls == CKO_PRIVATE_KEY) {
    set_private_key_from_pkcs8(attrs, view(value));
    token_->backend().import_key(attrs);  // a TPM token imports it into the TPM here
    finish_new_object(attrs, Origin::unwrap, m.type, new_object_uid());
    return store_new(std::move(attrs));
  }
  if (auto len = get_ulong(attrs, CKA_VALUE_LEN)) {
    require(*len <= value.size(), CKR_TEMPLATE_INCONSISTENT, "CKA_VALUE_LEN longer than the unwrapped key");
    value.resize(*len);  // unpadded mechanisms may leave trailing padding
  }
  const CK_KEY_TYPE kt = get_ulong(attrs, CKA_KEY_TYPE).value_or(CKK_GENERIC_SECRET);
  check_secret_length(kt, value.size(), CKR_WRAPPED_KEY_INVALID);
  set_bytes(attrs, CKA_VALUE, view(value));
  if (kt == CKK_AES || kt == CKK_GENERIC_SECRET) set_ulong(attrs, CKA_VALUE_LEN, value.size());
  token_->backend().import_key(attrs);
  finish_new_object(attrs, Origin::unwrap, m.type, new_object_uid());
  return store_new(std::move(attrs));
}

// The output length a derivation gives, from the template's CKA_VALUE_LEN (`want`) and what the mechanism
// makes: ECDH with CKD_NULL yields Z (a key takes its leading bytes), HKDF extract-only yields the PRK (the
// hash length); ECDH with an X9.63 KDF and HKDF expand make any length the caller names.
static size_t derive_length(const MechanismParams& m, std::optional<CK_ULONG> want, CK_KEY_TYPE kt, size_t z_len) {
  if (m.type == CKM_ECDH1_DERIVE && m.kdf == CKD_NULL) {
    const size_t len = want.value_or(kt == CKK_AES ? std::min<size_t>(32, z_len) : z_len);
    require(len >= 1 && len <= z_len, CKR_TEMPLATE_INCONSISTENT, "CKA_VALUE_LEN longer than the shared secret");
    return len;
  }
  if (m.type != CKM_ECDH1_DERIVE && !m.hkdf_expand) {
    const size_t hlen = crypto::hash_length(m.hash);
    require(want.value_or(hlen) == hlen, CKR_TEMPLATE_INCONSISTENT, "HKDF extract gives exactly the hash length");
    return hlen;
  }
  require(want.has_value(), CKR_TEMPLATE_INCOMPLETE, "CKA_VALUE_LEN is needed to say how much to derive");
  require(*want >= 1, CKR_ATTRIBUTE_VALUE_INVALID, "CKA_VALUE_LEN of zero");
  return *want;
}

// CKF_HKDF_SALT_KEY: the salt is the value of another secret key of this token, one the caller may use to
// derive (the salt keys HKDF's extract step with HMAC, so it is a derivation key in all but name).
SecureBytes Session::hkdf_salt_key(CK_OBJECT_HANDLE h) {
  ObjectPtr k = key_object(h, CKR_MECHANISM_PARAM_INVALID);
  require(k->cls() == CKO_SECRET_KEY && (k->key_type() == CKK_HKDF || k->key_type() == CKK_GENERIC_SECRET),
          CKR_KEY_TYPE_INCONSISTENT, "the HKDF salt key must be a CKK_HKDF or CKK_GENERIC_SECRET key");
  require(k->flag(CKA_DERIVE), CKR_KEY_FUNCTION_NOT_PERMITTED, "the HKDF salt key does not allow CKA_DERIVE");
  require(k->secrets_loaded, CKR_USER_NOT_LOGGED_IN, "this key needs a login");
  const SecureBytes* v = get_bytes(k->attrs, CKA_VALUE);
  require(v != nullptr && !v->empty(), CKR_KEY_TYPE_INCONSISTENT, "the HKDF salt key has no value");
  return *v;
}

CK_OBJECT_HANDLE Session::derive_key(const MechanismParams& m, CK_OBJECT_HANDLE base_h, AttributeMap attrs) {
  const MechanismRow& row = row_for(m, CKF_DERIVE);
  const bool hkdf = row.param == ParamKind::hkdf;
  const bool data = m.type == CKM_HKDF_DATA;
  ObjectPtr base = key_object(base_h);
  check_key_for(*base, row, CKA_DERIVE);
  require(base->cls() == (hkdf ? CKO_SECRET_KEY : CKO_PRIVATE_KEY), CKR_KEY_TYPE_INCONSISTENT,
          hkdf ? "HKDF needs a secret key" : "ECDH needs a private key");
  require(base->secrets_loaded, CKR_USER_NOT_LOGGED_IN, "this key needs a login");
  merge_key_template(attrs, base->attrs, CKA_DERIVE_TEMPLATE);
  // CKA_VALUE_LEN asks for a length; a data object (CKM_HKDF_DATA) has no such attribute, so it is taken out.
  std::optional<CK_ULONG> want;
  if (attrs.count(CKA_VALUE_LEN)) {
    want = get_ulong(attrs, CKA_VALUE_LEN);
    require(want.has_value(), CKR_ATTRIBUTE_VALUE_INVALID, "CKA_VALUE_LEN must be a CK_ULONG");
    if (data) attrs.erase(CKA_VALUE_LEN);
  }
  const CK_OBJECT_CLASS cls = data ? CKO_DATA : CKO_SECRET_KEY;
  default_ulong(attrs, CKA_CLASS, cls);
  if (!data) default_ulong(attrs, CKA_KEY_TYPE, CKK_GENERIC_SECRET);
  check_new_object(attrs, Origin::derive, so(), cls);
  check_new_object_access(attrs);
  require(token_->backend().supports(m.type), CKR_MECHANISM_INVALID, "the token cannot do this mechanism");
  const CK_KEY_TYPE kt = data ? CK_UNAVAILABLE_INFORMATION : get_ulong(attrs, CKA_KEY_TYPE).value_or(CKK_GENERIC_SECRET);
  SecureBytes value;
  if (hkdf) {
    MechanismParams hm = m;
    hm.derive_len = derive_length(m, want, kt, 0);
    if (!data) check_secret_length(kt, hm.derive_len, CKR_ATTRIBUTE_VALUE_INVALID);
    if (m.hkdf_extract && m.salt_type == CKF_HKDF_SALT_KEY) hm.salt = hkdf_salt_key(m.salt_key);
    value = token_->backend().derive(*base, hm);
  } else {
    SecureBytes z = token_->backend().derive(*base, m);  // Z, the x-coordinate of the shared point
    const size_t len = derive_length(m, want, kt, z.size());
    check_secret_length(kt, len, CKR_ATTRIBUTE_VALUE_INVALID);
    if (m.kdf == CKD_NULL) {
      z.resize(len);  // CKD_NULL with a shorter key: the leading bytes of the shared secret
      value = std::move(z);
    } else {
      // The KDF runs here for every backend: Z leaves a TPM as it is for CKD_NULL, so nothing is lost.
      value = crypto::x963_kdf(m.hash, view(z), view(m.shared_data), len);
    }
  }
  set_bytes(attrs, CKA_VALUE, view(value));
  if (!data) {
    set_ulong(attrs, CKA_VALUE_LEN, value.size());
    // A derived key stays "always sensitive" / "never extractable" only if its base key was (section 4.10).
    inherit_from_base_key(attrs, base->attrs);
  }
  finish_new_object(attrs, Origin::derive, m.type, new_object_uid());
  return store_new(std::move(attrs));
}

}  // namespace keyseal::core
