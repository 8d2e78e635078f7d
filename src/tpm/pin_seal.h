// The token master key behind a PIN, kept by the TPM: a sealed-data object (TPM 2.0 Part 1 section 27.8,
// keyedhash with sensitive data) whose authValue is derived from the PIN and which is DA-protected, so PIN
// guesses meet the TPM's dictionary-attack protection and a stolen database cannot be attacked offline.
// Optionally bound to PCR values with PolicyPCR + PolicyAuthValue (Part 3 sections 23.7 and 23.18).
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

// A record (version, TPM2B_PUBLIC, TPM2B_PRIVATE, PCR values at sealing time) for the token meta table.
SecureBytes seal_secret(Connection::Guard& g, ByteView secret, ByteView auth, const std::string& pcrs);
// Throws CKR_PIN_INCORRECT (auth failure), CKR_PIN_LOCKED (TPM in DA lockout, or one failure away from it:
// the last attempt is never spent, so keyseal cannot lock the TPM for its other users), CKR_FUNCTION_FAILED when the
// PCR policy no longer holds (and logs which bank/PCRs changed), CKR_DEVICE_ERROR for a bad record.
SecureBytes unseal_secret(Connection::Guard& g, ByteView record, ByteView auth, const std::string& pcrs);

}  // namespace keyseal::tpm
