// PcpBackend: the TPM token on Windows over the Platform Crypto Provider (PKCS#11 3.0 sections 5.5 token info,
// 5.6 PINs, 5.11 signing, 5.9 decryption, 5.14 key generation). Design in pcp_backend.h.
#include "pcp/pcp_backend.h"
#include "pcp/attestation.h"

#include "common/log.h"
#include "core/attributes.h"
#include "core/backend_attributes.h"
#include "core/mechanisms.h"
#include "core/padded.h"
#include "crypto/asym.h"
#include "crypto/digest.h"
#include "crypto/hash_then_sign.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "store/token_db.h"

#include <algorithm>
#include <cstring>

namespace keyseal::pcp {

namespace {

using core::AttributeMap;

constexpr CK_ATTRIBUTE_TYPE kNameAttr = core::backend_attr(kKeyNameAttr);
constexpr CK_ATTRIBUTE_TYPE kAuthAttr = core::backend_secret_attr(kKeyAuthAttr);
constexpr uint8_t kRecordVersion = 1;
constexpr size_t kMasterKeyBytes = 32;

const char* role(CK_USER_TYPE who) { return who == CKU_SO ? "so" : "user"; }
std::string pin_key(CK_USER_TYPE who) { return std::string("pcp.pin.") + role(who); }

std::string meta_string(store::TokenDb& db, const char* key) {
  auto v = db.get_meta(key);
  return v ? std::string(v->begin(), v->end()) : std::string();
}

SecureBytes joined(std::initializer_list<ByteView> parts) {
  SecureBytes out;
  for (ByteView p : parts) {
    out.insert(out.end(), p.begin(), p.end());
    out.push_back(0);
  }
  out.pop_back();
  return out;
}

// The usage auth of a role's PIN key: bound to the token and the role, so one PIN opens one record only.
SecureBytes pin_auth(const std::string& uid, CK_USER_TYPE who, ByteView pin) {
  return crypto::digest(CKM_SHA256, view(joined({view("keyseal/pcp-pin/v1"), view(uid), view(role(who)), pin})));
}

SecureBytes wrap_label(const std::string& uid, CK_USER_TYPE who) {
  return joined({view("keyseal/pcp-master-key/v1"), view(uid), view(role(who))});
}

std::string new_key_name() {
  static const char* hexd = "0123456789abcdef";
  const SecureBytes r = crypto::random_bytes(16);
  std::string s = "keyseal-";
  for (uint8_t b : r) {
    s.push_back(hexd[b >> 4]);
    s.push_back(hexd[b & 15]);
  }
  return s;
}

// The status's code is a TPM authorisation failure: the usage auth (the PIN) was wrong.
bool is_auth_failure(uint32_t c) {
  if (c == code::kTpm12AuthFail || c == code::kPcpAuthenticationFailed) return true;
  if ((c & 0xFFFFF000u) != 0x80280000u) return false;
  const uint32_t rc = c & 0xFFFu;
  if (!(rc & 0x80u)) return false;  // format one: error number in bits 0-5, parameter/session number above
  const uint32_t e = rc & 0x3Fu;
  return e == 0x0E || e == 0x22;     // TPM_RC_AUTH_FAIL, TPM_RC_BAD_AUTH
}

bool is_lockout(uint32_t c) { return c == code::kTpmLockout || c == code::kTpm12DefendLock; }

// A Status that failed, as an Error. `auth_rv`/`lockout_rv`: what an authorisation failure / lockout means
// for this call. Everything from the TPM, TBS or the device is CKR_DEVICE_ERROR.
[[noreturn]] void fail_status(const Status& s, CK_RV auth_rv, CK_RV lockout_rv, CK_RV bad_data_rv,
                              const std::string& what) {
  const std::string detail = what + ": " + s.text();
  if (is_auth_failure(s.code)) fail(auth_rv, detail);
  if (is_lockout(s.code)) fail(lockout_rv, detail + " (the TPM is in dictionary-attack lockout)");
  switch (s.code) {
    case code::kBadKeyset: fail(CKR_KEY_HANDLE_INVALID, detail + " (the PCP key is missing)");
    case code::kBadData: case code::kDecryptionFailure: fail(bad_data_rv, detail);
    case code::kNoMemory: fail(CKR_HOST_MEMORY, detail);
    case code::kNotSupported: case code::kInvalidParameter: case code::kPerm: fail(CKR_FUNCTION_FAILED, detail);
    default: fail(CKR_DEVICE_ERROR, detail);
  }
}

Hash hash_of(CK_MECHANISM_TYPE h) {
  switch (h) {
    case CKM_SHA_1: return Hash::sha1;
    case CKM_SHA256: return Hash::sha256;
    case CKM_SHA384: return Hash::sha384;
    case CKM_SHA512: return Hash::sha512;
    default: return Hash::none;
  }
}

bool pcp_hash(CK_MECHANISM_TYPE h) { return hash_of(h) != Hash::none; }

// DER DigestInfo prefixes (RFC 8017 section 9.2 note 1) of the hashes the PCP signs with.
struct DigestInfoPrefix {
  CK_MECHANISM_TYPE hash;
  std::vector<uint8_t> prefix;
};
const std::vector<DigestInfoPrefix>& digest_infos() {
  static const std::vector<DigestInfoPrefix> t = {
      {CKM_SHA_1, {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14}},
      {CKM_SHA256, {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
                    0x00, 0x04, 0x20}},
      {CKM_SHA384, {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
                    0x00, 0x04, 0x30}},
      {CKM_SHA512, {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
                    0x00, 0x04, 0x40}},
  };
  return t;
}

// The PIN record: version, key name, the master key encrypted to that key.
struct PinRecord {
  std::string name;
  SecureBytes ciphertext;
};

SecureBytes encode_record(const PinRecord& r) {
  SecureBytes out{kRecordVersion, static_cast<uint8_t>(r.name.size() >> 8), static_cast<uint8_t>(r.name.size())};
  out.insert(out.end(), r.name.begin(), r.name.end());
  out.insert(out.end(), r.ciphertext.begin(), r.ciphertext.end());
  return out;
}

PinRecord decode_record(ByteView b) {
  require(b.size() >= 3 && b[0] == kRecordVersion, CKR_DEVICE_ERROR, "the token's PIN record is malformed");
  const size_t n = (size_t{b[1]} << 8) | b[2];
  require(n > 0 && b.size() > 3 + n, CKR_DEVICE_ERROR, "the token's PIN record is malformed");
  PinRecord r;
  r.name.assign(b.begin() + 3, b.begin() + 3 + n);
  r.ciphertext = to_bytes(b.subspan(3 + n));
  return r;
}

std::optional<PinRecord> record_of(store::TokenDb& db, CK_USER_TYPE who) {
  auto rec = db.get_meta(pin_key(who));
  if (!rec) return std::nullopt;
  return decode_record(view(*rec));
}

// The PCP key of a private key object and its usage auth.
struct KeyRef {
  std::string name;
  SecureBytes auth;
  CK_KEY_TYPE type = 0;
  size_t bytes = 0;  // RSA modulus bytes, EC order bytes
};

KeyRef key_ref(const core::Object& key) {
  const SecureBytes* name = core::get_bytes(key.attrs, kNameAttr);
  require(name && !name->empty(), CKR_KEY_TYPE_INCONSISTENT, "the key is not held by the TPM");
  const SecureBytes* auth = core::get_bytes(key.attrs, kAuthAttr);
  require(auth && !auth->empty(), CKR_USER_NOT_LOGGED_IN, "the key's authorisation is sealed: log in first");
  KeyRef r;
  r.name.assign(name->begin(), name->end());
  r.auth = *auth;
  r.type = key.key_type();
  if (r.type == CKK_RSA) {
    const SecureBytes* n = core::get_bytes(key.attrs, CKA_MODULUS);
    require(n && !n->empty(), CKR_KEY_HANDLE_INVALID, "the key has no modulus");
    size_t z = 0;
    while (z < n->size() && (*n)[z] == 0) ++z;
    r.bytes = n->size() - z;
  } else {
    const SecureBytes* p = core::get_bytes(key.attrs, CKA_EC_PARAMS);
    require(p != nullptr, CKR_KEY_HANDLE_INVALID, "the key has no curve");
    r.bytes = crypto::ec_params_bits(view(*p)) == 384 ? 48 : 32;
  }
  return r;
}

enum class SignKind { pkcs1, pss, ecdsa };

class Signer final : public crypto::HashThenSign {
 public:
  Signer(std::shared_ptr<Provider> p, KeyRef k, SignKind kind, CK_MECHANISM_TYPE digest, CK_MECHANISM_TYPE pss_hash)
      : HashThenSign(digest), p_(std::move(p)), k_(std::move(k)), kind_(kind), pss_hash_(pss_hash) {}
  size_t output_size(size_t) const override { return kind_ == SignKind::ecdsa ? 2 * k_.bytes : k_.bytes; }

 private:
  SecureBytes sign_raw(ByteView in) override {
    switch (kind_) {
      case SignKind::pkcs1:
        // A DigestInfo of a hash the PCP knows is signed as that hash; anything else is padded as given.
        for (const auto& d : digest_infos()) {
          const size_t hl = crypto::digest_size(d.hash);
          if (in.size() == d.prefix.size() + hl && std::equal(d.prefix.begin(), d.prefix.end(), in.begin()))
            return sign_digest(in.subspan(d.prefix.size()), d.hash);
        }
        require(in.size() + 11 <= k_.bytes, CKR_DATA_LEN_RANGE, "input longer than the modulus allows");
        return call(SignParams{SignParams::Padding::pkcs1, Hash::none, 0}, in);
      case SignKind::pss:
        require(in.size() == crypto::digest_size(pss_hash_), CKR_DATA_LEN_RANGE, "PSS input is not a digest");
        return sign_digest(in, pss_hash_);
      case SignKind::ecdsa:
        return sign_digest(in, 0);
    }
    fail(CKR_GENERAL_ERROR, "unknown signature kind");
  }
  SecureBytes sign_digest(ByteView digest, CK_MECHANISM_TYPE h) override {
    switch (kind_) {
      case SignKind::pkcs1: return call(SignParams{SignParams::Padding::pkcs1, hash_of(h), 0}, digest);
      case SignKind::pss:
        return call(SignParams{SignParams::Padding::pss, hash_of(h), static_cast<uint32_t>(digest.size())}, digest);
      case SignKind::ecdsa: {
        // ECDSA uses the leftmost order-size bytes (FIPS 186-4 6.4); a shorter digest is the same integer
        // left-padded. The TPM wants a digest of a hash size it knows: give it exactly the order's size.
        require(!digest.empty(), CKR_DATA_LEN_RANGE, "empty ECDSA input");
        if (digest.size() > k_.bytes) digest = digest.first(k_.bytes);
        SecureBytes d(k_.bytes - digest.size(), 0);
        d.insert(d.end(), digest.begin(), digest.end());
        return call(SignParams{SignParams::Padding::ecdsa, Hash::none, 0}, view(d));
      }
    }
    fail(CKR_GENERAL_ERROR, "unknown signature kind");
  }
  SecureBytes call(const SignParams& sp, ByteView digest) {
    Result<SecureBytes> r = p_->sign(k_.name, view(k_.auth), sp, digest);
    if (!r.ok()) fail_status(r.status, CKR_DEVICE_ERROR, CKR_DEVICE_ERROR, CKR_DATA_INVALID, "TPM signature");
    require(r.value.size() == output_size(0), CKR_DEVICE_ERROR, "the TPM returned a signature of the wrong size");
    return std::move(r.value);
  }

  std::shared_ptr<Provider> p_;
  KeyRef k_;
  SignKind kind_;
  CK_MECHANISM_TYPE pss_hash_ = 0;
};

class Decryptor final : public Operation {
 public:
  Decryptor(std::shared_ptr<Provider> p, KeyRef k, DecryptParams dp)
      : p_(std::move(p)), k_(std::move(k)), dp_(std::move(dp)) {}
  size_t output_size(size_t) const override { return k_.bytes; }
  SecureBytes run(ByteView in) override {
    require(in.size() == k_.bytes, CKR_ENCRYPTED_DATA_LEN_RANGE, "ciphertext is not the modulus' size");
    Result<SecureBytes> r = p_->decrypt(k_.name, view(k_.auth), dp_, in);
    if (!r.ok())
      fail_status(r.status, CKR_DEVICE_ERROR, CKR_DEVICE_ERROR, CKR_ENCRYPTED_DATA_INVALID, "TPM decryption");
    return std::move(r.value);
  }
  bool multipart() const override { return false; }
  size_t finish_size() const override { return 0; }
  SecureBytes finish() override { fail(CKR_FUNCTION_NOT_SUPPORTED, "RSA decryption is single-part"); }

 private:
  std::shared_ptr<Provider> p_;
  KeyRef k_;
  DecryptParams dp_;
};

CK_BYTE clamp(uint32_t v) { return static_cast<CK_BYTE>(std::min<uint32_t>(v, 255)); }

}  // namespace

PcpBackend::PcpBackend(std::shared_ptr<Provider> provider, DeviceInfo info, std::filesystem::path ak_dir)
    : provider_(std::move(provider)),
      ak_dir_(std::move(ak_dir)),
      soft_(crypto::Argon2Params{}),
      info_(std::move(info)),
      info_read_(std::chrono::steady_clock::now()) {}

bool PcpBackend::supports(CK_MECHANISM_TYPE mechanism) const {
  const core::MechanismRow* row = core::find_mechanism(mechanism);
  if (!row) return false;
  switch (row->key_type) {
    case CKK_RSA:
      switch (mechanism) {
        case CKM_RSA_PKCS_KEY_PAIR_GEN: case CKM_RSA_PKCS: case CKM_RSA_PKCS_PSS: case CKM_RSA_PKCS_OAEP:
          return true;
        default:  // the hashed PKCS#1 and PSS forms of the hashes the PCP signs with; no raw RSA (X.509)
          return row->digest != 0 && pcp_hash(row->digest);
      }
    case CKK_EC:
      if (mechanism == CKM_EC_KEY_PAIR_GEN || mechanism == CKM_ECDSA) return true;
      return (row->flags & CKF_SIGN) != 0 && row->digest != 0;  // ECDSA with any hash: hashed here
    case CKK_EC_EDWARDS:
      return false;
    default:
      return soft_.supports(mechanism);  // digests, AES, HMAC, generic secrets
  }
}

void PcpBackend::limit_mechanism_info(CK_MECHANISM_TYPE mechanism, CK_MECHANISM_INFO& info) const {
  const core::MechanismRow* row = core::find_mechanism(mechanism);
  if (!row) return;
  if (row->key_type == CKK_RSA) {
    info.flags |= CKF_HW;
    info.ulMinKeySize = std::max<CK_ULONG>(info.ulMinKeySize, 2048);
    info.ulMaxKeySize = std::min<CK_ULONG>(info.ulMaxKeySize, 3072);
  } else if (row->key_type == CKK_EC) {
    info.flags |= CKF_HW;
    info.ulMinKeySize = std::max<CK_ULONG>(info.ulMinKeySize, 256);
    info.ulMaxKeySize = std::min<CK_ULONG>(info.ulMaxKeySize, 384);
  }
}

// --- PINs ---

SecureBytes PcpBackend::create_master_key(store::TokenDb& db, ByteView so_pin, uint32_t /*pin_limit: core counts*/) {
  SecureBytes mk = crypto::random_bytes(kMasterKeyBytes);
  set_pin(db, CKU_SO, view(mk), so_pin);
  return mk;
}

void PcpBackend::set_pin(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin) {
  const std::string uid = meta_string(db, "uid");
  const std::optional<PinRecord> old = record_of(db, who);
  KeySpec spec;
  spec.name = new_key_name();
  spec.alg = KeyAlg::rsa;
  spec.bits = 2048;
  spec.sign = false;
  spec.decrypt = true;
  spec.usage_auth = pin_auth(uid, who, pin);
  if (Status s = provider_->create_key(spec); !s.ok())
    fail_status(s, CKR_DEVICE_ERROR, CKR_DEVICE_ERROR, CKR_DEVICE_ERROR, "creating the PIN key in the TPM");
  // From here the new key must not outlive a failure.
  try {
    Result<PublicKey> pub = provider_->export_public(spec.name);
    if (!pub.ok())
      fail_status(pub.status, CKR_DEVICE_ERROR, CKR_DEVICE_ERROR, CKR_DEVICE_ERROR, "reading the PIN key");
    MechanismParams oaep;
    oaep.type = CKM_RSA_PKCS_OAEP;
    oaep.hash = oaep.mgf_hash = CKM_SHA256;
    oaep.label = wrap_label(uid, who);
    PinRecord rec;
    rec.name = spec.name;
    rec.ciphertext = crypto::make_rsa_encryptor(crypto::rsa_public_key(view(pub.value.n), view(pub.value.e)), oaep)
                         ->run(master_key);
    db.set_meta(pin_key(who), view(encode_record(rec)));
  } catch (...) {
    (void)provider_->delete_key(spec.name);
    throw;
  }
  // The new record is in place: the old PIN's key goes (made first, so a failure above leaves the old PIN).
  if (old && old->name != spec.name) {
    if (Status s = provider_->delete_key(old->name); !s.ok() && s.code != code::kBadKeyset)
      log::warn("TPM token: the previous " + std::string(role(who)) + " PIN key " + old->name +
                " could not be deleted: " + s.text());
  }
}

SecureBytes PcpBackend::unlock(store::TokenDb& db, CK_USER_TYPE who, ByteView pin) {
  const std::optional<PinRecord> rec = record_of(db, who);
  if (!rec && db.get_meta(std::string("tpm.pin.") + role(who)))  // a token of the Linux TPM backend (tpm2-tss)
    fail(CKR_DEVICE_ERROR, "this TPM token was made through tpm2-tss on Linux; its keys are sealed to that TPM "
                           "and cannot be used through the Windows Platform Crypto Provider");
  require(rec.has_value(), CKR_USER_PIN_NOT_INITIALIZED, "no PIN is set");
  const std::string uid = meta_string(db, "uid");
  const SecureBytes auth = pin_auth(uid, who, pin);
  DecryptParams dp;
  dp.padding = DecryptParams::Padding::oaep;
  dp.hash = Hash::sha256;
  dp.label = wrap_label(uid, who);
  Result<SecureBytes> r = provider_->decrypt(rec->name, view(auth), dp, view(rec->ciphertext));
  if (!r.ok()) {
    if (is_auth_failure(r.status.code) || is_lockout(r.status.code)) {
      std::lock_guard g(info_mu_);
      info_read_ = {};  // the TPM's dictionary-attack state changed: the next token info reads it
    }
    if (r.status.code == code::kBadKeyset)
      fail(CKR_DEVICE_ERROR, "the token's " + std::string(role(who)) + " PIN key " + rec->name +
                                 " is not in this user's Platform Crypto Provider (token made by another Windows "
                                 "user or machine, or the key was deleted)");
    fail_status(r.status, CKR_PIN_INCORRECT, CKR_PIN_LOCKED, CKR_DEVICE_ERROR, "opening the master key");
  }
  require(r.value.size() == kMasterKeyBytes, CKR_DEVICE_ERROR, "the token's PIN record holds no master key");
  return std::move(r.value);
}

bool PcpBackend::has_pin(store::TokenDb& db, CK_USER_TYPE who) {
  // A Linux TPM token's record counts as a PIN, so that C_Login reaches unlock() and says why it cannot open.
  return db.get_meta(pin_key(who)).has_value() || db.get_meta(std::string("tpm.pin.") + role(who)).has_value();
}

void PcpBackend::remove_pin(store::TokenDb& db, CK_USER_TYPE who) {
  try {
    if (auto rec = record_of(db, who)) {
      if (Status s = provider_->delete_key(rec->name); !s.ok() && s.code != code::kBadKeyset)
        log::warn("TPM token: the " + std::string(role(who)) + " PIN key " + rec->name +
                  " could not be deleted: " + s.text());
    }
  } catch (const Error& e) {
    log::warn("TPM token: " + e.detail);
  }
  db.delete_meta(pin_key(who));
}

DeviceInfo PcpBackend::current_info() {
  std::lock_guard g(info_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (now - info_read_ > std::chrono::seconds(2)) {
    info_read_ = now;
    Result<DeviceInfo> r = provider_->device_info();
    if (r.ok()) info_ = r.value;
  }
  return info_;
}

void PcpBackend::fill_token_info(store::TokenDb& db, CK_TOKEN_INFO& info) {
  const DeviceInfo i = current_info();
  core::put_padded(info.manufacturerID, manufacturer_name(i.manufacturer));
  core::put_padded(info.model, "PCP");
  info.firmwareVersion = {clamp(i.firmware1 >> 16), clamp(i.firmware1 & 0xFFFF)};
  info.hardwareVersion = {clamp(i.spec_revision / 100), clamp(i.spec_revision % 100)};
  // Core's per-token counts give the COUNT_LOW/FINAL_TRY/LOCKED flags; the TPM's global lockout adds
  // "locked" for both roles while it lasts (C_Login then answers CKR_PIN_LOCKED).
  if (!i.in_lockout) return;
  for (CK_USER_TYPE who : {CKU_USER, CKU_SO}) {
    if (!db.get_meta(pin_key(who))) continue;
    info.flags |= who == CKU_SO ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED;
    info.flags &= ~(who == CKU_SO ? CKF_SO_PIN_FINAL_TRY : CKF_USER_PIN_FINAL_TRY);
  }
}

// --- keys ---

void PcpBackend::generate_key_pair(const MechanismParams& m, AttributeMap& pub, AttributeMap& priv) {
  KeySpec spec;
  if (m.type == CKM_RSA_PKCS_KEY_PAIR_GEN) {
    const CK_ULONG bits = core::get_ulong(pub, CKA_MODULUS_BITS).value_or(0);
    // CKR_ATTRIBUTE_VALUE_INVALID: C_GenerateKeyPair does not list CKR_KEY_SIZE_RANGE (PKCS#11 3.0 5.18.3).
    require(bits == 2048 || bits == 3072, CKR_ATTRIBUTE_VALUE_INVALID, "the TPM makes RSA keys of 2048 or 3072 bits");
    if (const SecureBytes* e = core::get_bytes(pub, CKA_PUBLIC_EXPONENT); e && !e->empty()) {
      size_t z = 0;
      while (z < e->size() && (*e)[z] == 0) ++z;
      static const uint8_t f4[] = {0x01, 0x00, 0x01};
      require(equal_bytes(view(*e).subspan(z), ByteView(f4)), CKR_ATTRIBUTE_VALUE_INVALID,
              "the TPM makes RSA keys with the public exponent 65537 only");
    }
    spec.alg = KeyAlg::rsa;
    spec.bits = static_cast<uint32_t>(bits);
    spec.sign = spec.decrypt = true;  // the PKCS#11 usage attributes (modifiable) decide; the PCP allows both
  } else if (m.type == CKM_EC_KEY_PAIR_GEN) {
    const SecureBytes* params = core::get_bytes(pub, CKA_EC_PARAMS);
    require(params != nullptr, CKR_TEMPLATE_INCOMPLETE, "CKA_EC_PARAMS missing");
    const crypto::Curve c = crypto::ec_params_curve(view(*params));
    require(c == crypto::Curve::p256 || c == crypto::Curve::p384, CKR_CURVE_NOT_SUPPORTED,
            "the TPM makes EC keys on P-256 and P-384 only");
    spec.alg = c == crypto::Curve::p256 ? KeyAlg::ecdsa_p256 : KeyAlg::ecdsa_p384;
    spec.sign = true;
  } else {
    fail(CKR_MECHANISM_INVALID, "the TPM token makes RSA and EC key pairs only");
  }
  require(core::get_bool(priv, CKA_EXTRACTABLE).value_or(false) == false, CKR_ATTRIBUTE_VALUE_INVALID,
          "a TPM key cannot be extractable");
  require(core::get_bool(priv, CKA_SENSITIVE).value_or(true) == true, CKR_ATTRIBUTE_VALUE_INVALID,
          "a TPM key is always sensitive");
  spec.name = new_key_name();
  spec.usage_auth = crypto::random_bytes(32);
  if (Status s = provider_->create_key(spec); !s.ok())
    fail_status(s, CKR_DEVICE_ERROR, CKR_DEVICE_ERROR, CKR_DEVICE_ERROR, "creating the key in the TPM");
  try {
    Result<PublicKey> r = provider_->export_public(spec.name);
    if (!r.ok()) fail_status(r.status, CKR_DEVICE_ERROR, CKR_DEVICE_ERROR, CKR_DEVICE_ERROR, "reading the new key");
    const PublicKey& pk = r.value;
    if (spec.alg == KeyAlg::rsa) {
      const SecureBytes info = crypto::public_key_info(crypto::rsa_public_key(view(pk.n), view(pk.e)));
      for (AttributeMap* a : {&pub, &priv}) {
        core::set_bytes(*a, CKA_MODULUS, view(pk.n));
        core::set_bytes(*a, CKA_PUBLIC_EXPONENT, view(pk.e));
        core::set_bytes(*a, CKA_PUBLIC_KEY_INFO, view(info));
      }
    } else {
      const SecureBytes params = *core::get_bytes(pub, CKA_EC_PARAMS);
      const SecureBytes info = crypto::public_key_info(crypto::ec_public_key(view(params), view(pk.point)));
      core::set_bytes(pub, CKA_EC_POINT, view(crypto::der_octet_string(view(pk.point))));
      for (AttributeMap* a : {&pub, &priv}) core::set_bytes(*a, CKA_PUBLIC_KEY_INFO, view(info));
      core::set_bytes(priv, CKA_EC_PARAMS, view(params));
    }
  } catch (...) {
    (void)provider_->delete_key(spec.name);
    throw;
  }
  core::set_bool(priv, CKA_EXTRACTABLE, false);
  core::set_bool(priv, CKA_SENSITIVE, true);
  // One PCP key stands behind the object: a copy would share it, and destroying either would break the other.
  core::set_bool(priv, CKA_COPYABLE, false);
  core::set_bytes(priv, kNameAttr, view(spec.name));
  core::set_bytes(priv, kAuthAttr, view(spec.usage_auth));
}

void PcpBackend::generate_key(const MechanismParams& m, AttributeMap& key) { soft_.generate_key(m, key); }

void PcpBackend::import_key(AttributeMap& key) {
  const CK_OBJECT_CLASS cls = core::get_ulong(key, CKA_CLASS).value_or(CK_UNAVAILABLE_INFORMATION);
  require(cls != CKO_PRIVATE_KEY, CKR_TEMPLATE_INCONSISTENT,
          "the TPM token holds only private keys the TPM made (no import)");
  soft_.import_key(key);  // public and secret keys: checked, kept as given
}

std::optional<SecureBytes> PcpBackend::vendor_attribute(const core::Object& key, CK_ATTRIBUTE_TYPE type,
                                                        ByteView nonce) {
  if (key.cls() != CKO_PRIVATE_KEY || (type != CKA_KEYSEAL_TPM_PUBLIC && type != CKA_KEYSEAL_ATTESTATION))
    return std::nullopt;
  const SecureBytes* name = core::get_bytes(key.attrs, kNameAttr);
  if (!name || name->empty()) return std::nullopt;
  std::optional<SecureBytes> pub = key_tpm_public(*provider_, std::string(name->begin(), name->end()));
  if (!pub || type == CKA_KEYSEAL_TPM_PUBLIC) return pub;
  const KeyRef k = key_ref(key);
  return key_attestation(*provider_, k.name, view(k.auth), nonce, ak_dir_);
}

void PcpBackend::destroy_key(const AttributeMap& attrs) {
  const SecureBytes* name = core::get_bytes(attrs, kNameAttr);
  if (!name || name->empty()) return;
  const std::string n(name->begin(), name->end());
  if (Status s = provider_->delete_key(n); !s.ok() && s.code != code::kBadKeyset)
    fail_status(s, CKR_DEVICE_ERROR, CKR_DEVICE_ERROR, CKR_DEVICE_ERROR, "deleting the key " + n);
}

std::unique_ptr<Operation> PcpBackend::sign(const core::Object& key, const MechanismParams& m) {
  if (key.cls() == CKO_SECRET_KEY) return soft_.sign(key, m);
  require(key.cls() == CKO_PRIVATE_KEY, CKR_KEY_TYPE_INCONSISTENT, "not a private key");
  const core::MechanismRow* row = core::find_mechanism(m.type);
  require(row != nullptr && supports(m.type) && (row->flags & CKF_SIGN), CKR_MECHANISM_INVALID,
          "the TPM cannot sign with this mechanism");
  KeyRef k = key_ref(key);
  require(k.type == row->key_type, CKR_KEY_TYPE_INCONSISTENT, "key type does not fit the mechanism");
  if (k.type == CKK_EC) return std::make_unique<Signer>(provider_, std::move(k), SignKind::ecdsa, row->digest, 0);
  if (row->param == core::ParamKind::pss) {
    const CK_MECHANISM_TYPE h = row->digest ? row->digest : m.hash;
    require(pcp_hash(h), CKR_MECHANISM_PARAM_INVALID, "the TPM signs PSS with SHA-1/256/384/512 only");
    require(m.hash == h && m.mgf_hash == h, CKR_MECHANISM_PARAM_INVALID,
            "the TPM's PSS uses the same hash for the message and MGF1");
    require(m.salt_len == crypto::digest_size(h), CKR_MECHANISM_PARAM_INVALID,
            "the TPM's PSS salt is as long as the hash");
    return std::make_unique<Signer>(provider_, std::move(k), SignKind::pss, row->digest, h);
  }
  return std::make_unique<Signer>(provider_, std::move(k), SignKind::pkcs1, row->digest, 0);
}

std::unique_ptr<Operation> PcpBackend::verify(const core::Object& key, const MechanismParams& m) {
  return soft_.verify(key, m);
}

std::unique_ptr<Operation> PcpBackend::encrypt(const core::Object& key, const MechanismParams& m) {
  return soft_.encrypt(key, m);
}

std::unique_ptr<Operation> PcpBackend::decrypt(const core::Object& key, const MechanismParams& m) {
  if (key.cls() != CKO_PRIVATE_KEY) return soft_.decrypt(key, m);
  KeyRef k = key_ref(key);
  require(k.type == CKK_RSA, CKR_KEY_TYPE_INCONSISTENT, "only RSA keys decrypt");
  DecryptParams dp;
  if (m.type == CKM_RSA_PKCS) {
    dp.padding = DecryptParams::Padding::pkcs1;
  } else if (m.type == CKM_RSA_PKCS_OAEP) {
    require(pcp_hash(m.hash), CKR_MECHANISM_PARAM_INVALID, "the TPM's OAEP uses SHA-1/256/384/512");
    require(m.mgf_hash == m.hash, CKR_MECHANISM_PARAM_INVALID, "the TPM's OAEP uses the same hash for MGF1");
    dp.padding = DecryptParams::Padding::oaep;
    dp.hash = hash_of(m.hash);
    dp.label = m.label;
  } else {
    fail(CKR_MECHANISM_INVALID, "the TPM decrypts with RSA PKCS#1 v1.5 and OAEP only");
  }
  return std::make_unique<Decryptor>(provider_, std::move(k), std::move(dp));
}

SecureBytes PcpBackend::derive(const core::Object& key, const MechanismParams& m) {
  if (key.cls() == CKO_SECRET_KEY) return soft_.derive(key, m);  // HKDF: secret keys live in the record
  fail(CKR_MECHANISM_INVALID, "the TPM token on Windows does not derive keys");
}

SecureBytes PcpBackend::wrap(const core::Object& wk, const MechanismParams& m, ByteView value) {
  return soft_.wrap(wk, m, value);
}

SecureBytes PcpBackend::unwrap(const core::Object& uk, const MechanismParams& m, ByteView wrapped) {
  if (uk.cls() == CKO_PRIVATE_KEY) return decrypt(uk, m)->run(wrapped);
  return soft_.unwrap(uk, m, wrapped);
}

// --- connecting and status ---

std::shared_ptr<core::Backend> connect_backend(std::shared_ptr<Provider> provider, std::string& why,
                                               std::filesystem::path ak_dir) {
  try {
    if (!provider) {
      if (why.empty()) why = "no TPM: no Platform Crypto Provider";
      return nullptr;
    }
    auto info = probe(*provider, why);
    if (!info) return nullptr;
    return std::make_shared<PcpBackend>(std::move(provider), *info, std::move(ak_dir));
  } catch (const std::exception& e) {
    why = std::string("no TPM: ") + e.what();
  } catch (...) {
    why = "no TPM: unknown failure while probing the Platform Crypto Provider";
  }
  return nullptr;
}

std::shared_ptr<core::Backend> connect_backend(std::string& why, std::filesystem::path ak_dir) {
  std::shared_ptr<Provider> p;
  try {
    p = make_system_provider(why);
  } catch (const std::exception& e) {
    why = std::string("no TPM: ") + e.what();
    return nullptr;
  }
  return connect_backend(std::move(p), why, std::move(ak_dir));
}

}  // namespace keyseal::pcp
