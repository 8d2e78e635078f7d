// Key creation, import and the object attributes of TPM keys (PKCS#11 3.0 current mechanisms 2.1.4 RSA and
// 2.3.3 EC key objects; TPM 2.0 Part 2 section 12.2 TPMT_PUBLIC, 12.3 TPMT_SENSITIVE).
#include "tpm/key_blobs.h"

#include "common/log.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "tpm/tss_errors.h"

#include <tss2/tss2_mu.h>

#include <algorithm>
#include <cstring>

namespace keyseal::tpm {

using core::AttributeMap;

namespace {

constexpr size_t kAuthSize = 32;  // = SHA-256 name algorithm digest size, the largest authValue it allows

ByteView attr(const AttributeMap& a, CK_ATTRIBUTE_TYPE t) {
  const SecureBytes* v = core::get_bytes(a, t);
  return v ? view(*v) : ByteView();
}

template <class B>
void put(B& dst, ByteView src, size_t pad_to = 0) {
  const size_t n = std::max(src.size(), pad_to);
  require(n <= sizeof dst.buffer, CKR_ATTRIBUTE_VALUE_INVALID, "value too large for the TPM");
  std::memset(dst.buffer, 0, n);
  if (!src.empty()) std::memcpy(dst.buffer + (n - src.size()), src.data(), src.size());
  dst.size = static_cast<UINT16>(n);
}

ByteView strip_zeros(ByteView v) {
  while (!v.empty() && v[0] == 0) v = v.subspan(1);
  return v;
}

TPMA_OBJECT key_attributes(bool created_inside) {
  TPMA_OBJECT a = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_NODA;
  // noDA: the authValue is 32 random bytes, not a PIN; the PIN's sealed object is the DA-protected one.
  if (created_inside) a |= TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN;
  return a;
}

TPM2B_PUBLIC rsa_template(uint16_t bits, uint32_t exponent, bool inside) {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_RSA;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = key_attributes(inside);
  p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;  // any scheme per operation
  p.parameters.rsaDetail.keyBits = bits;
  p.parameters.rsaDetail.exponent = exponent == 65537 ? 0 : exponent;
  return t;
}

TPM2B_PUBLIC ec_template(TPMI_ECC_CURVE curve, bool inside) {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = key_attributes(inside);
  p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
  p.parameters.eccDetail.curveID = curve;
  p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

SecureBytes be_bytes(uint32_t v) {
  SecureBytes b;
  for (int s = 24; s >= 0; s -= 8)
    if (!b.empty() || ((v >> s) & 0xFF) != 0) b.push_back(static_cast<uint8_t>(v >> s));
  return b;
}

uint32_t exponent_of(ByteView e) {
  e = strip_zeros(e);
  if (e.empty()) return 65537;
  require(e.size() <= 4, CKR_ATTRIBUTE_VALUE_INVALID, "the TPM takes public exponents of at most 32 bits");
  uint32_t v = 0;
  for (uint8_t b : e) v = (v << 8) | b;
  return v;
}

crypto::Curve curve_of(TPMI_ECC_CURVE c) {
  switch (c) {
    case TPM2_ECC_NIST_P256: return crypto::Curve::p256;
    case TPM2_ECC_NIST_P384: return crypto::Curve::p384;
    case TPM2_ECC_NIST_P521: return crypto::Curve::p521;
    default: fail(CKR_CURVE_NOT_SUPPORTED, "TPM key on a curve PKCS#11 callers cannot name");
  }
}

// The uncompressed point 04||x||y of a TPM EC public area.
SecureBytes ec_point_of(const TPMT_PUBLIC& p) {
  const size_t len = curve_bytes(p.parameters.eccDetail.curveID);
  SecureBytes point(1 + 2 * len, 0);
  point[0] = 0x04;
  const auto& x = p.unique.ecc.x;
  const auto& y = p.unique.ecc.y;
  require(x.size <= len && y.size <= len, CKR_DEVICE_ERROR, "TPM returned a malformed EC point");
  std::memcpy(point.data() + 1 + len - x.size, x.buffer, x.size);
  std::memcpy(point.data() + 1 + 2 * len - y.size, y.buffer, y.size);
  return point;
}

// CKA_MODULUS/CKA_PUBLIC_EXPONENT or CKA_EC_PARAMS/CKA_EC_POINT from the TPM's public area; the public key
// info on both objects.
void put_public_values(const TPMT_PUBLIC& p, AttributeMap* pub, AttributeMap& priv) {
  if (p.type == TPM2_ALG_RSA) {
    const ByteView n(p.unique.rsa.buffer, p.unique.rsa.size);
    const SecureBytes e = be_bytes(p.parameters.rsaDetail.exponent ? p.parameters.rsaDetail.exponent : 65537);
    const SecureBytes info = crypto::public_key_info(crypto::rsa_public_key(n, view(e)));
    for (AttributeMap* a : {pub, &priv}) {
      if (!a) continue;
      core::set_bytes(*a, CKA_MODULUS, n);
      core::set_bytes(*a, CKA_PUBLIC_EXPONENT, view(e));
      core::set_bytes(*a, CKA_PUBLIC_KEY_INFO, view(info));
    }
    if (pub) core::set_ulong(*pub, CKA_MODULUS_BITS, p.parameters.rsaDetail.keyBits);
    return;
  }
  const SecureBytes point = ec_point_of(p);
  const SecureBytes params = crypto::ec_params_der(curve_of(p.parameters.eccDetail.curveID));
  const SecureBytes info = crypto::public_key_info(crypto::ec_public_key(view(params), view(point)));
  for (AttributeMap* a : {pub, &priv}) {
    if (!a) continue;
    core::set_bytes(*a, CKA_EC_PARAMS, view(params));
    core::set_bytes(*a, CKA_PUBLIC_KEY_INFO, view(info));
  }
  if (pub) core::set_bytes(*pub, CKA_EC_POINT, view(crypto::der_octet_string(view(point))));
}

void store_blobs(AttributeMap& priv, const TPM2B_PUBLIC& pub, const TPM2B_PRIVATE& blob, const TPM2B_NAME& parent,
                 ByteView auth) {
  core::set_bytes(priv, kAttrPublic, view(marshal_public(pub)));
  core::set_bytes(priv, kAttrPrivate, view(marshal_private(blob)));
  core::set_bytes(priv, kAttrParent, ByteView(parent.name, parent.size));
  core::set_bytes(priv, kAttrAuth, auth);
}

TPM2B_AUTH auth_of(ByteView a) {
  TPM2B_AUTH t{};
  put(t, a);
  return t;
}

bool same(ByteView a, ByteView b) { return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin()); }

// The key a blob holds must be the key the object describes. A key that claims it was made in the token
// (CKA_LOCAL) or never left it (CKA_NEVER_EXTRACTABLE) must be one the TPM made and cannot export:
// fixedTPM, fixedParent and sensitiveDataOrigin (an imported key has none of them, and says CKA_LOCAL false).
// Its public values must be the blob's: a blob swapped in from another key (say one the attacker imported
// under the same SRK) is refused even if the record itself were not authenticated.
void check_blob_fits(const AttributeMap& a, const TPMT_PUBLIC& p) {
  auto refuse = [](const std::string& why) {
    log::error("TPM token: key refused at load: " + why);
    fail(CKR_KEY_HANDLE_INVALID, "the key's TPM blob " + why);
  };
  constexpr TPMA_OBJECT kMadeInside =
      TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN;
  const bool claims_inside = core::get_bool(a, CKA_LOCAL).value_or(false) ||
                             core::get_bool(a, CKA_NEVER_EXTRACTABLE).value_or(false);
  if (claims_inside && (p.objectAttributes & kMadeInside) != kMadeInside)
    refuse("lacks fixedTPM/fixedParent/sensitiveDataOrigin although the key claims CKA_LOCAL or "
           "CKA_NEVER_EXTRACTABLE");
  const CK_KEY_TYPE kt = core::get_ulong(a, CKA_KEY_TYPE).value_or(CK_UNAVAILABLE_INFORMATION);
  if (kt == CKK_RSA) {
    if (p.type != TPM2_ALG_RSA) refuse("is not an RSA key");
    const ByteView n = attr(a, CKA_MODULUS);
    if (!n.empty() && !same(strip_zeros(n), strip_zeros(ByteView(p.unique.rsa.buffer, p.unique.rsa.size))))
      refuse("holds another RSA modulus than the key's CKA_MODULUS");
  } else if (kt == CKK_EC) {
    if (p.type != TPM2_ALG_ECC) refuse("is not an EC key");
    const SecureBytes params = crypto::ec_params_der(curve_of(p.parameters.eccDetail.curveID));
    const ByteView have_params = attr(a, CKA_EC_PARAMS);
    if (!have_params.empty() && !same(have_params, view(params))) refuse("is on another curve than CKA_EC_PARAMS");
    const SecureBytes point = ec_point_of(p);
    const ByteView have_point = attr(a, CKA_EC_POINT), have_info = attr(a, CKA_PUBLIC_KEY_INFO);
    if (!have_point.empty() && !same(have_point, view(crypto::der_octet_string(view(point)))))
      refuse("holds another EC point than the key's CKA_EC_POINT");
    if (have_point.empty() && !have_info.empty() &&
        !same(have_info, view(crypto::public_key_info(crypto::ec_public_key(view(params), view(point))))))
      refuse("holds another EC public key than the key's CKA_PUBLIC_KEY_INFO");
  }
}

}  // namespace

SecureBytes marshal_public(const TPM2B_PUBLIC& p) {
  uint8_t buf[sizeof(TPM2B_PUBLIC)];
  size_t off = 0;
  const TSS2_RC rc = Tss2_MU_TPM2B_PUBLIC_Marshal(&p, buf, sizeof buf, &off);
  if (rc != TSS2_RC_SUCCESS) throw_tss(rc, "marshalling a TPM2B_PUBLIC");
  return to_bytes(buf, off);
}

SecureBytes marshal_private(const TPM2B_PRIVATE& p) {
  uint8_t buf[sizeof(TPM2B_PRIVATE)];
  size_t off = 0;
  const TSS2_RC rc = Tss2_MU_TPM2B_PRIVATE_Marshal(&p, buf, sizeof buf, &off);
  if (rc != TSS2_RC_SUCCESS) throw_tss(rc, "marshalling a TPM2B_PRIVATE");
  return to_bytes(buf, off);
}

TPM2B_PUBLIC unmarshal_public(ByteView b) {
  TPM2B_PUBLIC p{};
  size_t off = 0;
  if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(b.data(), b.size(), &off, &p) != TSS2_RC_SUCCESS || off != b.size())
    fail(CKR_DEVICE_ERROR, "stored TPM public area is malformed");
  return p;
}

TPM2B_PRIVATE unmarshal_private(ByteView b) {
  TPM2B_PRIVATE p{};
  size_t off = 0;
  if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(b.data(), b.size(), &off, &p) != TSS2_RC_SUCCESS || off != b.size())
    fail(CKR_DEVICE_ERROR, "stored TPM private blob is malformed");
  return p;
}

KeyBlobs blobs_of(const AttributeMap& a) {
  const SecureBytes* pub = core::get_bytes(a, kAttrPublic);
  const SecureBytes* priv = core::get_bytes(a, kAttrPrivate);
  require(pub && priv, CKR_KEY_HANDLE_INVALID, "this key is not held by the TPM");
  const SecureBytes* auth = core::get_bytes(a, kAttrAuth);
  require(auth != nullptr, CKR_USER_NOT_LOGGED_IN, "the key's TPM authorization is not unsealed (login needed)");
  KeyBlobs k;
  k.pub = unmarshal_public(view(*pub));
  check_blob_fits(a, k.pub.publicArea);
  k.priv = unmarshal_private(view(*priv));
  if (const SecureBytes* parent = core::get_bytes(a, kAttrParent)) {
    require(parent->size() <= sizeof k.parent.name, CKR_DEVICE_ERROR, "stored TPM parent name is malformed");
    if (!parent->empty()) std::memcpy(k.parent.name, parent->data(), parent->size());
    k.parent.size = static_cast<UINT16>(parent->size());
  }
  k.auth = *auth;
  // Identity in the loaded-object cache: both blobs (one public area can come with several private blobs,
  // e.g. the same key imported twice, one of them wrongly).
  k.id.assign(pub->begin(), pub->end());
  k.id.append(priv->begin(), priv->end());
  return k;
}

size_t curve_bytes(TPMI_ECC_CURVE c) {
  switch (c) {
    case TPM2_ECC_NIST_P256: return 32;
    case TPM2_ECC_NIST_P384: return 48;
    case TPM2_ECC_NIST_P521: return 66;
    default: fail(CKR_CURVE_NOT_SUPPORTED, "unsupported TPM curve");
  }
}

TPMI_ECC_CURVE tpm_curve_of(ByteView ec_params) {
  switch (crypto::ec_params_curve(ec_params)) {
    case crypto::Curve::p256: return TPM2_ECC_NIST_P256;
    case crypto::Curve::p384: return TPM2_ECC_NIST_P384;
    case crypto::Curve::p521: return TPM2_ECC_NIST_P521;
    default: fail(CKR_CURVE_NOT_SUPPORTED, "the TPM token has no such curve");
  }
}

void create_key_pair(Connection::Guard& g, CK_KEY_TYPE kt, AttributeMap& pub, AttributeMap& priv) {
  const TpmInfo& info = g.info();
  TPM2B_PUBLIC tmpl;
  if (kt == CKK_RSA) {
    const CK_ULONG bits = core::get_ulong(pub, CKA_MODULUS_BITS).value_or(0);
    // Not CKR_KEY_SIZE_RANGE: C_GenerateKeyPair does not list it (PKCS#11 3.0 section 5.18.3).
    require(bits <= 0xFFFF && info.rsa_bits.count(static_cast<uint16_t>(bits)) != 0, CKR_ATTRIBUTE_VALUE_INVALID,
            "this TPM cannot make RSA keys of that size");
    tmpl = rsa_template(static_cast<uint16_t>(bits), exponent_of(attr(pub, CKA_PUBLIC_EXPONENT)), true);
  } else {
    require(kt == CKK_EC, CKR_MECHANISM_INVALID, "the TPM token makes RSA and EC key pairs only");
    const TPMI_ECC_CURVE c = tpm_curve_of(attr(pub, CKA_EC_PARAMS));
    require(info.curves.count(c) != 0, CKR_CURVE_NOT_SUPPORTED, "this TPM does not have that curve");
    tmpl = ec_template(c, true);
  }
  const SecureBytes auth = crypto::random_bytes(kAuthSize);
  TPM2B_SENSITIVE_CREATE sens{};
  sens.sensitive.userAuth = auth_of(view(auth));
  TPM2B_PUBLIC out_pub{};
  TPM2B_PRIVATE out_priv{};
  Creation creation;
  const TSS2_RC rc = g.create(sens, tmpl, out_pub, out_priv, &creation);
  secure_wipe(&sens, sizeof sens);
  if (tpm_code(rc) == TPM2_RC_VALUE || tpm_code(rc) == TPM2_RC_KEY_SIZE)
    fail(CKR_TEMPLATE_INCONSISTENT, "the TPM refused the key parameters: " + describe(rc));
  g.check(rc, "TPM2_Create");
  put_public_values(out_pub.publicArea, &pub, priv);
  store_blobs(priv, out_pub, out_priv, g.parent_name(), view(auth));
  if (creation.ticket.tag == TPM2_ST_CREATION) {
    uint8_t buf[sizeof(TPM2B_DIGEST) + sizeof(TPMT_TK_CREATION)];
    size_t off = 0;
    if (Tss2_MU_TPM2B_DIGEST_Marshal(&creation.hash, buf, sizeof buf, &off) == TSS2_RC_SUCCESS)
      core::set_bytes(priv, kAttrCreationHash, ByteView(buf, off));
    off = 0;
    if (Tss2_MU_TPMT_TK_CREATION_Marshal(&creation.ticket, buf, sizeof buf, &off) == TSS2_RC_SUCCESS)
      core::set_bytes(priv, kAttrCreationTicket, ByteView(buf, off));
  }
}

std::optional<Creation> creation_of(const AttributeMap& a) {
  const auto h = a.find(kAttrCreationHash);
  const auto t = a.find(kAttrCreationTicket);
  if (h == a.end() || t == a.end()) return std::nullopt;
  Creation c;
  size_t off = 0;
  if (Tss2_MU_TPM2B_DIGEST_Unmarshal(h->second.data(), h->second.size(), &off, &c.hash) != TSS2_RC_SUCCESS ||
      off != h->second.size())
    return std::nullopt;
  off = 0;
  if (Tss2_MU_TPMT_TK_CREATION_Unmarshal(t->second.data(), t->second.size(), &off, &c.ticket) != TSS2_RC_SUCCESS ||
      off != t->second.size())
    return std::nullopt;
  return c;
}

void import_private_key(Connection::Guard& g, AttributeMap& key) {
  const CK_KEY_TYPE kt = core::get_ulong(key, CKA_KEY_TYPE).value_or(CK_UNAVAILABLE_INFORMATION);
  const TpmInfo& info = g.info();
  TPM2B_PUBLIC pub;
  TPM2B_SENSITIVE sens{};
  TPMT_SENSITIVE& s = sens.sensitiveArea;
  const SecureBytes auth = crypto::random_bytes(kAuthSize);
  s.authValue = auth_of(view(auth));
  if (kt == CKK_RSA) {
    const ByteView n = strip_zeros(attr(key, CKA_MODULUS)), p = strip_zeros(attr(key, CKA_PRIME_1));
    require(!p.empty(), CKR_TEMPLATE_INCOMPLETE, "the TPM needs CKA_PRIME_1 to import an RSA key");
    try {
      (void)crypto::rsa_private_key(n, attr(key, CKA_PUBLIC_EXPONENT), attr(key, CKA_PRIVATE_EXPONENT), p,
                                    attr(key, CKA_PRIME_2), attr(key, CKA_EXPONENT_1), attr(key, CKA_EXPONENT_2),
                                    attr(key, CKA_COEFFICIENT));
    } catch (const Error& e) {
      fail(CKR_ATTRIBUTE_VALUE_INVALID, "key values are not a valid RSA key: " + e.detail);
    }
    const size_t bits = n.size() * 8;
    // C_CreateObject and C_UnwrapKey land here; neither lists CKR_KEY_SIZE_RANGE (sections 5.7, 5.18.5).
    require(info.rsa_bits.count(static_cast<uint16_t>(bits)) != 0, CKR_ATTRIBUTE_VALUE_INVALID,
            "this TPM cannot hold RSA keys of that size");
    require(p.size() * 2 <= n.size(), CKR_ATTRIBUTE_VALUE_INVALID, "CKA_PRIME_1 is larger than half the modulus");
    pub = rsa_template(static_cast<uint16_t>(bits), exponent_of(attr(key, CKA_PUBLIC_EXPONENT)), false);
    put(pub.publicArea.unique.rsa, n);
    s.sensitiveType = TPM2_ALG_RSA;
    put(s.sensitive.rsa, p, n.size() / 2);
  } else {
    require(kt == CKK_EC, CKR_KEY_TYPE_INCONSISTENT, "the TPM token imports RSA and EC private keys only");
    const ByteView params = attr(key, CKA_EC_PARAMS);
    const TPMI_ECC_CURVE c = tpm_curve_of(params);
    require(info.curves.count(c) != 0, CKR_CURVE_NOT_SUPPORTED, "this TPM does not have that curve");
    SecureBytes point;
    try {
      (void)crypto::ec_private_key(params, attr(key, CKA_VALUE));
      point = crypto::ec_public_point(params, attr(key, CKA_VALUE));
    } catch (const Error& e) {
      fail(CKR_ATTRIBUTE_VALUE_INVALID, "key values are not a valid EC key: " + e.detail);
    }
    const size_t len = curve_bytes(c);
    require(point.size() == 1 + 2 * len, CKR_ATTRIBUTE_VALUE_INVALID, "unexpected EC point size");
    pub = ec_template(c, false);
    put(pub.publicArea.unique.ecc.x, ByteView(point.data() + 1, len));
    put(pub.publicArea.unique.ecc.y, ByteView(point.data() + 1 + len, len));
    s.sensitiveType = TPM2_ALG_ECC;
    put(s.sensitive.ecc, strip_zeros(attr(key, CKA_VALUE)), len);
  }
  // No outer wrapper (inSymSeed empty) and no inner wrapper (symmetricAlg NULL): `duplicate` is the
  // marshalled TPM2B_SENSITIVE itself. fixedTPM/fixedParent must be clear on such an object.
  TPM2B_PRIVATE dup{};
  size_t off = 0;
  TSS2_RC rc = Tss2_MU_TPM2B_SENSITIVE_Marshal(&sens, dup.buffer, sizeof dup.buffer, &off);
  secure_wipe(&sens, sizeof sens);
  if (rc != TSS2_RC_SUCCESS) {
    secure_wipe(&dup, sizeof dup);
    throw_tss(rc, "marshalling the key for TPM2_Import");
  }
  dup.size = static_cast<UINT16>(off);
  TPM2B_DATA no_key{};
  TPM2B_ENCRYPTED_SECRET no_seed{};
  TPMT_SYM_DEF_OBJECT no_sym{};
  no_sym.algorithm = TPM2_ALG_NULL;
  TPM2B_PRIVATE* out = nullptr;
  rc = g.retrying([&] {
    return Esys_Import(g.ctx(), g.parent(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &no_key, &pub, &dup,
                       &no_seed, &no_sym, &out);
  });
  secure_wipe(&dup, sizeof dup);
  std::unique_ptr<TPM2B_PRIVATE, decltype(&Esys_Free)> hold(out, &Esys_Free);
  if (tpm_code(rc) == TPM2_RC_VALUE || tpm_code(rc) == TPM2_RC_KEY || tpm_code(rc) == TPM2_RC_BINDING)
    fail(CKR_ATTRIBUTE_VALUE_INVALID, "the TPM refused the key: " + describe(rc));
  g.check(rc, "TPM2_Import");
  for (CK_ATTRIBUTE_TYPE t : {CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2,
                              CKA_COEFFICIENT, CKA_VALUE})
    key.erase(t);
  put_public_values(pub.publicArea, nullptr, key);
  store_blobs(key, pub, *out, g.parent_name(), view(auth));
}

}  // namespace keyseal::tpm
