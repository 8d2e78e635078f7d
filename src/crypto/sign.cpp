// Signing and verification (PKCS#11 3.0 current mechanisms 2.1.6-2.1.11 RSA PKCS #1 v1.5 / X.509 / PSS,
// 2.3.6-2.3.7 ECDSA, 2.3.14 EdDSA) and ECDH (2.3.9). Hash-then-sign mechanisms hash with the cached EVP_MD
// and sign the hash, so no algorithm is fetched by name on the hot path.
#include "crypto/asym.h"
#include "crypto/key_state.h"

#include <openssl/rsa.h>

#include <cstring>
#include <mutex>

namespace keyseal::crypto {
namespace {

enum class Scheme { rsa_pkcs, rsa_x509, rsa_pss, ecdsa, eddsa };
struct SigMech {
  Scheme scheme;
  CK_MECHANISM_TYPE hash;  // 0: the input is already the hash (or raw data)
};

SigMech classify(CK_MECHANISM_TYPE t) {
  switch (t) {
    case CKM_RSA_PKCS: return {Scheme::rsa_pkcs, 0};
    case CKM_RSA_X_509: return {Scheme::rsa_x509, 0};
    case CKM_SHA1_RSA_PKCS: return {Scheme::rsa_pkcs, CKM_SHA_1};
    case CKM_SHA224_RSA_PKCS: return {Scheme::rsa_pkcs, CKM_SHA224};
    case CKM_SHA256_RSA_PKCS: return {Scheme::rsa_pkcs, CKM_SHA256};
    case CKM_SHA384_RSA_PKCS: return {Scheme::rsa_pkcs, CKM_SHA384};
    case CKM_SHA512_RSA_PKCS: return {Scheme::rsa_pkcs, CKM_SHA512};
    case CKM_RSA_PKCS_PSS: return {Scheme::rsa_pss, 0};
    case CKM_SHA1_RSA_PKCS_PSS: return {Scheme::rsa_pss, CKM_SHA_1};
    case CKM_SHA224_RSA_PKCS_PSS: return {Scheme::rsa_pss, CKM_SHA224};
    case CKM_SHA256_RSA_PKCS_PSS: return {Scheme::rsa_pss, CKM_SHA256};
    case CKM_SHA384_RSA_PKCS_PSS: return {Scheme::rsa_pss, CKM_SHA384};
    case CKM_SHA512_RSA_PKCS_PSS: return {Scheme::rsa_pss, CKM_SHA512};
    case CKM_ECDSA: return {Scheme::ecdsa, 0};
    case CKM_ECDSA_SHA1: return {Scheme::ecdsa, CKM_SHA_1};
    case CKM_ECDSA_SHA224: return {Scheme::ecdsa, CKM_SHA224};
    case CKM_ECDSA_SHA256: return {Scheme::ecdsa, CKM_SHA256};
    case CKM_ECDSA_SHA384: return {Scheme::ecdsa, CKM_SHA384};
    case CKM_ECDSA_SHA512: return {Scheme::ecdsa, CKM_SHA512};
    case CKM_EDDSA: return {Scheme::eddsa, 0};
    default: fail(CKR_MECHANISM_INVALID, "not a signature mechanism");
  }
}

// DER DigestInfo prefixes (RFC 8017 section 9.2, note 1), followed by the hash.
ByteView digest_info_prefix(CK_MECHANISM_TYPE h) {
  static const uint8_t sha1[] = {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00,
                                 0x04, 0x14};
#define KS_SHA2_PREFIX(total, oid_last, hlen)                                                               \
  {0x30, total, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, oid_last, 0x05, 0x00, \
   0x04, hlen}
  static const uint8_t sha224[] = KS_SHA2_PREFIX(0x2d, 0x04, 0x1c);
  static const uint8_t sha256[] = KS_SHA2_PREFIX(0x31, 0x01, 0x20);
  static const uint8_t sha384[] = KS_SHA2_PREFIX(0x41, 0x02, 0x30);
  static const uint8_t sha512[] = KS_SHA2_PREFIX(0x51, 0x03, 0x40);
#undef KS_SHA2_PREFIX
  switch (h) {
    case CKM_SHA_1: return sha1;
    case CKM_SHA224: return sha224;
    case CKM_SHA256: return sha256;
    case CKM_SHA384: return sha384;
    default: return sha512;
  }
}

PkeyCtxPtr new_ctx(const PKey& k) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(libctx(), k.get(), nullptr));
  if (!ctx) ossl_fail(CKR_HOST_MEMORY, "EVP_PKEY_CTX_new_from_pkey");
  return ctx;
}

// Takes a sign-initialised context from the key's pool (or makes one); give it back only after success.
PkeyCtxPtr take_sign_ctx(const PKey& k) {
  {
    std::lock_guard<std::mutex> g(k.state()->pool_mu);
    auto& pool = k.state()->sign_pool;
    if (!pool.empty()) {
      PkeyCtxPtr c(pool.back());
      pool.pop_back();
      return c;
    }
  }
  auto c = new_ctx(k);
  ossl_check(EVP_PKEY_sign_init(c.get()), CKR_FUNCTION_FAILED, "sign init");
  return c;
}

// A fresh EdDSA (pure Ed25519 / Ed448) signing context, copied from the key's template (built on first use).
MdCtxPtr eddsa_sign_ctx(const PKey& k) {
  const PKey::State& st = *k.state();
  const EVP_MD_CTX* tmpl = nullptr;
  {
    std::lock_guard<std::mutex> g(st.pool_mu);
    if (!st.ed_sign_template) {
      MdCtxPtr t(EVP_MD_CTX_new());
      if (!t) ossl_fail(CKR_HOST_MEMORY, "EVP_MD_CTX_new");
      ossl_check(EVP_DigestSignInit_ex(t.get(), nullptr, nullptr, libctx(), nullptr, k.get(), nullptr),
                 CKR_FUNCTION_FAILED, "EdDSA sign init");
      st.ed_sign_template = t.release();
    }
    tmpl = st.ed_sign_template;
  }
  MdCtxPtr c(EVP_MD_CTX_new());
  if (!c) ossl_fail(CKR_HOST_MEMORY, "EVP_MD_CTX_new");
  ossl_check(EVP_MD_CTX_copy_ex(c.get(), tmpl), CKR_FUNCTION_FAILED, "EdDSA context copy");
  return c;
}

void give_back_sign_ctx(const PKey& k, PkeyCtxPtr c) {
  constexpr size_t kMaxPooled = 16;
  std::lock_guard<std::mutex> g(k.state()->pool_mu);
  auto& pool = k.state()->sign_pool;
  if (pool.size() < kMaxPooled) pool.push_back(c.release());
}

class SignVerify final : public Operation {
 public:
  SignVerify(const PKey& key, const MechanismParams& m, bool verify)
      : key_(key), mech_(classify(m.type)), verify_(verify) {
    require(static_cast<bool>(key_), CKR_KEY_HANDLE_INVALID, "no key");
    KeyKind want = mech_.scheme == Scheme::ecdsa   ? KeyKind::ec
                   : mech_.scheme == Scheme::eddsa ? KeyKind::eddsa
                                                   : KeyKind::rsa;
    require(key_.kind() == want, CKR_KEY_TYPE_INCONSISTENT, "key type does not match the mechanism");
    require(verify_ || key_.has_private(), CKR_KEY_TYPE_INCONSISTENT, "signing needs a private key");
    if (mech_.scheme == Scheme::eddsa) check_eddsa_variant(m);
    if (mech_.scheme == Scheme::rsa_pss) {
      pss_hash_ = mech_.hash ? mech_.hash : m.hash;
      require(pss_hash_ != 0 && (m.hash == 0 || m.hash == pss_hash_), CKR_MECHANISM_PARAM_INVALID,
              "PSS hashAlg missing or different from the mechanism's digest");
      pss_mgf_ = m.mgf_hash ? m.mgf_hash : pss_hash_;
      md_for(pss_mgf_);
      // RFC 8017 section 9.1.1: emLen >= hLen + sLen + 2. Written so that nothing wraps: an sLen near 2^64
      // would make hLen + sLen + 2 small and then reach OpenSSL as its special values -1, -2 or -3 ("digest
      // length", "maximum", "auto-detect"), letting a verifier accept any salt length.
      const size_t em_len = (key_.bits() - 1 + 7) / 8;
      const size_t h_len = static_cast<size_t>(EVP_MD_get_size(md_for(pss_hash_)));
      require(em_len >= h_len + 2 && m.salt_len <= em_len - h_len - 2, CKR_MECHANISM_PARAM_INVALID,
              "PSS salt too long for the key and hash");
      pss_salt_ = static_cast<int>(m.salt_len);  // at most emLen: fits an int, and is never negative
    }
    if (mech_.hash) {
      md_ctx_.reset(EVP_MD_CTX_new());
      if (!md_ctx_) ossl_fail(CKR_HOST_MEMORY, "EVP_MD_CTX_new");
      ossl_check(EVP_DigestInit_ex2(md_ctx_.get(), md_for(mech_.hash), nullptr), CKR_FUNCTION_FAILED, "init");
    }
  }

  size_t output_size(size_t) const override { return key_.signature_size(); }
  bool multipart() const override { return mech_.hash != 0 || mech_.scheme == Scheme::eddsa; }
  void absorb(ByteView in) override {
    require(multipart(), CKR_FUNCTION_FAILED, "mechanism is single-part only");
    if (md_ctx_)
      ossl_check(EVP_DigestUpdate(md_ctx_.get(), in.data(), in.size()), CKR_FUNCTION_FAILED, "digest update");
    else
      buffer_.insert(buffer_.end(), in.begin(), in.end());
  }
  size_t finish_size() const override { return key_.signature_size(); }

  SecureBytes run(ByteView in) override {
    require(!verify_, CKR_FUNCTION_FAILED, "not a sign operation");
    if (!md_ctx_) return sign_tbs(in);
    absorb(in);
    return finish();
  }
  SecureBytes finish() override {
    require(!verify_, CKR_FUNCTION_FAILED, "not a sign operation");
    if (!md_ctx_) return sign_tbs(view(buffer_));
    SecureBytes h = final_hash();
    return sign_tbs(view(h));
  }
  void verify(ByteView data, ByteView sig) override {
    require(verify_, CKR_FUNCTION_FAILED, "not a verify operation");
    if (!md_ctx_) return verify_tbs(data, sig);
    absorb(data);
    verify_finish(sig);
  }
  void verify_finish(ByteView sig) override {
    require(verify_, CKR_FUNCTION_FAILED, "not a verify operation");
    if (!md_ctx_) return verify_tbs(view(buffer_), sig);
    SecureBytes h = final_hash();
    verify_tbs(view(h), sig);
  }

 private:
  // PKCS#11 3.0 current mechanisms 2.3.14 picks the RFC 8032 variant from CK_EDDSA_PARAMS: none is pure
  // Ed25519; for Ed448 the table lists phFlag FALSE with an optional context, and no parameter at all is read
  // as pure Ed448 too (there is nothing else it could mean). Only the pure variants are offered: OpenSSL 3.0
  // signs Ed25519ctx/Ed25519ph/Ed448ph and Ed448 contexts only from 3.2 on (the "instance" and
  // "context-string" parameters), and 3.0 ignores those parameters instead of refusing them, so asking it would
  // silently produce a pure signature under a different name.
  void check_eddsa_variant(const MechanismParams& m) const {
    if (!m.eddsa_params) return;
    require(key_.curve() == Curve::ed448, CKR_MECHANISM_PARAM_INVALID,
            "Ed25519ctx and Ed25519ph are not supported (CKM_EDDSA without a parameter is pure Ed25519)");
    require(!m.eddsa_ph, CKR_MECHANISM_PARAM_INVALID, "Ed448ph is not supported");
    require(m.eddsa_context.empty(), CKR_MECHANISM_PARAM_INVALID, "Ed448 with a context is not supported");
  }

  SecureBytes final_hash() {
    SecureBytes h(static_cast<size_t>(EVP_MD_CTX_get_size(md_ctx_.get())));
    unsigned int len = 0;
    ossl_check(EVP_DigestFinal_ex(md_ctx_.get(), h.data(), &len), CKR_FUNCTION_FAILED, "digest final");
    return h;
  }

  // The bytes the RSA primitive pads and signs: DigestInfo for hashed PKCS #1, k bytes for X.509.
  SecureBytes rsa_input(ByteView tbs, bool for_verify) const {
    size_t k = key_.signature_size();
    if (mech_.scheme == Scheme::rsa_x509) {
      require(tbs.size() <= k, CKR_DATA_LEN_RANGE, "RSA X.509 input longer than the modulus");
      SecureBytes out(k - tbs.size(), 0);
      out.insert(out.end(), tbs.begin(), tbs.end());
      return out;
    }
    SecureBytes out;
    if (mech_.hash) {
      ByteView p = digest_info_prefix(mech_.hash);
      out.assign(p.begin(), p.end());
    }
    out.insert(out.end(), tbs.begin(), tbs.end());
    require(out.size() + 11 <= k, CKR_DATA_LEN_RANGE, "RSA PKCS #1 input longer than k-11");
    return out;
  }

  void setup_rsa(EVP_PKEY_CTX* ctx, ByteView tbs) const {
    if (mech_.scheme == Scheme::rsa_pss) {
      require(tbs.size() == static_cast<size_t>(EVP_MD_get_size(md_for(pss_hash_))), CKR_DATA_LEN_RANGE,
              "PSS input must be one hash long");
      ossl_check(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING), CKR_FUNCTION_FAILED, "PSS padding");
      ossl_check(EVP_PKEY_CTX_set_signature_md(ctx, md_for(pss_hash_)), CKR_MECHANISM_PARAM_INVALID, "PSS md");
      ossl_check(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md_for(pss_mgf_)), CKR_MECHANISM_PARAM_INVALID, "PSS mgf");
      ossl_check(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, pss_salt_), CKR_MECHANISM_PARAM_INVALID, "PSS salt");
    } else {
      int pad = mech_.scheme == Scheme::rsa_x509 ? RSA_NO_PADDING : RSA_PKCS1_PADDING;
      ossl_check(EVP_PKEY_CTX_set_rsa_padding(ctx, pad), CKR_FUNCTION_FAILED, "RSA padding");
    }
  }

  SecureBytes sign_tbs(ByteView tbs) {
    if (mech_.scheme == Scheme::eddsa) {
      MdCtxPtr mctx = eddsa_sign_ctx(key_);
      SecureBytes sig(key_.signature_size());
      size_t len = sig.size();
      ossl_check(EVP_DigestSign(mctx.get(), sig.data(), &len, tbs.data(), tbs.size()), CKR_FUNCTION_FAILED,
                 "EdDSA sign");
      require(len == sig.size(), CKR_GENERAL_ERROR, "EdDSA signature of unexpected length");
      return sig;
    }
    if (mech_.scheme == Scheme::ecdsa) {
      auto pooled = take_sign_ctx(key_);
      SecureBytes sig = ecdsa_sign(pooled.get(), tbs);
      give_back_sign_ctx(key_, std::move(pooled));
      return sig;
    }
    auto ctx = new_ctx(key_);
    ossl_check(EVP_PKEY_sign_init(ctx.get()), CKR_FUNCTION_FAILED, "sign init");
    SecureBytes input = mech_.scheme == Scheme::rsa_pss ? to_bytes(tbs) : rsa_input(tbs, false);
    setup_rsa(ctx.get(), input);
    SecureBytes sig(key_.signature_size());
    size_t len = sig.size();
    CK_RV rv = mech_.scheme == Scheme::rsa_x509 ? CKR_DATA_INVALID : CKR_FUNCTION_FAILED;
    ossl_check(EVP_PKEY_sign(ctx.get(), sig.data(), &len, input.data(), input.size()), rv, "RSA sign");
    require(len == sig.size(), CKR_GENERAL_ERROR, "RSA signature of unexpected length");
    return sig;
  }

  SecureBytes ecdsa_sign(EVP_PKEY_CTX* ctx, ByteView hash) {
    uint8_t der[160];  // P-521: 2 * (66 + 3) + 4 < 160
    size_t der_len = sizeof der;
    static const uint8_t empty = 0;
    ossl_check(EVP_PKEY_sign(ctx, der, &der_len, hash.empty() ? &empty : hash.data(), hash.size()),
               CKR_FUNCTION_FAILED, "ECDSA sign");
    const unsigned char* p = der;
    EcdsaSigPtr s(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
    if (!s) ossl_fail(CKR_GENERAL_ERROR, "ECDSA signature not DER");
    size_t half = key_.signature_size() / 2;
    SecureBytes out(2 * half);
    if (BN_bn2binpad(ECDSA_SIG_get0_r(s.get()), out.data(), static_cast<int>(half)) < 0 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(s.get()), out.data() + half, static_cast<int>(half)) < 0)
      ossl_fail(CKR_GENERAL_ERROR, "ECDSA r/s too long");
    return out;
  }

  void verify_tbs(ByteView tbs, ByteView sig) {
    require(sig.size() == key_.signature_size(), CKR_SIGNATURE_LEN_RANGE, "signature has the wrong length");
    if (mech_.scheme == Scheme::eddsa) {
      MdCtxPtr mctx(EVP_MD_CTX_new());
      if (!mctx) ossl_fail(CKR_HOST_MEMORY, "EVP_MD_CTX_new");
      ossl_check(EVP_DigestVerifyInit_ex(mctx.get(), nullptr, nullptr, libctx(), nullptr, key_.get(), nullptr),
                 CKR_FUNCTION_FAILED, "EdDSA verify init");
      ossl_check(EVP_DigestVerify(mctx.get(), sig.data(), sig.size(), tbs.data(), tbs.size()),
                 CKR_SIGNATURE_INVALID, "EdDSA verify");
      return;
    }
    auto ctx = new_ctx(key_);
    ossl_check(EVP_PKEY_verify_init(ctx.get()), CKR_FUNCTION_FAILED, "verify init");
    if (mech_.scheme == Scheme::ecdsa) return ecdsa_verify(ctx.get(), tbs, sig);
    SecureBytes input = mech_.scheme == Scheme::rsa_pss ? to_bytes(tbs) : rsa_input(tbs, true);
    setup_rsa(ctx.get(), input);
    ossl_check(EVP_PKEY_verify(ctx.get(), sig.data(), sig.size(), input.data(), input.size()),
               CKR_SIGNATURE_INVALID, "RSA verify");
  }

  void ecdsa_verify(EVP_PKEY_CTX* ctx, ByteView hash, ByteView sig) {
    size_t half = sig.size() / 2;
    EcdsaSigPtr s(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(sig.data(), static_cast<int>(half), nullptr);
    BIGNUM* sv = BN_bin2bn(sig.data() + half, static_cast<int>(half), nullptr);
    if (!s || !r || !sv || !ECDSA_SIG_set0(s.get(), r, sv)) {
      BN_free(r);
      BN_free(sv);
      ossl_fail(CKR_HOST_MEMORY, "ECDSA_SIG");
    }
    uint8_t der[160];
    unsigned char* p = der;
    int der_len = i2d_ECDSA_SIG(s.get(), nullptr);
    require(der_len > 0 && static_cast<size_t>(der_len) <= sizeof der, CKR_GENERAL_ERROR, "ECDSA DER length");
    i2d_ECDSA_SIG(s.get(), &p);
    static const uint8_t empty = 0;
    ossl_check(EVP_PKEY_verify(ctx, der, static_cast<size_t>(der_len), hash.empty() ? &empty : hash.data(),
                               hash.size()),
               CKR_SIGNATURE_INVALID, "ECDSA verify");
  }

  PKey key_;
  SigMech mech_;
  bool verify_;
  CK_MECHANISM_TYPE pss_hash_ = 0, pss_mgf_ = 0;
  int pss_salt_ = 0;  // checked against the key: 0 <= sLen <= emLen - hLen - 2
  MdCtxPtr md_ctx_;
  SecureBytes buffer_;
};

}  // namespace

std::unique_ptr<Operation> make_signer(const PKey& priv, const MechanismParams& m) {
  return std::make_unique<SignVerify>(priv, m, false);
}

std::unique_ptr<Operation> make_verifier(const PKey& pub, const MechanismParams& m) {
  return std::make_unique<SignVerify>(pub, m, true);
}

SecureBytes ecdh_derive(const PKey& priv, ByteView peer_point) {
  require(static_cast<bool>(priv) && priv.kind() == KeyKind::ec && priv.has_private(), CKR_KEY_TYPE_INCONSISTENT,
          "ECDH needs an EC private key");
  SecureBytes params = ec_params_der(priv.curve());
  PKey peer;
  try {
    peer = ec_public_key(view(params), peer_point);
  } catch (const Error& e) {
    if (e.rv == CKR_HOST_MEMORY) throw;
    fail(CKR_MECHANISM_PARAM_INVALID, "ECDH peer point does not fit the key's curve");
  }
  auto ctx = new_ctx(priv);
  ossl_check(EVP_PKEY_derive_init(ctx.get()), CKR_FUNCTION_FAILED, "derive init");
  ossl_check(EVP_PKEY_derive_set_peer_ex(ctx.get(), peer.get(), 1), CKR_MECHANISM_PARAM_INVALID, "ECDH peer");
  SecureBytes out(curve_info(priv.curve()).field_bytes);
  size_t len = out.size();
  ossl_check(EVP_PKEY_derive(ctx.get(), out.data(), &len), CKR_FUNCTION_FAILED, "ECDH derive");
  require(len == out.size(), CKR_GENERAL_ERROR, "ECDH secret of unexpected length");
  return out;
}

}  // namespace keyseal::crypto
