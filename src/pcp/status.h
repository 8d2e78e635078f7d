// Whether this machine has a TPM the Platform Crypto Provider can use, and its facts for `keyseal status`.
#pragma once
#include "pcp/provider.h"

#include <optional>
#include <string>

namespace keyseal::pcp {

// Usable TPM: Tbsi_GetDeviceInfo says TPM 2.0 and the PCP platform-type property reads. Opening the
// provider is never enough (it succeeds under wine). Returns the device info, or an empty optional and `why`.
std::optional<DeviceInfo> probe(Provider& p, std::string& why);

struct TpmStatus {  // for `keyseal status`
  bool present = false;
  uint32_t version = 0;       // 2 for TPM 2.0, 1 for TPM 1.2, 0 unknown
  std::string manufacturer;   // the 4-character vendor id, decoded where known ("Intel", "AMD", ...)
  std::string vendor_string;
  std::string firmware;       // "7.85.0.2": TPM_PT_FIRMWARE_VERSION_1 and _2 as 16-bit halves
  std::string spec_level;     // "2.0 rev 1.59"
  std::string platform_type;  // the PCP's PCP_PLATFORM_TYPE
  std::string lockout;        // "not in lockout, 0 of 32 failures, recovery 7200 s"
  std::string why;            // when not present
};
TpmStatus tpm_status(Provider& p);  // never throws
TpmStatus tpm_status();             // the system's provider

// "KSFK" as is; known vendor ids decoded ("INTC" -> "Intel").
std::string manufacturer_name(uint32_t manufacturer);

}  // namespace keyseal::pcp
