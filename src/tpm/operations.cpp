// TPM signing, decryption and ECDH (TPM 2.0 Part 3 sections 20.2, 14.3, 14.5) with the PKCS#11 encodings
// around them (current mechanisms 2.1 RSA, 2.3 EC: ECDSA signatures are r||s, each the order's size).
#include "tpm/operations.h"

#include "core/mechanisms.h"
#include "crypto/digest.h"
#include "crypto/hash_then_sign.h"
#include "crypto/keys.h"
#include "tpm/key_blobs.h"
#include "tpm/rsa_padding.h"
#include "tpm/tss_errors.h"

#include <cstring>

namespace keyseal::tpm {

namespace {

enum class Kind { rsa_pkcs, rsa_x509, rsa_pss, ecdsa };

template <class T>
using EsysPtr = std::unique_ptr<T, decltype(&Esys_Free)>;

template <class B>
void put(B& dst, ByteView src) {
  require(src.size() <= sizeof dst.buffer, CKR_DATA_LEN_RANGE, "input too long for the TPM");
  if (!src.empty()) std::memcpy(dst.buffer, src.data(), src.size());
  dst.size = static_cast<UINT16>(src.size());
}

SecureBytes left_pad(const uint8_t* p, size_t n, size_t to) {
  require(n <= to, CKR_DEVICE_ERROR, "TPM returned an oversized value");
  SecureBytes out(to - n, 0);
  out.insert(out.end(), p, p + n);
  return out;
}

size_t modulus_bytes(const KeyBlobs& k) { return k.pub.publicArea.parameters.rsaDetail.keyBits / 8; }

bool is_rsa(const KeyBlobs& k) { return k.pub.publicArea.type == TPM2_ALG_RSA; }

// Raw RSA with the private key (TPM2_RSA_Decrypt, scheme NULL): m^d mod n, k bytes.
SecureBytes raw_rsa(Connection& c, const KeyBlobs& key, ByteView block, CK_RV value_error) {
  TPM2B_PUBLIC_KEY_RSA in{};
  put(in, block);
  TPMT_RSA_DECRYPT scheme{};
  scheme.scheme = TPM2_ALG_NULL;
  TPM2B_DATA label{};
  TPM2B_PUBLIC_KEY_RSA* out = nullptr;
  auto g = c.lock();
  const TSS2_RC rc = g.retrying(
      [&] {
        return Esys_RSA_Decrypt(g.ctx(), g.load(key), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &in, &scheme,
                                &label, &out);
      },
      true);
  EsysPtr<TPM2B_PUBLIC_KEY_RSA> hold(out, &Esys_Free);
  if (tpm_code(rc) == TPM2_RC_VALUE || tpm_code(rc) == TPM2_RC_SIZE) fail(value_error, "the TPM refused the input");
  g.check(rc, "TPM2_RSA_Decrypt");
  SecureBytes r = left_pad(out->buffer, out->size, modulus_bytes(key));
  secure_wipe(out->buffer, out->size);
  return r;
}

// TPM2_Sign of a digest with the given scheme (no ticket: the keys are unrestricted).
EsysPtr<TPMT_SIGNATURE> tpm_sign(Connection& c, const KeyBlobs& key, ByteView digest, TPMI_ALG_SIG_SCHEME scheme,
                                 TPMI_ALG_HASH hash) {
  TPM2B_DIGEST d{};
  put(d, digest);
  TPMT_SIG_SCHEME s{};
  s.scheme = scheme;
  s.details.any.hashAlg = hash;
  TPMT_TK_HASHCHECK ticket{};
  ticket.tag = TPM2_ST_HASHCHECK;
  ticket.hierarchy = TPM2_RH_NULL;
  TPMT_SIGNATURE* sig = nullptr;
  auto g = c.lock();
  const TSS2_RC rc = g.retrying(
      [&] { return Esys_Sign(g.ctx(), g.load(key), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d, &s, &ticket, &sig); },
      true);
  EsysPtr<TPMT_SIGNATURE> hold(sig, &Esys_Free);
  if (tpm_code(rc) == TPM2_RC_SIZE) fail(CKR_DATA_LEN_RANGE, "digest size does not fit the TPM's hash");
  g.check(rc, "TPM2_Sign");
  return hold;
}

TPMI_ALG_HASH hash_of_size(size_t n) {
  switch (n) {
    case 20: return TPM2_ALG_SHA1;
    case 32: return TPM2_ALG_SHA256;
    case 48: return TPM2_ALG_SHA384;
    case 64: return TPM2_ALG_SHA512;
    default: return TPM2_ALG_NULL;
  }
}

class Signer final : public crypto::HashThenSign {
 public:
  // soft_pss: PSS encoded here (salt length and MGF1 hash as the caller asked) and signed by the TPM's raw RSA.
  struct SoftPss {
    bool on = false;
    CK_MECHANISM_TYPE mgf_hash = 0;
    size_t salt_len = 0;
  };
  Signer(std::shared_ptr<Connection> c, std::shared_ptr<const KeyBlobs> k, Kind kind, CK_MECHANISM_TYPE digest,
         CK_MECHANISM_TYPE pss_hash, const TpmHashes& hashes, SoftPss soft_pss)
      : HashThenSign(digest), c_(std::move(c)), k_(std::move(k)), kind_(kind), pss_hash_(pss_hash),
        hashes_(hashes), soft_pss_(soft_pss) {}
  size_t output_size(size_t) const override {
    return kind_ == Kind::ecdsa ? 2 * curve_bytes(k_->pub.publicArea.parameters.eccDetail.curveID) : modulus_bytes(*k_);
  }

 private:
  SecureBytes sign_raw(ByteView in) override {
    const size_t k = kind_ == Kind::ecdsa ? 0 : modulus_bytes(*k_);
    switch (kind_) {
      case Kind::rsa_pkcs: {
        CK_MECHANISM_TYPE h = 0;
        ByteView digest;
        if (parse_digest_info(in, h, digest) && hashes_.has(h)) return rsassa(digest, h);
        return raw_rsa(*c_, *k_, view(pkcs1_type1(in, k)), CKR_DATA_INVALID);
      }
      case Kind::rsa_x509: {
        require(in.size() <= k, CKR_DATA_LEN_RANGE, "input longer than the modulus");
        SecureBytes block(k - in.size(), 0);
        block.insert(block.end(), in.begin(), in.end());
        return raw_rsa(*c_, *k_, view(block), CKR_DATA_INVALID);
      }
      case Kind::rsa_pss:
        require(in.size() == crypto::digest_size(pss_hash_), CKR_DATA_LEN_RANGE, "PSS input is not a digest");
        return pss(in);
      case Kind::ecdsa:
        return ecdsa(in);
    }
    fail(CKR_GENERAL_ERROR, "unknown signature kind");
  }
  SecureBytes sign_digest(ByteView digest, CK_MECHANISM_TYPE h) override {
    switch (kind_) {
      case Kind::rsa_pkcs: {
        if (hashes_.has(h)) return rsassa(digest, h);
        SecureBytes t = to_bytes(digest_info_prefix(h));
        t.insert(t.end(), digest.begin(), digest.end());
        return raw_rsa(*c_, *k_, view(pkcs1_type1(view(t), modulus_bytes(*k_))), CKR_DATA_INVALID);
      }
      case Kind::rsa_pss: return pss(digest);
      case Kind::ecdsa: return ecdsa(digest);
      default: fail(CKR_GENERAL_ERROR, "no hashed form of this mechanism");
    }
  }
  SecureBytes rsassa(ByteView digest, CK_MECHANISM_TYPE h) {
    auto sig = tpm_sign(*c_, *k_, digest, TPM2_ALG_RSASSA, tpm_hash(h));
    return left_pad(sig->signature.rsassa.sig.buffer, sig->signature.rsassa.sig.size, modulus_bytes(*k_));
  }
  SecureBytes pss(ByteView digest) {
    if (soft_pss_.on) {
      const size_t bits = k_->pub.publicArea.parameters.rsaDetail.keyBits;
      return raw_rsa(*c_, *k_, view(pss_encode(digest, pss_hash_, soft_pss_.mgf_hash, soft_pss_.salt_len, bits)),
                     CKR_DATA_INVALID);
    }
    auto sig = tpm_sign(*c_, *k_, digest, TPM2_ALG_RSAPSS, tpm_hash(pss_hash_));
    return left_pad(sig->signature.rsapss.sig.buffer, sig->signature.rsapss.sig.size, modulus_bytes(*k_));
  }
  // ECDSA uses the leftmost order-size bytes of the digest (FIPS 186-4 6.4); a shorter one is the same integer
  // left-padded. The TPM wants a digest the size of a hash it knows, so give it exactly that.
  SecureBytes ecdsa(ByteView digest) {
    const size_t nb = curve_bytes(k_->pub.publicArea.parameters.eccDetail.curveID);
    const size_t want = nb > 64 ? 64 : nb;
    require(!digest.empty(), CKR_DATA_LEN_RANGE, "empty ECDSA input");
    if (digest.size() > nb) digest = digest.first(nb);
    require(digest.size() <= want, CKR_DATA_LEN_RANGE, "ECDSA input longer than the TPM can take for this curve");
    SecureBytes d(want - digest.size(), 0);
    d.insert(d.end(), digest.begin(), digest.end());
    auto sig = tpm_sign(*c_, *k_, view(d), TPM2_ALG_ECDSA, hash_of_size(want));
    SecureBytes out = left_pad(sig->signature.ecdsa.signatureR.buffer, sig->signature.ecdsa.signatureR.size, nb);
    SecureBytes s = left_pad(sig->signature.ecdsa.signatureS.buffer, sig->signature.ecdsa.signatureS.size, nb);
    out.insert(out.end(), s.begin(), s.end());
    return out;
  }

  std::shared_ptr<Connection> c_;
  std::shared_ptr<const KeyBlobs> k_;
  Kind kind_;
  CK_MECHANISM_TYPE pss_hash_ = 0;
  TpmHashes hashes_;
  SoftPss soft_pss_;
};

// Every RSA decryption is the TPM's raw RSA with the padding removed here: libtpms (swtpm 0.7) enters
// failure mode (TPM_RC_FAILURE, every later command refused) on an RSAES padding error, which any caller
// could trigger with a bad ciphertext; and the TPM's OAEP cannot take labels without a trailing zero.
class Decryptor final : public Operation {
 public:
  Decryptor(std::shared_ptr<Connection> c, std::shared_ptr<const KeyBlobs> k, const MechanismParams& m)
      : c_(std::move(c)), k_(std::move(k)), m_(m) {}
  size_t output_size(size_t) const override { return modulus_bytes(*k_); }
  bool multipart() const override { return false; }
  size_t finish_size() const override { return 0; }
  SecureBytes finish() override { fail(CKR_FUNCTION_NOT_SUPPORTED, "RSA decryption is single-part"); }
  SecureBytes run(ByteView in) override {
    const size_t k = modulus_bytes(*k_);
    require(in.size() == k, CKR_ENCRYPTED_DATA_LEN_RANGE, "ciphertext is not the modulus size");
    SecureBytes em = raw_rsa(*c_, *k_, in, CKR_ENCRYPTED_DATA_INVALID);
    if (m_.type == CKM_RSA_X_509) return em;
    if (m_.type == CKM_RSA_PKCS_OAEP) return oaep_decode(view(em), m_.hash, m_.mgf_hash, view(m_.label));
    return pkcs1_type2_decode(view(em));
  }

 private:
  std::shared_ptr<Connection> c_;
  std::shared_ptr<const KeyBlobs> k_;
  MechanismParams m_;
};

}  // namespace

bool TpmHashes::has(CK_MECHANISM_TYPE hash) const {
  switch (hash) {
    case CKM_SHA_1: return sha1;
    case CKM_SHA256: return sha256;
    case CKM_SHA384: return sha384;
    case CKM_SHA512: return sha512;
    default: return false;
  }
}

TPMI_ALG_HASH tpm_hash(CK_MECHANISM_TYPE hash) {
  switch (hash) {
    case CKM_SHA_1: return TPM2_ALG_SHA1;
    case CKM_SHA256: return TPM2_ALG_SHA256;
    case CKM_SHA384: return TPM2_ALG_SHA384;
    case CKM_SHA512: return TPM2_ALG_SHA512;
    default: return TPM2_ALG_NULL;
  }
}

std::unique_ptr<Operation> make_signer(std::shared_ptr<Connection> c, std::shared_ptr<const KeyBlobs> key,
                                       const MechanismParams& m, const TpmHashes& hashes) {
  const core::MechanismRow* row = core::find_mechanism(m.type);
  require(row != nullptr, CKR_MECHANISM_INVALID, "unknown mechanism");
  const CK_MECHANISM_TYPE digest = row->digest;
  Kind kind;
  if (m.type == CKM_RSA_X_509) kind = Kind::rsa_x509;
  else if (row->param == core::ParamKind::pss) kind = Kind::rsa_pss;
  else if (row->key_type == CKK_RSA) kind = Kind::rsa_pkcs;
  else if (row->key_type == CKK_EC) kind = Kind::ecdsa;
  else fail(CKR_MECHANISM_INVALID, "the TPM token cannot sign with this mechanism");
  require(is_rsa(*key) == (kind != Kind::ecdsa), CKR_KEY_TYPE_INCONSISTENT, "key type does not fit the mechanism");
  CK_MECHANISM_TYPE pss_hash = 0;
  Signer::SoftPss soft_pss;
  if (kind == Kind::rsa_pss) {
    pss_hash = digest ? digest : m.hash;
    require(!digest || m.hash == 0 || m.hash == digest, CKR_MECHANISM_PARAM_INVALID, "PSS hash differs from the mechanism's");
    const size_t h_len = crypto::digest_size(pss_hash);  // CKR_MECHANISM_INVALID for an unknown hash
    const CK_MECHANISM_TYPE mgf = m.mgf_hash ? m.mgf_hash : pss_hash;
    // TPM2_Sign's RSAPSS takes salt = hash length and MGF1 with the message hash (what TLS 1.3 uses). Any other
    // salt (OpenSSL's default for certificates is the maximum) or MGF1 hash is encoded here and signed with
    // the TPM's raw RSA, which keyseal's keys allow (sign and decrypt, no scheme); CKM_RSA_X_509 already
    // exposes that operation, so this adds no power. A key without raw RSA is refused as before.
    if (!(hashes.rsapss && hashes.has(pss_hash) && mgf == pss_hash && m.salt_len == h_len)) {
      const TPMT_PUBLIC& pub = key->pub.publicArea;
      require((pub.objectAttributes & TPMA_OBJECT_DECRYPT) && !(pub.objectAttributes & TPMA_OBJECT_RESTRICTED) &&
                  pub.parameters.rsaDetail.scheme.scheme == TPM2_ALG_NULL,
              CKR_MECHANISM_PARAM_INVALID, "this TPM key signs PSS only with salt = hash length and MGF1 of that hash");
      (void)crypto::digest_size(mgf);
      require(m.salt_len <= pss_max_salt(h_len, pub.parameters.rsaDetail.keyBits), CKR_MECHANISM_PARAM_INVALID,
              "the PSS salt does not fit the modulus");
      soft_pss = Signer::SoftPss{true, mgf, static_cast<size_t>(m.salt_len)};
    }
  }
  return std::make_unique<Signer>(std::move(c), std::move(key), kind, digest, pss_hash, hashes, soft_pss);
}

std::unique_ptr<Operation> make_decryptor(std::shared_ptr<Connection> c, std::shared_ptr<const KeyBlobs> key,
                                          const MechanismParams& m, const TpmHashes& hashes) {
  require(m.type == CKM_RSA_PKCS || m.type == CKM_RSA_PKCS_OAEP || m.type == CKM_RSA_X_509, CKR_MECHANISM_INVALID,
          "the TPM token decrypts with RSA only");
  require(is_rsa(*key), CKR_KEY_TYPE_INCONSISTENT, "not an RSA key");
  if (m.type == CKM_RSA_PKCS_OAEP) {
    require(m.hash != 0 && m.mgf_hash != 0, CKR_MECHANISM_PARAM_INVALID, "OAEP needs a hash and an MGF");
    (void)crypto::digest_size(m.hash);  // CKR_MECHANISM_INVALID for an unknown hash
    (void)crypto::digest_size(m.mgf_hash);
  }
  (void)hashes;
  return std::make_unique<Decryptor>(std::move(c), std::move(key), m);
}

SecureBytes ecdh_zgen(Connection& c, const KeyBlobs& key, ByteView peer_point) {
  require(key.pub.publicArea.type == TPM2_ALG_ECC, CKR_KEY_TYPE_INCONSISTENT, "ECDH needs an EC key");
  const TPMI_ECC_CURVE curve = key.pub.publicArea.parameters.eccDetail.curveID;
  const size_t len = curve_bytes(curve);
  SecureBytes raw;
  try {
    const crypto::Curve cc = curve == TPM2_ECC_NIST_P256 ? crypto::Curve::p256
                             : curve == TPM2_ECC_NIST_P384 ? crypto::Curve::p384 : crypto::Curve::p521;
    const SecureBytes params = crypto::ec_params_der(cc);
    raw = crypto::unwrap_ec_point(view(params), peer_point);
    (void)crypto::ec_public_key(view(params), view(raw));  // on the curve
  } catch (const Error& e) {
    fail(CKR_MECHANISM_PARAM_INVALID, "the peer's public value is not a point on the key's curve: " + e.detail);
  }
  require(raw.size() == 1 + 2 * len && raw[0] == 0x04, CKR_MECHANISM_PARAM_INVALID, "peer point not uncompressed");
  TPM2B_ECC_POINT in{};
  put(in.point.x, ByteView(raw.data() + 1, len));
  put(in.point.y, ByteView(raw.data() + 1 + len, len));
  TPM2B_ECC_POINT* out = nullptr;
  auto g = c.lock();
  const TSS2_RC rc = g.retrying(
      [&] { return Esys_ECDH_ZGen(g.ctx(), g.load(key), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &in, &out); },
      true);
  EsysPtr<TPM2B_ECC_POINT> hold(out, &Esys_Free);
  g.check(rc, "TPM2_ECDH_ZGen");
  SecureBytes z = left_pad(out->point.x.buffer, out->point.x.size, len);
  secure_wipe(out, sizeof *out);
  return z;
}

}  // namespace keyseal::tpm
