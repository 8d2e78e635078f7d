// The Linux composition: soft tokens bound to the Linux fingerprint (and, where one is expected, the TPM's EK
// and sealer), and TPM tokens through tpm2-tss.
#include "compose/compose.h"

#include "common/log.h"
#include "softtoken/soft_backend.h"
#include "tpm/attest.h"
#include "tpm/connection.h"
#include "tpm/soft_share.h"
#include "tpm/tpm_backend.h"

namespace keyseal::compose {

Backends make_backends(const core::Config& config) {
  crypto::Argon2Params params{config.argon2_t_cost, config.argon2_m_cost_kib, config.argon2_lanes};
  // Soft tokens bind to this machine's fingerprint and, where there is a TPM, to a secret it seals.
  std::vector<std::shared_ptr<core::Backend>> out{
      std::make_shared<softtoken::SoftBackend>(params, tpm::this_machine(config.tcti))};
  std::string why;
  if (!tpm::tpm_expected(config.tcti)) {
    why = "no TPM: no /dev/tpmrm0 or /dev/tpm0 and no tcti configured";
  } else {
    std::shared_ptr<core::Backend> tpm = tpm::connect_backend(
        tpm::Options{config.tcti, config.tpm_pcrs,
                     config.store_dir.empty() ? std::filesystem::path() : config.store_dir / "tpm-ak"},
        why);
    if (tpm && config.backend == "soft") out.push_back(tpm);
    else if (tpm) out.insert(out.begin(), tpm);
    else why = "no TPM: " + why;
  }
  if (!why.empty()) log::info(why);
  return {std::move(out), why};
}

softtoken::Machine this_machine(const core::Config& config) { return tpm::this_machine(config.tcti); }

std::string tpm_binding_unavailable(const core::Config& config) {
  if (tpm::tpm_expected(config.tcti)) return {};
  return "no TPM here (no /dev/tpmrm0 or /dev/tpm0, and no tcti configured: set KEYSEAL_TCTI or 'tcti =')";
}

std::string tpm_connection(const core::Config& config) {
  return "tcti " + (config.tcti.empty() ? std::string("(tss2 default)") : config.tcti);
}

std::vector<std::pair<std::string, std::string>> tpm_status(const core::Config& config) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!tpm::tpm_expected(config.tcti)) {
    out.emplace_back("present", "no (no /dev/tpmrm0 or /dev/tpm0, and no tcti configured: set KEYSEAL_TCTI or 'tcti =')");
    return out;
  }
  const tpm::Status st = tpm::probe_status(config.tcti);
  out.emplace_back("present", st.present ? "yes" : "no");
  if (!st.present) {
    out.emplace_back("why", st.why);
    return out;
  }
  out.emplace_back("ready", st.ready ? "yes" : "no" + (st.why.empty() ? std::string() : " (" + st.why + ")"));
  out.emplace_back("manufacturer", st.manufacturer + (st.vendor_string.empty() ? "" : " (" + st.vendor_string + ")"));
  out.emplace_back("firmware", st.firmware);
  out.emplace_back("spec level", st.spec_level);
  std::string banks;
  for (size_t i = 0; i < st.pcr_banks.size(); ++i) banks += (i ? ", " : "") + st.pcr_banks[i];
  out.emplace_back("PCR banks", banks);
  out.emplace_back("lockout", st.lockout);
  return out;
}

namespace {

template <class F>
auto with_attestation(const core::Config& config, F&& f) {
  if (!tpm::tpm_expected(config.tcti))
    fail(CKR_DEVICE_ERROR, "no TPM here (no /dev/tpmrm0 or /dev/tpm0, and no tcti configured: set KEYSEAL_TCTI or 'tcti =')");
  require(!config.store_dir.empty(), CKR_FUNCTION_FAILED, "no store directory for the attestation key");
  auto conn = tpm::Connection::shared(config.tcti);
  auto g = conn->lock();
  tpm::Attestation a(g, config.store_dir / "tpm-ak");
  return f(a);
}

}  // namespace

attest::AkInfo attestation_key(const core::Config& config) {
  return with_attestation(config, [](tpm::Attestation& a) { return a.ak_info(); });
}

std::optional<attest::Bytes> activate_credential(const core::Config& config, const attest::Credential& c) {
  return with_attestation(config, [&](tpm::Attestation& a) { return a.activate(c); });
}

void store_ak_certificates(const core::Config& config, const std::vector<attest::Bytes>& chain) {
  with_attestation(config, [&](tpm::Attestation& a) {
    a.store_ak_certificates(chain);
    return 0;
  });
}

}  // namespace keyseal::compose
