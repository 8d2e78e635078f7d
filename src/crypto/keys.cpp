// Asymmetric key import from PKCS#11 attribute values and key-pair generation (PKCS#11 3.0 current
// mechanisms 2.1.3-2.1.5 RSA keys, 2.3.3-2.3.5 EC and Edwards keys), all on the module's library context.
#include "crypto/key_state.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <vector>

namespace keyseal::crypto {

// ---- PKey ----
PKey::PKey() = default;
PKey::PKey(std::shared_ptr<const State> s) : s_(std::move(s)) {}
PKey::operator bool() const { return s_ && s_->pkey; }
evp_pkey_st* PKey::get() const { return s_ ? s_->pkey.get() : nullptr; }
size_t PKey::bits() const { return s_ ? s_->bits : 0; }
size_t PKey::signature_size() const { return s_ ? s_->signature_size : 0; }
KeyKind PKey::kind() const { return s_ ? s_->kind : KeyKind::none; }
Curve PKey::curve() const { return s_ ? s_->curve : Curve::none; }
bool PKey::has_private() const { return s_ && s_->has_private; }

PKey make_pkey(PkeyPtr p, KeyKind kind, Curve curve, bool has_private) {
  auto s = std::make_shared<PKey::State>();
  s->kind = kind;
  s->curve = curve;
  s->has_private = has_private;
  if (kind == KeyKind::rsa) {
    s->bits = static_cast<size_t>(EVP_PKEY_get_bits(p.get()));
    s->signature_size = static_cast<size_t>(EVP_PKEY_get_size(p.get()));
  } else {
    const CurveInfo& ci = curve_info(curve);
    s->bits = ci.bits;
    s->signature_size = 2 * ci.field_bytes;
  }
  s->pkey = std::move(p);
  return PKey(std::move(s));
}

namespace {

// Key types are named to OpenSSL by OID, not by "RSA"/"EC"/"ED25519": OpenSSL 3.0 maps those short names to
// legacy NIDs and, when an application has made an ENGINE the default for them (openssl -engine pkcs11, curl
// --engine), hands back the engine's legacy method even inside our own library context, which cannot build
// keys from parameters. An OID has no legacy NID, so the provider's key manager is always the one found.
constexpr const char* kRsaType = "1.2.840.113549.1.1.1";
constexpr const char* kEcType = "1.2.840.10045.2.1";
constexpr const char* kEd25519Type = "1.3.101.112";
constexpr const char* kEd448Type = "1.3.101.113";

const char* ed_type(Curve c) { return c == Curve::ed448 ? kEd448Type : kEd25519Type; }

PkeyPtr from_params(const char* type, int selection, OSSL_PARAM_BLD* bld, CK_RV rv, const char* what) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  if (!params) ossl_fail(CKR_HOST_MEMORY, "OSSL_PARAM_BLD_to_param");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(libctx(), type, nullptr));
  if (!ctx) ossl_fail(CKR_HOST_MEMORY, "EVP_PKEY_CTX_new_from_name");
  ossl_check(EVP_PKEY_fromdata_init(ctx.get()), CKR_FUNCTION_FAILED, "fromdata init");
  EVP_PKEY* raw = nullptr;
  ossl_check(EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()), rv, what);
  return PkeyPtr(raw);
}

ParamBldPtr new_bld() {
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld) ossl_fail(CKR_HOST_MEMORY, "OSSL_PARAM_BLD_new");
  return bld;
}

// BIGNUMs pushed into a builder must outlive it until to_param; keep them here.
struct BnHolder {
  std::vector<BnPtr> bns;
  void push(OSSL_PARAM_BLD* bld, const char* key, ByteView v) {
    bns.push_back(to_bn(v));
    ossl_check(OSSL_PARAM_BLD_push_BN(bld, key, bns.back().get()), CKR_HOST_MEMORY, "push BN");
  }
};

SecureBytes bn_param(const EVP_PKEY* pk, const char* name, size_t pad_to = 0) {
  BIGNUM* raw = nullptr;
  ossl_check(EVP_PKEY_get_bn_param(pk, name, &raw), CKR_FUNCTION_FAILED, "get key parameter");
  BnPtr bn(raw);
  return from_bn(bn.get(), pad_to);
}

// Every component of an RSA private key, as big-endian bytes.
RsaKeyPair rsa_parts(const EVP_PKEY* pk) {
  RsaKeyPair kp;
  kp.n = bn_param(pk, OSSL_PKEY_PARAM_RSA_N);
  kp.e = bn_param(pk, OSSL_PKEY_PARAM_RSA_E);
  kp.d = bn_param(pk, OSSL_PKEY_PARAM_RSA_D);
  kp.p = bn_param(pk, OSSL_PKEY_PARAM_RSA_FACTOR1);
  kp.q = bn_param(pk, OSSL_PKEY_PARAM_RSA_FACTOR2);
  kp.dp = bn_param(pk, OSSL_PKEY_PARAM_RSA_EXPONENT1);
  kp.dq = bn_param(pk, OSSL_PKEY_PARAM_RSA_EXPONENT2);
  kp.qinv = bn_param(pk, OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
  return kp;
}

SecureBytes nist_public_point(Curve c, ByteView d) {
  const CurveInfo& ci = curve_info(c);
  EcGroupPtr group(EC_GROUP_new_by_curve_name_ex(libctx(), nullptr, OBJ_sn2nid(ci.group)));
  if (!group) ossl_fail(CKR_HOST_MEMORY, "EC_GROUP_new_by_curve_name_ex");
  BnPtr k = to_bn(d);
  require(!BN_is_zero(k.get()) && BN_cmp(k.get(), EC_GROUP_get0_order(group.get())) < 0,
          CKR_ATTRIBUTE_VALUE_INVALID, "EC private value out of range");
  EcPointPtr pt(EC_POINT_new(group.get()));
  BnCtxPtr bnctx(BN_CTX_new_ex(libctx()));
  if (!pt || !bnctx) ossl_fail(CKR_HOST_MEMORY, "EC_POINT_new");
  ossl_check(EC_POINT_mul(group.get(), pt.get(), k.get(), nullptr, nullptr, bnctx.get()), CKR_FUNCTION_FAILED,
             "EC_POINT_mul");
  SecureBytes out(1 + 2 * ci.field_bytes);
  size_t n = EC_POINT_point2oct(group.get(), pt.get(), POINT_CONVERSION_UNCOMPRESSED, out.data(), out.size(),
                                bnctx.get());
  if (n != out.size()) ossl_fail(CKR_FUNCTION_FAILED, "EC_POINT_point2oct");
  return out;
}

// The RFC 8032 private key (the seed that is hashed into scalar and prefix): 32 bytes Ed25519, 57 bytes Ed448.
PkeyPtr eddsa_private(Curve c, ByteView seed) {
  require(seed.size() == curve_info(c).field_bytes, CKR_ATTRIBUTE_VALUE_INVALID,
          c == Curve::ed448 ? "Ed448 private key must be 57 bytes" : "Ed25519 private key must be 32 bytes");
  PkeyPtr pk(EVP_PKEY_new_raw_private_key_ex(libctx(), ed_type(c), nullptr, seed.data(), seed.size()));
  if (!pk) ossl_fail(CKR_ATTRIBUTE_VALUE_INVALID, "EdDSA private key");
  return pk;
}

SecureBytes raw_public(const EVP_PKEY* pk) {
  SecureBytes out(57);  // the larger of Ed25519 (32) and Ed448 (57); trimmed to what OpenSSL writes
  size_t len = out.size();
  ossl_check(EVP_PKEY_get_raw_public_key(pk, out.data(), &len), CKR_FUNCTION_FAILED, "raw public key");
  out.resize(len);
  return out;
}

}  // namespace

PKey rsa_private_key(ByteView n, ByteView e, ByteView d, ByteView p, ByteView q, ByteView dp, ByteView dq,
                     ByteView qinv) {
  require(!n.empty() && !e.empty() && !d.empty(), CKR_TEMPLATE_INCOMPLETE, "RSA private key needs n, e, d");
  auto bld = new_bld();
  BnHolder h;
  h.push(bld.get(), OSSL_PKEY_PARAM_RSA_N, n);
  h.push(bld.get(), OSSL_PKEY_PARAM_RSA_E, e);
  h.push(bld.get(), OSSL_PKEY_PARAM_RSA_D, d);
  if (!p.empty() && !q.empty() && !dp.empty() && !dq.empty() && !qinv.empty()) {
    h.push(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR1, p);
    h.push(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR2, q);
    h.push(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1, dp);
    h.push(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2, dq);
    h.push(bld.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1, qinv);
  }
  auto pk = from_params(kRsaType, EVP_PKEY_KEYPAIR, bld.get(), CKR_ATTRIBUTE_VALUE_INVALID, "RSA private key");
  return make_pkey(std::move(pk), KeyKind::rsa, Curve::none, true);
}

PKey rsa_public_key(ByteView n, ByteView e) {
  require(!n.empty() && !e.empty(), CKR_TEMPLATE_INCOMPLETE, "RSA public key needs n and e");
  auto bld = new_bld();
  BnHolder h;
  h.push(bld.get(), OSSL_PKEY_PARAM_RSA_N, n);
  h.push(bld.get(), OSSL_PKEY_PARAM_RSA_E, e);
  auto pk = from_params(kRsaType, EVP_PKEY_PUBLIC_KEY, bld.get(), CKR_ATTRIBUTE_VALUE_INVALID, "RSA public key");
  return make_pkey(std::move(pk), KeyKind::rsa, Curve::none, false);
}

PKey ec_private_key(ByteView ec_params, ByteView d) {
  Curve c = ec_params_curve(ec_params);
  if (is_edwards(c)) return make_pkey(eddsa_private(c, d), KeyKind::eddsa, c, true);
  SecureBytes point = nist_public_point(c, d);
  auto bld = new_bld();
  BnHolder h;
  ossl_check(OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve_info(c).group, 0),
             CKR_HOST_MEMORY, "push group");
  h.push(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d);
  ossl_check(OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
             CKR_HOST_MEMORY, "push point");
  auto pk = from_params(kEcType, EVP_PKEY_KEYPAIR, bld.get(), CKR_ATTRIBUTE_VALUE_INVALID, "EC private key");
  return make_pkey(std::move(pk), KeyKind::ec, c, true);
}

PKey ec_public_key(ByteView ec_params, ByteView point) {
  Curve c = ec_params_curve(ec_params);
  SecureBytes raw = unwrap_ec_point(ec_params, point);
  if (is_edwards(c)) {
    PkeyPtr pk(EVP_PKEY_new_raw_public_key_ex(libctx(), ed_type(c), nullptr, raw.data(), raw.size()));
    if (!pk) ossl_fail(CKR_ATTRIBUTE_VALUE_INVALID, "EdDSA public key");
    return make_pkey(std::move(pk), KeyKind::eddsa, c, false);
  }
  auto bld = new_bld();
  ossl_check(OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve_info(c).group, 0),
             CKR_HOST_MEMORY, "push group");
  ossl_check(OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, raw.data(), raw.size()),
             CKR_HOST_MEMORY, "push point");
  // fromdata decodes the point, which rejects points not on the curve.
  auto pk = from_params(kEcType, EVP_PKEY_PUBLIC_KEY, bld.get(), CKR_ATTRIBUTE_VALUE_INVALID, "EC public key");
  return make_pkey(std::move(pk), KeyKind::ec, c, false);
}

RsaKeyPair generate_rsa(size_t bits, ByteView public_exponent) {
  require(bits >= 1024 && bits <= 8192, CKR_KEY_SIZE_RANGE, "RSA modulus bits out of range");
  static const uint8_t f4[] = {0x01, 0x00, 0x01};
  ByteView e = public_exponent.empty() ? ByteView(f4, 3) : public_exponent;
  BnPtr ebn = to_bn(e);
  require(BN_is_odd(ebn.get()) && BN_num_bits(ebn.get()) >= 2 && BN_num_bits(ebn.get()) <= 256,
          CKR_ATTRIBUTE_VALUE_INVALID, "RSA public exponent must be odd and > 1");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(libctx(), kRsaType, nullptr));
  if (!ctx) ossl_fail(CKR_HOST_MEMORY, "EVP_PKEY_CTX_new_from_name");
  ossl_check(EVP_PKEY_keygen_init(ctx.get()), CKR_FUNCTION_FAILED, "keygen init");
  ossl_check(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(bits)), CKR_KEY_SIZE_RANGE, "RSA bits");
  ossl_check(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), ebn.get()), CKR_ATTRIBUTE_VALUE_INVALID, "RSA e");
  EVP_PKEY* raw = nullptr;
  ossl_check(EVP_PKEY_generate(ctx.get(), &raw), CKR_FUNCTION_FAILED, "RSA key generation");
  PkeyPtr pk(raw);
  return rsa_parts(pk.get());
}

EcKeyPair generate_ec(ByteView ec_params) {
  Curve c = ec_params_curve(ec_params);
  const CurveInfo& ci = curve_info(c);
  bool ed = is_edwards(c);
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(libctx(), ed ? ed_type(c) : kEcType, nullptr));
  if (!ctx) ossl_fail(CKR_HOST_MEMORY, "EVP_PKEY_CTX_new_from_name");
  ossl_check(EVP_PKEY_keygen_init(ctx.get()), CKR_FUNCTION_FAILED, "keygen init");
  if (!ed) ossl_check(EVP_PKEY_CTX_set_group_name(ctx.get(), ci.group), CKR_FUNCTION_FAILED, "EC group");
  EVP_PKEY* raw = nullptr;
  ossl_check(EVP_PKEY_generate(ctx.get(), &raw), CKR_FUNCTION_FAILED, "EC key generation");
  PkeyPtr pk(raw);
  EcKeyPair kp;
  if (ed) {
    kp.d.resize(ci.field_bytes);
    size_t len = kp.d.size();
    ossl_check(EVP_PKEY_get_raw_private_key(pk.get(), kp.d.data(), &len), CKR_FUNCTION_FAILED, "raw private key");
    kp.point = raw_public(pk.get());
    return kp;
  }
  kp.d = bn_param(pk.get(), OSSL_PKEY_PARAM_PRIV_KEY, ci.field_bytes);
  kp.point.resize(1 + 2 * ci.field_bytes);
  size_t len = 0;
  ossl_check(EVP_PKEY_get_octet_string_param(pk.get(), OSSL_PKEY_PARAM_PUB_KEY, kp.point.data(), kp.point.size(),
                                             &len),
             CKR_FUNCTION_FAILED, "EC public point");
  require(len == kp.point.size() && kp.point[0] == 0x04, CKR_GENERAL_ERROR, "EC point not uncompressed");
  return kp;
}

SecureBytes ec_public_point(ByteView ec_params, ByteView d) {
  Curve c = ec_params_curve(ec_params);
  if (is_edwards(c)) return raw_public(eddsa_private(c, d).get());
  return nist_public_point(c, d);
}

SecureBytes public_key_info(const PKey& k) {
  require(static_cast<bool>(k), CKR_KEY_HANDLE_INVALID, "public_key_info: no key");
  int len = i2d_PUBKEY(k.get(), nullptr);
  if (len <= 0) ossl_fail(CKR_FUNCTION_FAILED, "i2d_PUBKEY");
  SecureBytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  if (i2d_PUBKEY(k.get(), &p) != len) ossl_fail(CKR_FUNCTION_FAILED, "i2d_PUBKEY");
  return out;
}

Pkcs8Key parse_pkcs8(ByteView der) {
  const unsigned char* p = der.data();
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, decltype(&PKCS8_PRIV_KEY_INFO_free)> p8(
      d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())), &PKCS8_PRIV_KEY_INFO_free);
  ERR_clear_error();
  require(p8 && p == der.data() + der.size(), CKR_WRAPPED_KEY_INVALID, "not a PKCS#8 PrivateKeyInfo");
  PkeyPtr pk(EVP_PKCS82PKEY_ex(p8.get(), libctx(), nullptr));
  ERR_clear_error();
  require(pk != nullptr, CKR_WRAPPED_KEY_INVALID, "the PKCS#8 key cannot be decoded");
  Pkcs8Key out;
  if (EVP_PKEY_is_a(pk.get(), "RSA")) {
    out.rsa = true;
    out.rsa_key = rsa_parts(pk.get());
    return out;
  }
  const bool ed448 = EVP_PKEY_is_a(pk.get(), "ED448");
  if (ed448 || EVP_PKEY_is_a(pk.get(), "ED25519")) {
    const Curve c = ed448 ? Curve::ed448 : Curve::ed25519;
    out.ec_params = ec_params_der(c);
    SecureBytes d(curve_info(c).field_bytes);
    size_t len = d.size();
    ossl_check(EVP_PKEY_get_raw_private_key(pk.get(), d.data(), &len), CKR_WRAPPED_KEY_INVALID, "EdDSA key");
    require(len == d.size(), CKR_WRAPPED_KEY_INVALID, "EdDSA private key of the wrong length");
    out.ec_key.d = std::move(d);
    out.ec_key.point = ec_public_point(view(out.ec_params), view(out.ec_key.d));
    return out;
  }
  require(EVP_PKEY_is_a(pk.get(), "EC"), CKR_WRAPPED_KEY_INVALID, "the PKCS#8 key is not RSA, EC, Ed25519 or Ed448");
  char group[64] = {};
  size_t glen = 0;
  ossl_check(EVP_PKEY_get_utf8_string_param(pk.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &glen),
             CKR_WRAPPED_KEY_INVALID, "EC key without a named curve");
  for (Curve c : {Curve::p256, Curve::p384, Curve::p521}) {
    const CurveInfo& ci = curve_info(c);
    if (std::string_view(group) != ci.group) continue;
    out.ec_params = ec_params_der(c);
    out.ec_key.d = bn_param(pk.get(), OSSL_PKEY_PARAM_PRIV_KEY, ci.field_bytes);
    out.ec_key.point = nist_public_point(c, view(out.ec_key.d));
    return out;
  }
  fail(CKR_CURVE_NOT_SUPPORTED, std::string("curve ") + group + " is not supported");
}

}  // namespace keyseal::crypto
