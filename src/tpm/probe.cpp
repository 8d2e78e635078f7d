// Capability probe and its human-readable forms for token info and `keyseal status` (TPM 2.0 Part 2
// section 6.13 TPM_PT, 8.6 TPMA_PERMANENT, 8.7 TPMA_STARTUP_CLEAR; Part 3 sections 30.2 GetCapability and
// 12.3 TestParms; TCG vendor ID registry for the manufacturer codes).
#include "tpm/probe.h"

#include <cstdio>
#include <map>

namespace keyseal::tpm {

namespace {

std::string chars_of(uint32_t v) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const char c = static_cast<char>((v >> shift) & 0xFF);
    if (c >= 0x20 && c < 0x7F) s += c;
  }
  return s;
}

std::string trim(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  while (!s.empty() && s.front() == ' ') s.erase(s.begin());
  return s;
}

// All TPM properties from `first` on (the TPM may answer in several parts).
std::map<TPM2_PT, uint32_t> properties(ESYS_CONTEXT* ctx, TPM2_PT first, TPM2_PT last, const RcCheck& check) {
  std::map<TPM2_PT, uint32_t> out;
  TPM2_PT next = first;
  for (int round = 0; round < 8 && next <= last; ++round) {
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA* cap = nullptr;
    check(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES, next,
                             last - next + 1, &more, &cap),
          "TPM2_GetCapability(TPM_PROPERTIES)");
    const TPML_TAGGED_TPM_PROPERTY& l = cap->data.tpmProperties;
    for (UINT32 i = 0; i < l.count; ++i) {
      out[l.tpmProperty[i].property] = l.tpmProperty[i].value;
      next = l.tpmProperty[i].property + 1;
    }
    const bool done = more != TPM2_YES || l.count == 0;
    Esys_Free(cap);
    if (done) break;
  }
  return out;
}

bool rsa_size_ok(ESYS_CONTEXT* ctx, uint16_t bits) {
  TPMT_PUBLIC_PARMS p{};
  p.type = TPM2_ALG_RSA;
  p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  p.parameters.rsaDetail.keyBits = bits;
  return Esys_TestParms(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &p) == TSS2_RC_SUCCESS;
}

}  // namespace

void read_variable_state(ESYS_CONTEXT* ctx, TpmInfo& info, const RcCheck& check) {
  auto v = properties(ctx, TPM2_PT_PERMANENT, TPM2_PT_LOCKOUT_RECOVERY, check);
  info.in_lockout = (v[TPM2_PT_PERMANENT] & TPMA_PERMANENT_INLOCKOUT) != 0;
  info.owner_auth_set = (v[TPM2_PT_PERMANENT] & TPMA_PERMANENT_OWNERAUTHSET) != 0;
  info.storage_enabled = (v[TPM2_PT_STARTUP_CLEAR] & TPMA_STARTUP_CLEAR_SHENABLE) != 0;
  info.lockout_counter = v[TPM2_PT_LOCKOUT_COUNTER];
  info.max_auth_fail = v[TPM2_PT_MAX_AUTH_FAIL];
  info.lockout_interval = v[TPM2_PT_LOCKOUT_INTERVAL];
  info.lockout_recovery = v[TPM2_PT_LOCKOUT_RECOVERY];
}

TpmInfo probe(ESYS_CONTEXT* ctx, const RcCheck& check) {
  TpmInfo info;
  auto f = properties(ctx, TPM2_PT_FAMILY_INDICATOR, TPM2_PT_FIRMWARE_VERSION_2, check);
  info.family = chars_of(f[TPM2_PT_FAMILY_INDICATOR]);
  info.spec_level = f[TPM2_PT_LEVEL];
  info.spec_revision = f[TPM2_PT_REVISION];
  info.manufacturer = f[TPM2_PT_MANUFACTURER];
  info.vendor_string = trim(chars_of(f[TPM2_PT_VENDOR_STRING_1]) + chars_of(f[TPM2_PT_VENDOR_STRING_2]) +
                            chars_of(f[TPM2_PT_VENDOR_STRING_3]) + chars_of(f[TPM2_PT_VENDOR_STRING_4]));
  info.firmware1 = f[TPM2_PT_FIRMWARE_VERSION_1];
  info.firmware2 = f[TPM2_PT_FIRMWARE_VERSION_2];
  read_variable_state(ctx, info, check);

  TPMI_YES_NO more = TPM2_NO;
  TPMS_CAPABILITY_DATA* cap = nullptr;
  check(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_ALGS, TPM2_ALG_FIRST,
                           TPM2_MAX_CAP_ALGS, &more, &cap),
        "TPM2_GetCapability(ALGS)");
  for (UINT32 i = 0; i < cap->data.algorithms.count; ++i) info.algorithms.insert(cap->data.algorithms.algProperties[i].alg);
  Esys_Free(cap);
  cap = nullptr;
  if (info.has(TPM2_ALG_ECC)) {
    check(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_ECC_CURVES, 0,
                             TPM2_MAX_ECC_CURVES, &more, &cap),
          "TPM2_GetCapability(ECC_CURVES)");
    for (UINT32 i = 0; i < cap->data.eccCurves.count; ++i) info.curves.insert(cap->data.eccCurves.eccCurves[i]);
    Esys_Free(cap);
    cap = nullptr;
  }
  check(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_PCRS, 0, TPM2_NUM_PCR_BANKS,
                           &more, &cap),
        "TPM2_GetCapability(PCRS)");
  for (UINT32 i = 0; i < cap->data.assignedPCR.count; ++i) {
    const TPMS_PCR_SELECTION& s = cap->data.assignedPCR.pcrSelections[i];
    bool any = false;
    for (UINT8 b = 0; b < s.sizeofSelect; ++b) any = any || s.pcrSelect[b] != 0;
    if (any) info.pcr_banks.push_back(s.hash);
  }
  Esys_Free(cap);
  if (info.has(TPM2_ALG_RSA))
    for (uint16_t bits : {2048, 3072, 4096})
      if (rsa_size_ok(ctx, bits)) info.rsa_bits.insert(bits);
  return info;
}

std::string manufacturer_name(uint32_t code) {
  static const std::map<std::string, std::string> names = {
      {"IBM", "IBM (software TPM)"}, {"IFX", "Infineon"},  {"INTC", "Intel"},     {"AMD", "AMD"},
      {"STM", "STMicro"},            {"NTC", "Nuvoton"},   {"NTZ", "Nationz"},    {"MSFT", "Microsoft"},
      {"GOOG", "Google"},            {"QCOM", "Qualcomm"}, {"ATML", "Atmel"},     {"BRCM", "Broadcom"},
      {"HPE", "HPE"},                {"LEN", "Lenovo"},    {"ROCC", "Fuzhou Rockchip"}, {"SMSC", "SMSC"},
      {"TXN", "Texas Instruments"},  {"WEC", "Winbond"},   {"SNS", "Sinosun"},    {"CSCO", "Cisco"},
  };
  const std::string chars = trim(chars_of(code));
  auto it = names.find(chars);
  return it != names.end() ? it->second : chars;
}

std::string hash_name(TPMI_ALG_HASH h) {
  switch (h) {
    case TPM2_ALG_SHA1: return "sha1";
    case TPM2_ALG_SHA256: return "sha256";
    case TPM2_ALG_SHA384: return "sha384";
    case TPM2_ALG_SHA512: return "sha512";
    case TPM2_ALG_SM3_256: return "sm3_256";
    case TPM2_ALG_SHA3_256: return "sha3_256";
    case TPM2_ALG_SHA3_384: return "sha3_384";
    case TPM2_ALG_SHA3_512: return "sha3_512";
    default: return "";
  }
}

TPMI_ALG_HASH hash_by_name(const std::string& n) {
  for (TPMI_ALG_HASH h : {TPM2_ALG_SHA1, TPM2_ALG_SHA256, TPM2_ALG_SHA384, TPM2_ALG_SHA512, TPM2_ALG_SM3_256,
                          TPM2_ALG_SHA3_256, TPM2_ALG_SHA3_384, TPM2_ALG_SHA3_512})
    if (hash_name(h) == n) return h;
  return TPM2_ALG_ERROR;
}

std::string firmware_text(const TpmInfo& i) {
  char b[64];
  std::snprintf(b, sizeof b, "%u.%u.%u.%u", i.firmware1 >> 16, i.firmware1 & 0xFFFF, i.firmware2 >> 16,
                i.firmware2 & 0xFFFF);
  return b;
}

std::string spec_text(const TpmInfo& i) {
  char b[64];
  std::snprintf(b, sizeof b, "%s rev %u.%02u", i.family.empty() ? "2.0" : i.family.c_str(), i.spec_revision / 100,
                i.spec_revision % 100);
  return b;
}

std::string lockout_text(const TpmInfo& i) {
  return std::string(i.in_lockout ? "in lockout" : "not in lockout") + ", " + std::to_string(i.lockout_counter) +
         " of " + std::to_string(i.max_auth_fail) + " failures, recovery " + std::to_string(i.lockout_interval) +
         " s";
}

}  // namespace keyseal::tpm
