// TpmBackend: keys created/imported in the TPM, private-key operations in the TPM, secret keys through the
// soft backend; connect_backend() and probe_status() (PKCS#11 3.0 sections 5.8-5.14). PINs and token info
// are in tpm_backend_pins.cpp.
#include "tpm/tpm_token.h"

#include "core/mechanisms.h"
#include "crypto/asym.h"
#include "tpm/attest.h"
#include "tpm/connection.h"
#include "tpm/key_blobs.h"
#include "tpm/operations.h"
#include "tpm/pin_seal.h"
#include "tpm/probe.h"
#include "tpm/tss_errors.h"

#include <tss2/tss2_mu.h>

#include <algorithm>

namespace keyseal::tpm {

namespace {

TpmHashes hashes_of(const TpmInfo& i) {
  TpmHashes h;
  h.sha1 = i.has(TPM2_ALG_SHA1);
  h.sha256 = i.has(TPM2_ALG_SHA256);
  h.sha384 = i.has(TPM2_ALG_SHA384);
  h.sha512 = i.has(TPM2_ALG_SHA512);
  h.rsapss = i.has(TPM2_ALG_RSAPSS);
  h.oaep = i.has(TPM2_ALG_OAEP);
  return h;
}

std::shared_ptr<const KeyBlobs> blobs(const core::Object& key) {
  return key.cached<KeyBlobs>(core::Object::backend_slot, [&]() -> std::shared_ptr<const void> {
    return std::make_shared<const KeyBlobs>(blobs_of(key.attrs));
  });
}

Status status_of(Connection& c) {
  Status s;
  try {
    auto g = c.lock();
    g.refresh_variable_state();
    const TpmInfo& i = g.info();
    s.present = true;
    s.manufacturer = manufacturer_name(i.manufacturer);
    s.vendor_string = i.vendor_string;
    s.firmware = firmware_text(i);
    s.spec_level = spec_text(i);
    for (TPMI_ALG_HASH h : i.pcr_banks) s.pcr_banks.push_back(hash_name(h));
    s.lockout = lockout_text(i);
    if (!i.storage_enabled) s.why = "the storage hierarchy is disabled";
    else if (!g.parent_error().empty()) s.why = g.parent_error();
    s.ready = s.why.empty();
  } catch (const std::exception& e) {
    s = Status{};
    s.why = e.what();
  }
  return s;
}

}  // namespace

TpmBackend::TpmBackend(std::shared_ptr<Connection> c, Options o)
    : conn_(std::move(c)), options_(std::move(o)), soft_(crypto::Argon2Params{}) {
  auto g = conn_->lock();
  info_ = std::make_unique<TpmInfo>(g.info());
  if (!options_.pcrs.empty()) options_.pcrs = pcrs_text(parse_pcrs(options_.pcrs, info_->pcr_banks));
}

TpmBackend::~TpmBackend() = default;

bool TpmBackend::supports(CK_MECHANISM_TYPE mechanism) const {
  const core::MechanismRow* row = core::find_mechanism(mechanism);
  if (!row) return false;
  const TpmInfo& i = *info_;
  const TpmHashes h = hashes_of(i);
  switch (row->key_type) {
    case CKK_RSA:
      if (!i.has(TPM2_ALG_RSA) || i.rsa_bits.empty()) return false;
      if (row->param == core::ParamKind::pss) return h.rsapss && (row->digest == 0 || h.has(row->digest));
      return true;  // PKCS#1 v1.5, X.509 and OAEP work for every hash (raw RSA + software encoding)
    case CKK_EC:
      if (!i.has(TPM2_ALG_ECC) || i.curves.empty()) return false;
      if (mechanism == CKM_ECDH1_DERIVE) return i.has(TPM2_ALG_ECDH);
      if (row->flags & (CKF_SIGN | CKF_VERIFY)) return i.has(TPM2_ALG_ECDSA);
      return mechanism == CKM_EC_KEY_PAIR_GEN;
    case CKK_EC_EDWARDS:
      return false;  // no TPM has Ed25519 or Ed448 (TPM 2.0 defines no EdDSA)
    default:
      return soft_.supports(mechanism);  // digests, AES, HMAC, generic secrets
  }
}

// Key sizes are what this TPM makes: the RSA sizes TPM2_TestParms accepted, the NIST curves it lists. RSA and
// EC private-key work is done by the TPM: CKF_HW.
void TpmBackend::limit_mechanism_info(CK_MECHANISM_TYPE mechanism, CK_MECHANISM_INFO& info) const {
  const core::MechanismRow* row = core::find_mechanism(mechanism);
  if (!row) return;
  if (row->key_type == CKK_RSA || row->key_type == CKK_EC) info.flags |= CKF_HW;
  const TpmInfo& i = *info_;
  if (row->key_type == CKK_RSA && !i.rsa_bits.empty()) {
    info.ulMinKeySize = std::max<CK_ULONG>(info.ulMinKeySize, *i.rsa_bits.begin());
    info.ulMaxKeySize = std::min<CK_ULONG>(info.ulMaxKeySize, *i.rsa_bits.rbegin());
  } else if (row->key_type == CKK_EC) {
    CK_ULONG lo = 0, hi = 0;
    for (const auto& [curve, bits] : {std::pair{TPM2_ECC_NIST_P256, 256UL}, std::pair{TPM2_ECC_NIST_P384, 384UL},
                                      std::pair{TPM2_ECC_NIST_P521, 521UL}}) {
      if (!i.curves.count(curve)) continue;
      if (lo == 0) lo = bits;
      hi = bits;
    }
    if (lo != 0) {
      info.ulMinKeySize = std::max<CK_ULONG>(info.ulMinKeySize, lo);
      info.ulMaxKeySize = std::min<CK_ULONG>(info.ulMaxKeySize, hi);
    }
  }
}

void TpmBackend::generate_key_pair(const MechanismParams& m, core::AttributeMap& pub, core::AttributeMap& priv) {
  CK_KEY_TYPE kt;
  if (m.type == CKM_RSA_PKCS_KEY_PAIR_GEN) kt = CKK_RSA;
  else if (m.type == CKM_EC_KEY_PAIR_GEN) kt = CKK_EC;
  else fail(CKR_MECHANISM_INVALID, "the TPM token makes RSA and EC key pairs only");
  auto g = conn_->lock();
  create_key_pair(g, kt, pub, priv);
}

void TpmBackend::generate_key(const MechanismParams& m, core::AttributeMap& key) { soft_.generate_key(m, key); }

void TpmBackend::import_key(core::AttributeMap& key) {
  const CK_OBJECT_CLASS cls = core::get_ulong(key, CKA_CLASS).value_or(CK_UNAVAILABLE_INFORMATION);
  const CK_KEY_TYPE kt = core::get_ulong(key, CKA_KEY_TYPE).value_or(CK_UNAVAILABLE_INFORMATION);
  if (cls != CKO_PRIVATE_KEY) return soft_.import_key(key);  // public and secret keys: checked, kept as given
  require(kt != CKK_EC_EDWARDS, CKR_CURVE_NOT_SUPPORTED, "the TPM cannot hold Edwards (Ed25519, Ed448) keys");
  {
    auto g = conn_->lock();
    import_private_key(g, key);
  }
  if (kt != CKK_RSA) return;  // the EC public point was computed from the private value
  // The TPM takes n and one prime without checking that the prime divides n: prove the key with one signature.
  static constexpr std::string_view kProbe = "keyseal: imported key check";
  MechanismParams m;
  m.type = CKM_SHA256_RSA_PKCS;
  SecureBytes sig;
  try {
    sig = make_signer(conn_, std::make_shared<const KeyBlobs>(blobs_of(key)), m, hashes_of(*info_))->run(view(kProbe));
  } catch (const TssError& e) {  // TPM2_Load refuses a prime that does not divide n (TPM_RC_BINDING)
    if (is_connection_error(e.tss_rc)) throw;
    fail(CKR_ATTRIBUTE_VALUE_INVALID, "the TPM refused the imported RSA key: " + e.detail);
  }
  try {
    const SecureBytes* n = core::get_bytes(key, CKA_MODULUS);
    const SecureBytes* e = core::get_bytes(key, CKA_PUBLIC_EXPONENT);
    crypto::make_verifier(crypto::rsa_public_key(view(*n), view(*e)), m)->verify(view(kProbe), view(sig));
  } catch (const Error&) {
    fail(CKR_ATTRIBUTE_VALUE_INVALID, "the RSA private key does not belong to its modulus");
  }
}

std::unique_ptr<Operation> TpmBackend::sign(const core::Object& key, const MechanismParams& m) {
  if (key.cls() == CKO_SECRET_KEY) return soft_.sign(key, m);
  return make_signer(conn_, blobs(key), m, hashes_of(*info_));
}

std::unique_ptr<Operation> TpmBackend::verify(const core::Object& key, const MechanismParams& m) {
  return soft_.verify(key, m);
}

std::unique_ptr<Operation> TpmBackend::encrypt(const core::Object& key, const MechanismParams& m) {
  return soft_.encrypt(key, m);
}

std::unique_ptr<Operation> TpmBackend::decrypt(const core::Object& key, const MechanismParams& m) {
  if (key.cls() == CKO_PRIVATE_KEY) return make_decryptor(conn_, blobs(key), m, hashes_of(*info_));
  return soft_.decrypt(key, m);
}

SecureBytes TpmBackend::derive(const core::Object& key, const MechanismParams& m) {
  if (key.cls() == CKO_SECRET_KEY) return soft_.derive(key, m);  // HKDF: secret keys live in the record
  require(m.type == CKM_ECDH1_DERIVE, CKR_MECHANISM_INVALID, "not a derivation mechanism");
  // The TPM gives Z (TPM2_ECDH_ZGen); core applies the X9.63 KDF that m.kdf names afterwards.
  return ecdh_zgen(*conn_, *blobs(key), view(m.public_data));
}

SecureBytes TpmBackend::wrap(const core::Object& wk, const MechanismParams& m, ByteView value) {
  return soft_.wrap(wk, m, value);
}

SecureBytes TpmBackend::unwrap(const core::Object& uk, const MechanismParams& m, ByteView wrapped) {
  if (uk.cls() == CKO_PRIVATE_KEY) return make_decryptor(conn_, blobs(uk), m, hashes_of(*info_))->run(wrapped);
  return soft_.unwrap(uk, m, wrapped);
}

uint64_t TpmBackend::tpm_commands() const { return conn_->commands(); }

size_t TpmBackend::loaded_objects() const { return conn_->loaded_objects(); }

Status TpmBackend::status() { return status_of(*conn_); }

std::optional<SecureBytes> TpmBackend::vendor_attribute(const core::Object& key, CK_ATTRIBUTE_TYPE type,
                                                        ByteView nonce) {
  if (key.cls() != CKO_PRIVATE_KEY) return std::nullopt;
  const auto it = key.attrs.find(kAttrPublic);
  if (it == key.attrs.end()) return std::nullopt;
  if (type == CKA_KEYSEAL_TPM_PUBLIC) {
    const TPM2B_PUBLIC p = unmarshal_public(view(it->second));
    uint8_t buf[sizeof(TPMT_PUBLIC)];
    size_t off = 0;
    if (Tss2_MU_TPMT_PUBLIC_Marshal(&p.publicArea, buf, sizeof buf, &off) != TSS2_RC_SUCCESS)
      fail(CKR_GENERAL_ERROR, "marshalling the key's public area failed");
    return SecureBytes(buf, buf + off);
  }
  if (type != CKA_KEYSEAL_ATTESTATION) return std::nullopt;
  require(!options_.attest_dir.empty(), CKR_FUNCTION_FAILED, "no folder for the attestation key (no store directory)");
  const KeyBlobs k = blobs_of(key.attrs);
  auto g = conn_->lock();
  Attestation a(g, options_.attest_dir);
  const attest::Evidence e = a.certify(k.pub, k.priv, view(k.auth), creation_of(key.attrs), nonce);
  const std::string json = attest::to_json(e);
  return SecureBytes(json.begin(), json.end());
}

void TpmBackend::with_esys(const std::function<void(ESYS_CONTEXT*)>& fn) {
  auto g = conn_->lock();
  fn(g.ctx());
}

std::shared_ptr<core::Backend> connect_backend(const Options& o, std::string& why) {
  try {
    return std::make_shared<TpmBackend>(Connection::shared(o.tcti), o);
  } catch (const std::exception& e) {
    why = e.what();
  } catch (...) {
    why = "unknown failure while connecting to the TPM";
  }
  return nullptr;
}

Status probe_status(const std::string& tcti) {
  try {
    return status_of(*Connection::shared(tcti));
  } catch (const std::exception& e) {
    Status s;
    s.why = e.what();
    return s;
  }
}

}  // namespace keyseal::tpm
