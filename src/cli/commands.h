// The `keyseal` commands. Each loads the module, does its work through PKCS#11 and returns an exit code;
// failures are thrown (keyseal::Error for PKCS#11, Failure otherwise) and printed by main().
#pragma once
#include "cli/args.h"

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace keyseal::cli {

int run_init(const Options& o, std::ostream& out);    // C_InitToken, C_Login(SO), C_InitPIN
int run_list(const Options& o, std::ostream& out);    // tokens and objects with pkcs11: URIs
int run_status(const Options& o, std::ostream& out);  // module, configuration, slot and token state
int run_import(const Options& o, std::ostream& out);       // key pair + certificate from PKCS#12/PEM
int run_import_cert(const Options& o, std::ostream& out);  // certificate paired with a key by CKA_ID
int run_export(const Options& o, std::ostream& out);       // public key or certificate as PEM
int run_fingerprint(const Options& o, std::ostream& out);  // hardware factors and soft-token bindings
int run_recover(const Options& o, std::ostream& out);      // re-bind a soft token with its recovery code
int run_bind_tpm(const Options& o, std::ostream& out);     // bind a soft token to this machine's TPM
int run_attest(const Options& o, std::ostream& out);       // TPM2_Certify of a token key (cmd_attest.cpp; Linux)
int run_attest_ak(const Options& o, std::ostream& out);    // the TPM attestation key (Linux): show, activate, store
int run_verify_attestation(const Options& o, std::ostream& out);  // check attestation evidence
int run_make_credential(const Options& o, std::ostream& out);     // AK enrolment challenge

// Shared by init, bind-tpm and status (cmd_bind_tpm.cpp): the once-shown recovery code, and the warning for a
// TPM-bound soft token without one.
void print_recovery_code(CK_SLOT_ID slot, const SecureBytes& code, std::ostream& out);
std::string no_recovery_warning(CK_SLOT_ID slot);

// Shared by import, import-cert and export (cmd_import.cpp, cmd_export.cpp).
class Module;
class Session;
// C_FindObjects for one class, optionally with CKA_ID and CKA_LABEL.
std::vector<CK_OBJECT_HANDLE> find_objects(const Module& m, Session& s, CK_OBJECT_CLASS cls,
                                           const std::optional<std::vector<uint8_t>>& id,
                                           const std::optional<std::string>& label);
// DER SubjectPublicKeyInfo of a key object: CKA_PUBLIC_KEY_INFO, else built from its public attributes.
std::optional<std::vector<uint8_t>> public_key_info_of(Session& s, CK_OBJECT_HANDLE key);

}  // namespace keyseal::cli
