// pcp/attestation.h over keyseal_attest: the PCP's blobs parsed by attest/pcp_claim.h into Evidence and AkInfo.
#include "attest/ak_cert_file.h"
#include "attest/pcp_claim.h"
#include "common/error.h"
#include "common/log.h"
#include "pcp/attestation.h"
#include "pcp/status.h"

#include <stdexcept>
#include <system_error>

namespace keyseal::pcp {

namespace {

// A failed PCP call as a CK_RV with the call and code. The key's usage auth is the token's own random secret,
// so an authorisation failure is no wrong PIN: it is reported as a device error like the rest.
template <class T>
T value_of(Result<T> r) {
  if (r.ok()) return std::move(r.value);
  if (r.status.code == code::kBadKeyset) fail(CKR_KEY_HANDLE_INVALID, r.status.text() + " (the PCP key is missing)");
  if (r.status.code == code::kNotSupported) fail(CKR_FUNCTION_NOT_SUPPORTED, r.status.text());
  fail(CKR_DEVICE_ERROR, r.status.text());
}

// The AIK's PCP_TPM12_IDBINDING, the AIK made first when this user has none.
std::vector<uint8_t> aik_binding(Provider& p) {
  Result<std::vector<uint8_t>> r = p.identity_binding(kAikName);
  if (r.status.code == code::kBadKeyset) {
    Status s = p.create_identity_key(kAikName);
    if (!s.ok() && s.code != code::kExists) value_of(Result<int>{s, 0});
    r = p.identity_binding(kAikName);
  }
  return value_of(std::move(r));
}

template <class F>
auto parsed(F f) {
  try {
    return f();
  } catch (const std::invalid_argument& e) {
    fail(CKR_DEVICE_ERROR, std::string("the Platform Crypto Provider's answer does not parse: ") + e.what());
  }
}

void describe_tpm(Provider& p, std::string& manufacturer, std::string& model, std::string& firmware) {
  const TpmStatus s = tpm_status(p);
  manufacturer = s.manufacturer;
  model = s.vendor_string;
  firmware = s.firmware;
}

// The AIK's kept certificate chain, when there is one for this AIK (a PCP key made again after the old one was
// deleted has a new key: its old chain is not used, and the log says so).
std::vector<attest::Bytes> kept_ak_certificates(const std::filesystem::path& ak_dir, const attest::Bytes& ak_public) {
  std::string why;
  std::vector<attest::Bytes> chain = attest::load_ak_certificates(ak_dir, ak_public, &why);
  if (!why.empty()) log::warn("PCP attestation: " + why);
  return chain;
}

}  // namespace

std::optional<SecureBytes> key_tpm_public(Provider& p, const std::string& key) {
  const attest::Bytes blob = value_of(p.key_blob(key));
  const attest::Bytes pub = parsed([&] { return attest::key_public_from_pcp_key_blob(blob); });
  return SecureBytes(pub.begin(), pub.end());
}

SecureBytes key_attestation(Provider& p, const std::string& key, ByteView key_auth, ByteView nonce,
                            const std::filesystem::path& ak_dir) {
  const attest::Bytes binding = aik_binding(p);
  const attest::Bytes claim = value_of(p.key_claim(key, key_auth, kAikName, nonce));
  const attest::Bytes ek = value_of(p.ek_public());
  std::vector<attest::Bytes> certs = value_of(p.ek_certificates());
  attest::Evidence e = parsed([&] { return attest::evidence_from_pcp_claim(claim, binding, ek, std::move(certs)); });
  require(e.nonce == attest::Bytes(nonce.begin(), nonce.end()), CKR_DEVICE_ERROR,
          "the claim's TPMS_ATTEST does not carry the nonce asked for");
  e.ak_certificates = kept_ak_certificates(ak_dir, e.ak_public);
  describe_tpm(p, e.tpm_manufacturer, e.tpm_model, e.tpm_firmware);
  const std::string json = attest::to_json(e);
  return SecureBytes(json.begin(), json.end());
}

attest::AkInfo ak_info(Provider& p, const std::filesystem::path& ak_dir) {
  const attest::Bytes binding = aik_binding(p);
  const attest::Bytes ek = value_of(p.ek_public());
  attest::AkInfo a;
  a.ak_public = parsed([&] { return attest::ak_public_from_id_binding(binding); });
  a.ek_public = parsed([&] { return attest::ek_public_from_rsa_blob(ek); });
  a.ek_certificates = value_of(p.ek_certificates());
  a.ak_certificates = kept_ak_certificates(ak_dir, a.ak_public);
  describe_tpm(p, a.tpm_manufacturer, a.tpm_model, a.tpm_firmware);
  return a;
}

void store_ak_certificates(Provider& p, const std::filesystem::path& ak_dir, const std::vector<attest::Bytes>& chain) {
  require(!ak_dir.empty(), CKR_FUNCTION_FAILED, "no store directory to keep the AK certificates in");
  const attest::Bytes ak = parsed([&] { return attest::ak_public_from_id_binding(aik_binding(p)); });
  try {
    attest::store_ak_certificates(ak_dir, ak, chain);
  } catch (const std::invalid_argument& e) {
    fail(CKR_ARGUMENTS_BAD, e.what());
  } catch (const std::system_error& e) {
    fail(CKR_DEVICE_ERROR, std::string("cannot keep the AK certificates: ") + e.what());
  }
}

std::optional<attest::Bytes> activate_credential(Provider& p, const attest::Credential& c) {
  (void)aik_binding(p);  // the AIK exists
  attest::Bytes blob = c.credential_blob;
  blob.insert(blob.end(), c.encrypted_secret.begin(), c.encrypted_secret.end());
  Result<SecureBytes> r = p.activate(kAikName, ByteView(blob.data(), blob.size()));
  if (!r.ok()) return std::nullopt;  // the TPM refused the credential (integrity, or not for this AIK/EK)
  return attest::Bytes(r.value.begin(), r.value.end());
}

}  // namespace keyseal::pcp
