// What a TPM can do and who made it, read once per connection with TPM2_GetCapability and TPM2_TestParms
// (TPM 2.0 Part 3 sections 30.2 and 12.3; property tags from Part 2 section 6.13).
#pragma once
#include <tss2/tss2_esys.h>

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace keyseal::tpm {

struct TpmInfo {
  uint32_t manufacturer = 0;  // TPM2_PT_MANUFACTURER, 4 ASCII chars big-endian
  std::string vendor_string;  // TPM2_PT_VENDOR_STRING_1..4
  uint32_t firmware1 = 0, firmware2 = 0;  // TPM2_PT_FIRMWARE_VERSION_1/2
  uint32_t spec_revision = 0;  // TPM2_PT_REVISION, e.g. 159 for 1.59
  uint32_t spec_level = 0;
  std::string family;  // TPM2_PT_FAMILY_INDICATOR, "2.0"
  std::set<TPM2_ALG_ID> algorithms;
  std::set<TPM2_ECC_CURVE> curves;
  std::set<uint16_t> rsa_bits;  // sizes TPM2_TestParms accepted (2048, 3072, 4096)
  std::vector<TPMI_ALG_HASH> pcr_banks;  // banks with at least one PCR allocated
  // Variable state (re-read by read_lockout()).
  bool in_lockout = false, owner_auth_set = false, storage_enabled = true;
  uint32_t lockout_counter = 0, max_auth_fail = 0, lockout_interval = 0, lockout_recovery = 0;

  bool has(TPM2_ALG_ID a) const { return algorithms.count(a) != 0; }
};

// Reads everything above; the caller checks each rc (throws keyseal::Error through `check`).
using RcCheck = std::function<void(TSS2_RC rc, const char* what)>;
TpmInfo probe(ESYS_CONTEXT* ctx, const RcCheck& check);
void read_variable_state(ESYS_CONTEXT* ctx, TpmInfo& info, const RcCheck& check);

std::string manufacturer_name(uint32_t code);      // "IBM (software TPM)", "Infineon", ... else the 4 chars
std::string hash_name(TPMI_ALG_HASH h);             // "sha256"; "" when unknown
TPMI_ALG_HASH hash_by_name(const std::string& n);   // TPM2_ALG_ERROR when unknown
std::string firmware_text(const TpmInfo& i);        // "major.minor.build.revision" as Get-Tpm prints it
std::string spec_text(const TpmInfo& i);            // "2.0 rev 1.59"
std::string lockout_text(const TpmInfo& i);         // "not in lockout, 0 of 32 failures, recovery 600 s"

}  // namespace keyseal::tpm
