// The endorsement-key fingerprint factor: TPM2_CreatePrimary in the endorsement hierarchy (TPM 2.0 Part 3
// section 24.1) with the TCG EK Credential Profile 2.0 default templates L-2 (ECC NIST P-256) and L-1 (RSA
// 2048), section 2.2.1.4; the public key is hashed, the primary flushed at once. No value is ever logged.
#include "tpm/ek_factor.h"

#include "common/log.h"
#include "crypto/digest.h"
#include "tpm/connection.h"
#include "tpm/tss_errors.h"

#include <cstring>
#include <map>
#include <mutex>
#include <optional>

namespace keyseal::tpm {

namespace {

// Policy A of the EK Credential Profile (PolicySecret(TPM_RH_ENDORSEMENT)) as a SHA-256 policy digest.
constexpr uint8_t kPolicyA[32] = {0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC,
                                  0x8D, 0x46, 0xA5, 0xD7, 0x24, 0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52,
                                  0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA};

// Domain separation of the factor value; the algorithm is part of the label so an ECC and an RSA EK of the
// same TPM never compare equal by accident. Changing these unbinds every token bound to the EK.
constexpr std::string_view kLabelEcc = "keyseal tpm-ek v1 ecc-nist-p256";
constexpr std::string_view kLabelRsa = "keyseal tpm-ek v1 rsa-2048";

constexpr double kStrengthBits = 128;

}  // namespace

// Attributes, policy and name algorithm shared by templates L-1 and L-2.
TPM2B_PUBLIC ek_common(TPMI_ALG_PUBLIC type) {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = type;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                       TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  p.authPolicy.size = sizeof kPolicyA;
  std::memcpy(p.authPolicy.buffer, kPolicyA, sizeof kPolicyA);
  return t;
}

// Template L-2: ECC NIST P-256, AES-128-CFB, null scheme and KDF, unique x and y of 32 zero bytes each.
TPM2B_PUBLIC ek_template_ecc() {
  TPM2B_PUBLIC t = ek_common(TPM2_ALG_ECC);
  TPMS_ECC_PARMS& e = t.publicArea.parameters.eccDetail;
  e.symmetric.algorithm = TPM2_ALG_AES;
  e.symmetric.keyBits.aes = 128;
  e.symmetric.mode.aes = TPM2_ALG_CFB;
  e.scheme.scheme = TPM2_ALG_NULL;
  e.curveID = TPM2_ECC_NIST_P256;
  e.kdf.scheme = TPM2_ALG_NULL;
  t.publicArea.unique.ecc.x.size = 32;  // buffers stay zero
  t.publicArea.unique.ecc.y.size = 32;
  return t;
}

// Template L-1: RSA 2048, exponent 65537 (0), AES-128-CFB, null scheme, unique of 256 zero bytes.
TPM2B_PUBLIC ek_template_rsa() {
  TPM2B_PUBLIC t = ek_common(TPM2_ALG_RSA);
  TPMS_RSA_PARMS& r = t.publicArea.parameters.rsaDetail;
  r.symmetric.algorithm = TPM2_ALG_AES;
  r.symmetric.keyBits.aes = 128;
  r.symmetric.mode.aes = TPM2_ALG_CFB;
  r.scheme.scheme = TPM2_ALG_NULL;
  r.keyBits = 2048;
  r.exponent = 0;
  t.publicArea.unique.rsa.size = 256;
  return t;
}

namespace {

// label || public key bytes, hashed; nullopt when the TPM returned a key of an unexpected shape.
std::optional<SecureBytes> value_of(const TPMT_PUBLIC& p) {
  SecureBytes in;
  auto append = [&in](const uint8_t* b, size_t n) { in.insert(in.end(), b, b + n); };
  if (p.type == TPM2_ALG_ECC) {
    const TPMS_ECC_POINT& q = p.unique.ecc;
    if (p.parameters.eccDetail.curveID != TPM2_ECC_NIST_P256 || q.x.size != 32 || q.y.size != 32)
      return std::nullopt;
    append(reinterpret_cast<const uint8_t*>(kLabelEcc.data()), kLabelEcc.size());
    append(q.x.buffer, q.x.size);
    append(q.y.buffer, q.y.size);
  } else if (p.type == TPM2_ALG_RSA) {
    if (p.unique.rsa.size != 256) return std::nullopt;
    append(reinterpret_cast<const uint8_t*>(kLabelRsa.data()), kLabelRsa.size());
    append(p.unique.rsa.buffer, p.unique.rsa.size);
  } else {
    return std::nullopt;
  }
  return crypto::digest(CKM_SHA256, view(in));
}

// One TPM2_CreatePrimary of the EK and its immediate flush. Throws on connection errors (via check).
std::optional<SecureBytes> create_ek(Connection::Guard& g) {
  ESYS_CONTEXT* ctx = g.ctx();
  const TpmInfo& info = g.info();
  TPM2B_PUBLIC tmpl;
  if (info.has(TPM2_ALG_ECC) && info.curves.count(TPM2_ECC_NIST_P256)) {
    tmpl = ek_template_ecc();
  } else if (info.has(TPM2_ALG_RSA) && info.rsa_bits.count(2048)) {
    tmpl = ek_template_rsa();
  } else {
    log::debug("TPM EK factor: the TPM has neither ECC NIST P-256 nor RSA 2048");
    return std::nullopt;
  }
  // The EK Credential Profile primary needs the endorsement hierarchy's authorization: we only ever offer the
  // empty one (the value this context remembers may be one a test or an administrator set through it).
  TPM2B_AUTH empty{};
  g.check(Esys_TR_SetAuth(ctx, ESYS_TR_RH_ENDORSEMENT, &empty), "Esys_TR_SetAuth (endorsement)");

  const TPM2B_SENSITIVE_CREATE sens{};
  const TPM2B_DATA outside{};
  const TPML_PCR_SELECTION no_pcrs{};
  ESYS_TR h = ESYS_TR_NONE;
  TPM2B_PUBLIC* pub = nullptr;
  TPM2B_CREATION_DATA* cdata = nullptr;
  TPM2B_DIGEST* chash = nullptr;
  TPMT_TK_CREATION* ticket = nullptr;
  auto release = [&] {
    Esys_Free(pub), Esys_Free(cdata), Esys_Free(chash), Esys_Free(ticket);
    pub = nullptr, cdata = nullptr, chash = nullptr, ticket = nullptr;
  };
  TSS2_RC rc = TSS2_RC_SUCCESS;
  try {
    rc = g.retrying([&] {
      release();  // from a failed earlier run
      return Esys_CreatePrimary(g.ctx(), ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                &sens, &tmpl, &outside, &no_pcrs, &h, &pub, &cdata, &chash, &ticket);
    });
  } catch (...) {
    release();
    throw;
  }
  if (rc != TSS2_RC_SUCCESS) {
    release();
    if (is_connection_error(rc)) g.check(rc, "TPM2_CreatePrimary (endorsement key)");  // drops, throws
    const TSS2_RC code = tpm_code(rc);
    if (code == TPM2_RC_BAD_AUTH || code == TPM2_RC_AUTH_FAIL)
      log::debug("TPM EK factor: the endorsement hierarchy has an authorization value; factor missing");
    else
      log::debug("TPM EK factor: TPM2_CreatePrimary failed: " + describe(rc));
    return std::nullopt;
  }
  g.flush(h);  // at once: a raw TPM has about three object slots
  std::optional<SecureBytes> v = pub ? value_of(pub->publicArea) : std::nullopt;
  release();
  return v;
}

std::mutex& cache_mu() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, SecureBytes>& cache() {
  static auto* c = new std::map<std::string, SecureBytes>;  // never destroyed: no work at exit
  return *c;
}

class EkSource final : public fingerprint::FactorSource {
 public:
  explicit EkSource(std::string tcti) : tcti_(std::move(tcti)) {}
  std::string id() const override { return std::string(kEkFactorId); }
  double strength_bits() const override { return kStrengthBits; }

  std::optional<SecureBytes> read() const override {
    {
      std::lock_guard<std::mutex> l(cache_mu());
      auto it = cache().find(tcti_);
      if (it != cache().end()) return it->second;
    }
    std::optional<SecureBytes> v;
    // Twice at most: a connection that went stale (the TPM or its daemon restarted) is dropped by the first
    // failure and made afresh by the second attempt. No TPM at all fails the connect, which is not retried.
    for (int attempt = 0;; ++attempt) {
      try {
        std::shared_ptr<Connection> c = Connection::shared(tcti_);
        Connection::Guard g(*c);
        v = create_ek(g);
        break;
      } catch (const TssError& e) {
        if (attempt == 0 && is_connection_error(e.tss_rc)) continue;
        log::debug(std::string("TPM EK factor missing: ") + e.what());
        return std::nullopt;
      } catch (const std::exception& e) {
        log::debug(std::string("TPM EK factor missing: ") + e.what());
        return std::nullopt;
      }
    }
    if (v) {
      std::lock_guard<std::mutex> l(cache_mu());
      cache().insert_or_assign(tcti_, *v);
    }
    return v;
  }

 private:
  std::string tcti_;
};

}  // namespace

std::unique_ptr<fingerprint::FactorSource> ek_factor_source(std::string tcti) {
  return std::make_unique<EkSource>(std::move(tcti));
}

void forget_cached_ek_for_tests() {
  std::lock_guard<std::mutex> l(cache_mu());
  cache().clear();
}

}  // namespace keyseal::tpm
