// The TPM's presence and facts through the Provider seam: what decides "a TPM is present" (connect_backend)
// and what `keyseal status` prints. Needs nothing but the Provider.
#include "pcp/status.h"

namespace keyseal::pcp {

std::string manufacturer_name(uint32_t m) {
  std::string id;
  for (int s = 24; s >= 0; s -= 8) {
    const char c = static_cast<char>((m >> s) & 0xFF);
    if (c >= 0x20 && c < 0x7F) id.push_back(c);
  }
  while (!id.empty() && id.back() == ' ') id.pop_back();
  static const std::pair<const char*, const char*> known[] = {
      {"IFX", "Infineon"}, {"INTC", "Intel"}, {"AMD", "AMD"},         {"STM", "STMicro"},
      {"NTC", "Nuvoton"},  {"MSFT", "Microsoft"}, {"IBM", "IBM"}, {"QCOM", "Qualcomm"}};
  for (const auto& [k, v] : known)
    if (id == k) return v;
  return id;
}

std::optional<DeviceInfo> probe(Provider& p, std::string& why) {
  Result<DeviceInfo> d = p.device_info();
  if (!d.ok()) {
    why = "no TPM: " + d.status.text();
    return std::nullopt;
  }
  if (d.value.tpm_version != 2) {
    why = "no TPM 2.0: Tbsi_GetDeviceInfo reports TPM version " + std::to_string(d.value.tpm_version);
    return std::nullopt;
  }
  Result<std::string> t = p.platform_type();
  if (!t.ok()) {
    why = "no TPM: the Platform Crypto Provider does not read the TPM (PCP_PLATFORM_TYPE: " + t.status.text() + ")";
    return std::nullopt;
  }
  return d.value;
}

TpmStatus tpm_status(Provider& p) {
  TpmStatus s;
  try {
    Result<DeviceInfo> d = p.device_info();
    if (!d.ok()) {
      s.why = "no TPM: " + d.status.text();
      return s;
    }
    const DeviceInfo& i = d.value;
    s.version = i.tpm_version;
    s.manufacturer = manufacturer_name(i.manufacturer);
    s.vendor_string = i.vendor;
    s.firmware = std::to_string(i.firmware1 >> 16) + "." + std::to_string(i.firmware1 & 0xFFFF) + "." +
                 std::to_string(i.firmware2 >> 16) + "." + std::to_string(i.firmware2 & 0xFFFF);
    s.spec_level = (i.tpm_version == 2 ? std::string("2.0") : std::to_string(i.tpm_version)) + " rev " +
                   std::to_string(i.spec_revision / 100) + "." + (i.spec_revision % 100 < 10 ? "0" : "") +
                   std::to_string(i.spec_revision % 100);
    s.lockout = std::string(i.in_lockout ? "in lockout" : "not in lockout") + ", " +
                std::to_string(i.lockout_counter) + " of " + std::to_string(i.max_auth_fail) + " failures, recovery " +
                std::to_string(i.lockout_interval) + " s";
    if (i.tpm_version != 2) {
      s.why = "TPM version " + std::to_string(i.tpm_version) + ": keyseal needs TPM 2.0";
      return s;
    }
    Result<std::string> t = p.platform_type();
    if (!t.ok()) {
      s.why = "the Platform Crypto Provider does not read the TPM (PCP_PLATFORM_TYPE: " + t.status.text() + ")";
      return s;
    }
    s.platform_type = t.value;
    s.present = true;
  } catch (const std::exception& e) {
    s = TpmStatus{};
    s.why = e.what();
  }
  return s;
}

TpmStatus tpm_status() {
  std::string why;
  std::shared_ptr<Provider> p;
  try {
    p = make_system_provider(why);
  } catch (const std::exception& e) {
    why = e.what();
  }
  if (!p) {
    TpmStatus s;
    s.why = why;
    return s;
  }
  return tpm_status(*p);
}

}  // namespace keyseal::pcp
