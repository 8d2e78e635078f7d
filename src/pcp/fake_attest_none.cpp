// FakeProvider without attestation (builds where keyseal_attest is not available): every attestation call answers
// NTE_NOT_SUPPORTED, as Provider's defaults do, and there is no EK root.
#include "pcp/fake_provider_key.h"

namespace keyseal::pcp {

struct FakeProvider::Attestation {};

FakeProvider::Attestation& FakeProvider::attestation() {
  if (!att_) att_ = std::make_shared<Attestation>();
  return *att_;
}
std::vector<uint8_t> FakeProvider::ek_root() { return {}; }
std::vector<uint8_t> FakeProvider::issue_ak_certificate(const std::string&) { return {}; }
Status FakeProvider::create_identity_key(const std::string& name) { return Provider::create_identity_key(name); }
Result<std::vector<uint8_t>> FakeProvider::key_blob(const std::string& key) { return Provider::key_blob(key); }
Result<std::vector<uint8_t>> FakeProvider::identity_binding(const std::string& aik) {
  return Provider::identity_binding(aik);
}
Result<std::vector<uint8_t>> FakeProvider::key_claim(const std::string& key, ByteView key_auth, const std::string& aik,
                                                     ByteView nonce) {
  return Provider::key_claim(key, key_auth, aik, nonce);
}
Result<std::vector<uint8_t>> FakeProvider::ek_public() { return Provider::ek_public(); }
Result<std::vector<std::vector<uint8_t>>> FakeProvider::ek_certificates() { return Provider::ek_certificates(); }
Result<SecureBytes> FakeProvider::activate(const std::string& aik, ByteView blob) {
  return Provider::activate(aik, blob);
}

}  // namespace keyseal::pcp
