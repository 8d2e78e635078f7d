// The Windows composition: soft tokens bound to the Windows factors under DPAPI (softtoken::windows_machine),
// and TPM tokens through the Platform Crypto Provider (pcp::connect_backend; none, with the reason, when
// there is no TPM 2.0, as under wine). Soft tokens are not bound to the TPM on Windows: DPAPI is their
// platform layer.
#include "compose/compose.h"

#include "common/log.h"
#include "pcp/attestation.h"
#include "pcp/pcp_backend.h"
#include "pcp/status.h"
#include "softtoken/soft_backend.h"
#include "softtoken/windows_machine.h"

namespace keyseal::compose {

namespace {
// This user's AIK certificate chain (attest/ak_cert_file.h), beside the store; none without a store directory.
std::filesystem::path ak_dir(const core::Config& config) {
  return config.store_dir.empty() ? std::filesystem::path() : config.store_dir / "pcp-ak";
}
}  // namespace

Backends make_backends(const core::Config& config) {
  crypto::Argon2Params params{config.argon2_t_cost, config.argon2_m_cost_kib, config.argon2_lanes};
  std::vector<std::shared_ptr<core::Backend>> out{
      std::make_shared<softtoken::SoftBackend>(params, softtoken::windows_machine(config.store_dir))};
  std::string why;
  std::shared_ptr<core::Backend> tpm = pcp::connect_backend(why, ak_dir(config));
  if (tpm && config.backend == "soft") out.push_back(tpm);
  else if (tpm) out.insert(out.begin(), tpm);
  else if (why.empty()) why = "no TPM: the Platform Crypto Provider has no TPM 2.0";
  if (!why.empty()) log::info(why);
  return {std::move(out), why};
}

softtoken::Machine this_machine(const core::Config& config) { return softtoken::windows_machine(config.store_dir); }

std::string tpm_binding_unavailable(const core::Config&) {
  return "binding a soft token to the TPM is not available on Windows (DPAPI binds soft tokens to this user "
         "and machine instead; TPM tokens keep their keys in the TPM)";
}

std::string tpm_connection(const core::Config& config) {
  std::string s = "TBS and the Microsoft Platform Crypto Provider";
  if (!config.tcti.empty()) s += " (the tcti setting \"" + config.tcti + "\" is not used on Windows)";
  return s;
}

std::vector<std::pair<std::string, std::string>> tpm_status(const core::Config&) {
  // From TBS and the provider (pcp/status.cpp): never from opening the provider alone.
  pcp::TpmStatus st = pcp::tpm_status();
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("present", st.present ? "yes (Microsoft Platform Crypto Provider)" : "no");
  if (!st.present) {
    out.emplace_back("why", st.why.empty() ? "no TPM 2.0 reported by TBS" : st.why);
    return out;
  }
  out.emplace_back("version", st.version == 2 ? "2.0" : st.version == 1 ? "1.2" : "unknown");
  out.emplace_back("manufacturer", st.manufacturer + (st.vendor_string.empty() ? "" : " (" + st.vendor_string + ")"));
  out.emplace_back("firmware", st.firmware);
  if (!st.spec_level.empty()) out.emplace_back("specification", st.spec_level);
  if (!st.lockout.empty()) out.emplace_back("lockout", st.lockout);
  return out;
}

// Key attestation through the Platform Crypto Provider (pcp/attestation.h): the AIK "keyseal-ak" the PCP keeps
// for this user, made on first use. Where keyseal_attest is not built, pcp/ answers CKR_FUNCTION_NOT_SUPPORTED.
namespace {
std::shared_ptr<pcp::Provider> usable_provider() {
  std::string why;
  std::shared_ptr<pcp::Provider> p = pcp::make_system_provider(why);
  if (p && !pcp::probe(*p, why)) p.reset();
  if (!p) fail(CKR_DEVICE_ERROR, why.empty() ? "no TPM 2.0 behind the Platform Crypto Provider" : why);
  return p;
}
}  // namespace

attest::AkInfo attestation_key(const core::Config& config) { return pcp::ak_info(*usable_provider(), ak_dir(config)); }

std::optional<attest::Bytes> activate_credential(const core::Config&, const attest::Credential& c) {
  return pcp::activate_credential(*usable_provider(), c);
}

void store_ak_certificates(const core::Config& config, const std::vector<attest::Bytes>& chain) {
  pcp::store_ak_certificates(*usable_provider(), ak_dir(config), chain);
}

}  // namespace keyseal::compose
