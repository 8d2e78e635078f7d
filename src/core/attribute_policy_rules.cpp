// The spec's attribute tables as data: base spec 4.4 storage, 4.5 data, 4.6.2/4.6.3 certificates, 4.7 keys,
// 4.8 public, 4.9 private, 4.10 secret keys; mechanisms spec 2.1.2/2.1.3 RSA, 2.3.3-2.3.6 EC and Edwards,
// 2.2 generic secret, 2.8 AES. A row's flags are the footnotes printed next to the attribute in the spec;
// fill_defaults() holds the tables' stated defaults and this token's footnote 9 choices.
#include "core/attribute_policy_rules.h"

#include "common/error.h"

namespace keyseal::core::rules {

namespace {

// 4.4 Common storage object attributes (plus 4.2 CKA_CLASS and CKA_UNIQUE_ID).
constexpr Rule kStorage[] = {
    {CKA_CLASS, kMustOnCreate | kMustOnUnwrap},
    {CKA_UNIQUE_ID, kTokenSet},
    {CKA_TOKEN, 0},
    {CKA_PRIVATE, 0},
    {CKA_MODIFIABLE, 0},
    {CKA_LABEL, kModifiable},
    {CKA_COPYABLE, kFixedOnceFalse},
    {CKA_DESTROYABLE, 0},
};

// 4.5 Data objects: no footnotes, so none of them may change after creation (only CKA_LABEL may, 4.4).
constexpr Rule kData[] = {
    {CKA_APPLICATION, 0},
    {CKA_OBJECT_ID, 0},
    {CKA_VALUE, 0},
};

// 4.6.2 Common certificate attributes. CKA_CERTIFICATE_CATEGORY "may not be modified after creation".
constexpr Rule kCertificate[] = {
    {CKA_CERTIFICATE_TYPE, kMustOnCreate},
    {CKA_TRUSTED, kSoOnlyTrue},
    {CKA_CERTIFICATE_CATEGORY, 0},
    {CKA_CHECK_VALUE, 0},
    {CKA_START_DATE, 0},
    {CKA_END_DATE, 0},
    {CKA_PUBLIC_KEY_INFO, 0},
};

// 4.6.3 X.509 certificates: "Only CKA_ID, CKA_ISSUER and CKA_SERIAL_NUMBER may be modified". CKA_VALUE's own
// footnote ("MUST be specified ... non-empty if CKA_URL is empty") is checked in attribute_policy.cpp.
constexpr Rule kX509[] = {
    {CKA_SUBJECT, kMustOnCreate},
    {CKA_ID, kModifiable},
    {CKA_ISSUER, kModifiable},
    {CKA_SERIAL_NUMBER, kModifiable},
    {CKA_VALUE, kMustOnCreate},
    {CKA_URL, 0},
    {CKA_HASH_OF_SUBJECT_PUBLIC_KEY, 0},
    {CKA_HASH_OF_ISSUER_PUBLIC_KEY, 0},
    {CKA_JAVA_MIDP_SECURITY_DOMAIN, 0},
    {CKA_NAME_HASH_ALGORITHM, 0},
};

// 4.7 Common key attributes.
constexpr Rule kKey[] = {
    {CKA_KEY_TYPE, kMustOnCreate | kMustOnUnwrap},
    {CKA_ID, kModifiable},
    {CKA_START_DATE, kModifiable},
    {CKA_END_DATE, kModifiable},
    {CKA_DERIVE, kModifiable},
    {CKA_LOCAL, kTokenSet},
    {CKA_KEY_GEN_MECHANISM, kTokenSet},
    {CKA_ALLOWED_MECHANISMS, 0},
};

// 4.8 Public key attributes. CKA_PUBLIC_KEY_INFO must stay consistent with the key: fixed after creation.
constexpr Rule kPublic[] = {
    {CKA_SUBJECT, kModifiable},
    {CKA_ENCRYPT, kModifiable},
    {CKA_VERIFY, kModifiable},
    {CKA_VERIFY_RECOVER, kModifiable},
    {CKA_WRAP, kModifiable},
    {CKA_TRUSTED, kSoOnlyTrue},
    {CKA_WRAP_TEMPLATE, 0},  // no footnote 8: fixed once the key exists, so a policy cannot be loosened later
    {CKA_PUBLIC_KEY_INFO, 0},
};

// 4.9 Private key attributes. CKA_PUBLIC_KEY_INFO is footnote 8 in the spec but changing it requires a
// consistency check against the key (core has no crypto): this token keeps it fixed (allowed by 4.1.1 rule 3).
constexpr Rule kPrivate[] = {
    {CKA_SUBJECT, kModifiable},
    {CKA_SENSITIVE, kModifiable | kFixedOnceTrue},
    {CKA_DECRYPT, kModifiable},
    {CKA_SIGN, kModifiable},
    {CKA_SIGN_RECOVER, kModifiable},
    {CKA_UNWRAP, kModifiable},
    {CKA_EXTRACTABLE, kModifiable | kFixedOnceFalse},
    {CKA_ALWAYS_SENSITIVE, kTokenSet},
    {CKA_NEVER_EXTRACTABLE, kTokenSet},
    {CKA_WRAP_WITH_TRUSTED, kFixedOnceTrue},
    {CKA_UNWRAP_TEMPLATE, 0},
    {CKA_DERIVE_TEMPLATE, 0},
    {CKA_ALWAYS_AUTHENTICATE, 0},
    {CKA_PUBLIC_KEY_INFO, 0},
};

// 4.10 Secret key attributes. CKA_CHECK_VALUE has no footnote: may be given at creation, then fixed.
constexpr Rule kSecret[] = {
    {CKA_SENSITIVE, kModifiable | kFixedOnceTrue},
    {CKA_ENCRYPT, kModifiable},
    {CKA_DECRYPT, kModifiable},
    {CKA_SIGN, kModifiable},
    {CKA_VERIFY, kModifiable},
    {CKA_WRAP, kModifiable},
    {CKA_UNWRAP, kModifiable},
    {CKA_EXTRACTABLE, kModifiable | kFixedOnceFalse},
    {CKA_ALWAYS_SENSITIVE, kTokenSet},
    {CKA_NEVER_EXTRACTABLE, kTokenSet},
    {CKA_CHECK_VALUE, 0},
    {CKA_WRAP_WITH_TRUSTED, kFixedOnceTrue},
    {CKA_TRUSTED, kSoOnlyTrue},
    {CKA_WRAP_TEMPLATE, 0},
    {CKA_UNWRAP_TEMPLATE, 0},
    {CKA_DERIVE_TEMPLATE, 0},
};

// Mechanisms spec 2.1.2 RSA public key.
constexpr Rule kRsaPublic[] = {
    {CKA_MODULUS, kMustOnCreate | kNotOnGenerate},
    {CKA_MODULUS_BITS, kNotOnCreate | kMustOnGenerate},
    {CKA_PUBLIC_EXPONENT, kMustOnCreate},
};

// 2.1.3 RSA private key. CKA_PUBLIC_EXPONENT is required since 2.40 so the public key can be recovered.
constexpr Rule kRsaPrivate[] = {
    {CKA_MODULUS, kMustOnCreate | kNotOnGenerate | kNotOnUnwrap},
    {CKA_PUBLIC_EXPONENT, kMustOnCreate | kNotOnGenerate | kNotOnUnwrap},
    {CKA_PRIVATE_EXPONENT, kMustOnCreate | kNotOnGenerate | kNotOnUnwrap | kSensitive},
    {CKA_PRIME_1, kNotOnGenerate | kNotOnUnwrap | kSensitive},
    {CKA_PRIME_2, kNotOnGenerate | kNotOnUnwrap | kSensitive},
    {CKA_EXPONENT_1, kNotOnGenerate | kNotOnUnwrap | kSensitive},
    {CKA_EXPONENT_2, kNotOnGenerate | kNotOnUnwrap | kSensitive},
    {CKA_COEFFICIENT, kNotOnGenerate | kNotOnUnwrap | kSensitive},
};

// 2.3.3 EC public key, 2.3.5 Edwards public key (same table).
constexpr Rule kEcPublic[] = {
    {CKA_EC_PARAMS, kMustOnCreate | kMustOnGenerate},
    {CKA_EC_POINT, kMustOnCreate | kNotOnGenerate},
};

// 2.3.4 EC private key, 2.3.6 Edwards private key.
constexpr Rule kEcPrivate[] = {
    {CKA_EC_PARAMS, kMustOnCreate | kNotOnGenerate | kNotOnUnwrap},
    {CKA_VALUE, kMustOnCreate | kNotOnGenerate | kNotOnUnwrap | kSensitive},
};

// 2.8 AES and 2.2 generic secret keys: CKA_VALUE 1,4,6,7; CKA_VALUE_LEN 2,3.
constexpr Rule kValueSecret[] = {
    {CKA_VALUE, kMustOnCreate | kNotOnGenerate | kNotOnUnwrap | kSensitive},
    {CKA_VALUE_LEN, kNotOnCreate | kMustOnGenerate},
};

struct Kind {
  CK_OBJECT_CLASS cls;
  CK_ULONG subtype;
};

void default_bool(AttributeMap& m, CK_ATTRIBUTE_TYPE t, bool v) {
  if (m.count(t) == 0) set_bool(m, t, v);
}
void default_ulong(AttributeMap& m, CK_ATTRIBUTE_TYPE t, CK_ULONG v) {
  if (m.count(t) == 0) set_ulong(m, t, v);
}
void default_empty(AttributeMap& m, CK_ATTRIBUTE_TYPE t) {
  if (m.count(t) == 0) m[t] = SecureBytes{};
}

}  // namespace

void fill_defaults(AttributeMap& m, CK_OBJECT_CLASS cls, CK_ULONG subtype) {
  const Kind k{cls, subtype};
  const bool secret_or_private = k.cls == CKO_PRIVATE_KEY || k.cls == CKO_SECRET_KEY;
  default_bool(m, CKA_TOKEN, false);
  default_bool(m, CKA_PRIVATE, secret_or_private);  // token-specific: keys with secrets need login
  default_bool(m, CKA_MODIFIABLE, true);
  default_bool(m, CKA_COPYABLE, true);
  default_bool(m, CKA_DESTROYABLE, true);
  default_empty(m, CKA_LABEL);
  switch (k.cls) {
    case CKO_DATA:
      for (auto t : {CKA_APPLICATION, CKA_OBJECT_ID, CKA_VALUE}) default_empty(m, t);
      return;
    case CKO_CERTIFICATE:
      default_bool(m, CKA_TRUSTED, false);
      default_ulong(m, CKA_CERTIFICATE_CATEGORY, 0);  // CK_CERTIFICATE_CATEGORY_UNSPECIFIED
      default_ulong(m, CKA_JAVA_MIDP_SECURITY_DOMAIN, 0);
      for (auto t : {CKA_START_DATE, CKA_END_DATE, CKA_PUBLIC_KEY_INFO, CKA_ID, CKA_ISSUER, CKA_SERIAL_NUMBER,
                     CKA_URL, CKA_HASH_OF_SUBJECT_PUBLIC_KEY, CKA_HASH_OF_ISSUER_PUBLIC_KEY})
        default_empty(m, t);
      return;
    default:
      break;
  }
  // Keys (4.7). An empty CKA_ALLOWED_MECHANISMS means "no restriction".
  for (auto t : {CKA_ID, CKA_START_DATE, CKA_END_DATE, CKA_ALLOWED_MECHANISMS}) default_empty(m, t);
  default_bool(m, CKA_DERIVE, false);
  const bool rsa = k.subtype == CKK_RSA;
  if (k.cls == CKO_PUBLIC_KEY) {
    default_empty(m, CKA_SUBJECT);
    default_empty(m, CKA_PUBLIC_KEY_INFO);
    default_bool(m, CKA_VERIFY, true);
    default_bool(m, CKA_ENCRYPT, rsa);  // EC keys cannot encrypt or wrap: do not claim they can
    default_bool(m, CKA_WRAP, rsa);
    default_bool(m, CKA_VERIFY_RECOVER, false);
    default_bool(m, CKA_TRUSTED, false);
    return;
  }
  // Private and secret keys. CKA_SENSITIVE and CKA_EXTRACTABLE are footnote 9 ("token-specific"): this token
  // defaults to the safe side, sensitive and not extractable, for every origin. A caller who wants to wrap
  // or read a key out says so explicitly (pkcs11-tool --test needs neither).
  default_bool(m, CKA_SENSITIVE, true);
  default_bool(m, CKA_EXTRACTABLE, false);
  default_bool(m, CKA_WRAP_WITH_TRUSTED, false);
  if (k.cls == CKO_PRIVATE_KEY) {
    default_empty(m, CKA_SUBJECT);
    default_empty(m, CKA_PUBLIC_KEY_INFO);  // "MAY be empty"; the lead fills it from the public key
    default_bool(m, CKA_SIGN, true);
    default_bool(m, CKA_DECRYPT, rsa);
    default_bool(m, CKA_UNWRAP, rsa);
    default_bool(m, CKA_SIGN_RECOVER, false);
    default_bool(m, CKA_ALWAYS_AUTHENTICATE, false);  // never by default: ssh-agent cannot re-prompt
    return;
  }
  for (auto t : {CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP}) default_bool(m, t, true);
  default_bool(m, CKA_TRUSTED, false);
}


CK_ATTRIBUTE_TYPE subtype_attribute(CK_OBJECT_CLASS cls) {
  switch (cls) {
    case CKO_PUBLIC_KEY: case CKO_PRIVATE_KEY: case CKO_SECRET_KEY: return CKA_KEY_TYPE;
    case CKO_CERTIFICATE: return CKA_CERTIFICATE_TYPE;
    default: return CK_UNAVAILABLE_INFORMATION;
  }
}

void check_class_supported(CK_OBJECT_CLASS cls) {
  switch (cls) {
    case CKO_DATA: case CKO_CERTIFICATE: case CKO_PUBLIC_KEY: case CKO_PRIVATE_KEY: case CKO_SECRET_KEY:
      return;
    case CKO_HW_FEATURE: case CKO_DOMAIN_PARAMETERS: case CKO_MECHANISM: case CKO_OTP_KEY:
    case 9 /* CKO_PROFILE (3.0) */:
      // A class the spec defines but this token cannot hold: a token-specific inconsistency (4.1.1 rule 5).
      fail(CKR_TEMPLATE_INCONSISTENT, "object class not supported by this token");
    default:
      // Vendor classes are valid values with unknown meaning; anything else is not a CK_OBJECT_CLASS at all.
      require((cls & CKO_VENDOR_DEFINED) != 0, CKR_ATTRIBUTE_VALUE_INVALID, "CKA_CLASS is not a defined class");
      fail(CKR_TEMPLATE_INCONSISTENT, "vendor object class not supported by this token");
  }
}

RuleSet rules_for(CK_OBJECT_CLASS cls, CK_ULONG subtype) {
  check_class_supported(cls);
  switch (cls) {
    case CKO_DATA:
      return RuleSet{{kStorage, kData}};
    case CKO_CERTIFICATE:
      require(subtype == CKC_X_509, CKR_TEMPLATE_INCONSISTENT, "only CKC_X_509 certificates are supported");
      return RuleSet{{kStorage, kCertificate, kX509}};
    case CKO_PUBLIC_KEY:
      switch (subtype) {
        case CKK_RSA: return RuleSet{{kStorage, kKey, kPublic, kRsaPublic}};
        case CKK_EC: case CKK_EC_EDWARDS: return RuleSet{{kStorage, kKey, kPublic, kEcPublic}};
        default: fail(CKR_TEMPLATE_INCONSISTENT, "public key type not supported");
      }
    case CKO_PRIVATE_KEY:
      switch (subtype) {
        case CKK_RSA: return RuleSet{{kStorage, kKey, kPrivate, kRsaPrivate}};
        case CKK_EC: case CKK_EC_EDWARDS: return RuleSet{{kStorage, kKey, kPrivate, kEcPrivate}};
        default: fail(CKR_TEMPLATE_INCONSISTENT, "private key type not supported");
      }
    default:  // CKO_SECRET_KEY
      require(subtype == CKK_AES || subtype == CKK_GENERIC_SECRET || subtype == CKK_HKDF, CKR_TEMPLATE_INCONSISTENT,
              "secret key type not supported");
      return RuleSet{{kStorage, kKey, kSecret, kValueSecret}};
  }
}

}  // namespace keyseal::core::rules
