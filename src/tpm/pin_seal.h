// The token master key behind a PIN, kept by the TPM: a sealed-data object (TPM 2.0 Part 1 section 27.8,
// keyedhash with sensitive data) whose authValue is derived from the PIN, so a stolen database cannot be
// attacked offline. Wrong PINs are counted by the token's PIN-fail NV index (PolicySecret, Part 3 section
// 23.4; pin_nv.h) or, where the TPM has none to give, by the TPM's dictionary-attack logic. Optionally bound to
// PCR values with PolicyPCR + PolicyAuthValue (Part 3 sections 23.7 and 23.18).
#pragma once
#include "common/secure_bytes.h"
#include "tpm/connection.h"

#include <string>

namespace keyseal::tpm {

// "sha256:0,7" or "sha1:0+sha256:7,16" -> selection; "" -> empty. CKR_ARGUMENTS_BAD on bad syntax or a bank
// the TPM has not allocated (`banks` empty: not checked).
TPML_PCR_SELECTION parse_pcrs(const std::string& spec, const std::vector<TPMI_ALG_HASH>& banks);
std::string pcrs_text(const TPML_PCR_SELECTION& sel);  // canonical form of the above

// authValue of a PIN's sealed object: SHA-256("keyseal/tpm-pin/v1" 0 token-uid 0 role 0 PIN).
SecureBytes pin_auth(std::string_view token_uid, std::string_view role, ByteView pin);

// A record (version, [PIN-fail NV handle], TPM2B_PUBLIC, TPM2B_PRIVATE, PCR values at sealing time) for the
// token meta table. `nv` = 0: version 1, the PIN is the DA-protected object's authValue. `nv` != 0: version 2,
// the object's policy is PolicySecret(that index) [+ PolicyPCR] + PolicyAuthValue (satisfied with
// PolicyPassword), both authValues = `auth`.
SecureBytes seal_secret(Connection::Guard& g, ByteView secret, ByteView auth, const std::string& pcrs,
                        TPM2_HANDLE nv = 0);
TPM2_HANDLE sealed_nv_index(ByteView record);  // 0 for a version 1 record
// Throws CKR_PIN_INCORRECT (auth failure), CKR_PIN_LOCKED (version 2: the index's pinCount reached its limit,
// or the TPM is in DA lockout; version 1: TPM in DA lockout or one failure away from it: the last attempt is
// never spent, so keyseal cannot lock the TPM for its other users), CKR_FUNCTION_FAILED when the PCR policy
// no longer holds (and logs which bank/PCRs changed), CKR_DEVICE_ERROR for a bad record or a replaced index.
SecureBytes unseal_secret(Connection::Guard& g, ByteView record, ByteView auth, const std::string& pcrs);
// Whether a version 1 unseal would be refused without trying (the DA state above).
bool da_refuses(const TpmInfo& da);

}  // namespace keyseal::tpm
