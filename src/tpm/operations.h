// Private-key operations inside the TPM as keyseal::Operation objects (PKCS#11 3.0 current mechanisms
// 2.1.6-2.1.14 RSA PKCS#1 v1.5 / PSS / OAEP / X.509, 2.3.6-2.3.7 ECDSA, 2.3.10 ECDH1 derive; TPM 2.0 Part 3
// sections 20.2 TPM2_Sign, 14.3 TPM2_RSA_Decrypt, 14.5 TPM2_ECDH_ZGen). Once a key is loaded, one signature is
// exactly one TPM command.
#pragma once
#include "common/mechanism_params.h"
#include "common/operation.h"
#include "tpm/connection.h"

#include <memory>

namespace keyseal::tpm {

// Which hash algorithms the TPM itself signs with (the rest is done around its raw RSA).
struct TpmHashes {
  bool sha1 = false, sha256 = false, sha384 = false, sha512 = false, rsapss = false, oaep = false;
  bool has(CK_MECHANISM_TYPE hash) const;
};
TPMI_ALG_HASH tpm_hash(CK_MECHANISM_TYPE hash);  // TPM2_ALG_NULL when the TPM has no such algorithm id

std::unique_ptr<Operation> make_signer(std::shared_ptr<Connection> c, std::shared_ptr<const KeyBlobs> key,
                                       const MechanismParams& m, const TpmHashes& hashes);
std::unique_ptr<Operation> make_decryptor(std::shared_ptr<Connection> c, std::shared_ptr<const KeyBlobs> key,
                                          const MechanismParams& m, const TpmHashes& hashes);
// The raw shared secret (x coordinate) with the peer's point (raw or DER OCTET STRING).
SecureBytes ecdh_zgen(Connection& c, const KeyBlobs& key, ByteView peer_point);

}  // namespace keyseal::tpm
